package testkit

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestSecretForms(t *testing.T) {
	t.Parallel()
	forms := SecretForms("my id", `a+b/c&d<e"f`)
	for _, want := range []string{
		`a+b/c&d<e"f`,                          // as it is
		"a%2Bb%2Fc%26d%3Ce%22f",                // form-escaped
		"a+b%2Fc&d%3Ce%22f",                    // path-escaped
		`a+b/c\u0026d\u003ce\"f`,               // JSON-escaped
		"a+b/c&amp;d&lt;e&#34;f",               // HTML-escaped
		"bXkgaWQ6YStiL2MmZDxlImY=",             // Basic my id:secret
		"bXkraWQ6YSUyQmIlMkZjJTI2ZCUzQ2UlMjJm", // Basic, form-escaped first
		"%61%2b%62%2f%63%26%64%3c%65%22%66",    // every byte, lower-case hex
		`\u0061\u002b\u0062\u002f\u0063\u0026\u0064\u003c\u0065\u0022\u0066`, // every character, JSON
		"YStiL2MmZDxlImY=", // base64
		"YStiL2MmZDxlImY",  // base64, URL alphabet, unpadded
	} {
		if !slices.Contains(forms, want) {
			t.Errorf("Forms lacks %q: %q", want, forms)
		}
	}
	// a&b: as it is (and path-escaped), form-, JSON-, HTML- and
	// hex-escaped, as JSON \u escapes, and in base64 (the same in both
	// alphabets); no Basic header without a client id.
	if f := SecretForms("", "a&b"); len(f) != 7 {
		t.Errorf("without a client id, forms %q of a&b, want 7", f)
	}
	if f := SecretForms("id", ""); f != nil {
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

func TestAssertNoSecret(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-value"
	r := &recorder{TB: t}
	AssertNoSecret(r, "the log", "clean text", SecretForms("id", secret)...)
	if len(r.errs) != 0 {
		t.Fatalf("errors on a clean text: %q", r.errs)
	}
	AssertNoSecret(r, "the log", "before "+secret+" after", append(SecretForms("id", secret), "")...)
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "the log holds a secret") || strings.Contains(r.errs[0], secret) {
		t.Fatalf("errors %q: want one that names the log and not the secret", r.errs)
	}
}
