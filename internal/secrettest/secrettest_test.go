package secrettest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestForms(t *testing.T) {
	t.Parallel()
	forms := Forms("my id", `a+b/c&d<e"f`)
	for _, want := range []string{
		`a+b/c&d<e"f`,                          // as it is
		"a%2Bb%2Fc%26d%3Ce%22f",                // form-escaped
		"a+b%2Fc&d%3Ce%22f",                    // path-escaped
		`a+b/c\u0026d\u003ce\"f`,               // JSON-escaped
		"a+b/c&amp;d&lt;e&#34;f",               // HTML-escaped
		"bXkgaWQ6YStiL2MmZDxlImY=",             // Basic my id:secret
		"bXkraWQ6YSUyQmIlMkZjJTI2ZCUzQ2UlMjJm", // Basic, form-escaped first
	} {
		if !slices.Contains(forms, want) {
			t.Errorf("Forms lacks %q: %q", want, forms)
		}
	}
	if n := len(Forms("", "a&b")); n != 4 {
		t.Errorf("without a client id, %d forms of a&b, want 4 (as it is and escaped for a form, JSON and HTML)", n)
	}
	if f := Forms("", "plain"); len(f) != 1 {
		t.Errorf("forms %q of a secret that no escaping changes, want it once", f)
	}
	if f := Forms("id", ""); f != nil {
		t.Errorf("an empty secret has forms %q", f)
	}
}

// recorder is a testing.TB that records errors instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestAssertNone(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-value"
	r := &recorder{TB: t}
	AssertNone(r, "the log", "clean text", Forms("id", secret)...)
	if len(r.errs) != 0 {
		t.Fatalf("errors on a clean text: %q", r.errs)
	}
	AssertNone(r, "the log", "before "+secret+" after", append(Forms("id", secret), "")...)
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "the log holds a secret") || strings.Contains(r.errs[0], secret) {
		t.Fatalf("errors %q: want one that names the log and not the secret", r.errs)
	}
}
