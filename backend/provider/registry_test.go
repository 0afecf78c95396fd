package provider

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
)

func TestDescriptors(t *testing.T) {
	t.Parallel()
	for _, d := range Descriptors() {
		if d.Protocol == nil {
			t.Errorf("%s has no Protocol", d.Name)
		}
		if d.Vendor == "" || d.TokenURLHint == "" {
			t.Errorf("%s: Vendor or TokenURLHint is empty", d.Name)
		}
		if d.DefaultTokenURL != "" {
			if err := CheckTokenURL(d.DefaultTokenURL); err != nil {
				t.Errorf("%s: default token URL: %v", d.Name, err)
			}
		}
		secrets := 0
		for _, f := range d.Fields {
			if f.Secret && !f.Hidden {
				secrets++
			}
			if f.Required && f.Default != "" {
				t.Errorf("%s: %s is both required and defaulted", d.Name, f.Name)
			}
			if f.Default != "" {
				if err := f.Validate(f.Default); err != nil {
					t.Errorf("%s: default of %s: %v", d.Name, f.Name, err)
				}
				if _, err := time.ParseDuration(f.Default); f.Duration && err != nil {
					t.Errorf("%s: default of %s is not a duration: %v", d.Name, f.Name, err)
				}
			}
		}
		if secrets != 1 {
			t.Errorf("%s takes %d secret fields; the bootstrap module assumes exactly one", d.Name, secrets)
		}
	}
}

// protocolOf is the protocol of the named provider, nil if unknown.
func protocolOf(name string) Protocol {
	d, _ := Describe(name)
	return d.Protocol
}

// secretField is the one secret field of a provider.
func secretField(t *testing.T, d Descriptor) string {
	t.Helper()
	for _, f := range d.Fields {
		if f.Secret {
			return f.Name
		}
	}
	t.Fatalf("%s has no secret field", d.Name)
	return ""
}

// repoFile reads a file of the repository by its path from the root.
func repoFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(path)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// submatches returns the first group of every match of re in s, sorted and
// without repeats.
func submatches(re *regexp.Regexp, s string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// TestProviderListsAgree checks every list of providers kept outside this
// package against the descriptors: the fake vendor, the demo and dev setup,
// the Terraform module and the README.
func TestProviderListsAgree(t *testing.T) {
	t.Parallel()
	names := Names()
	check := func(where string, got []string) {
		t.Helper()
		if !slices.Equal(got, names) {
			t.Errorf("%s lists providers %v; the descriptors are %v", where, got, names)
		}
	}

	fake := fakevendor.Providers()
	sort.Strings(fake)
	check("fakevendor.Providers()", fake)
	for _, d := range Descriptors() {
		if d.DefaultTokenURL == "" {
			continue
		}
		u, _ := url.Parse(d.DefaultTokenURL)
		if got := fakevendor.TokenPath(d.Name); got != u.Path {
			t.Errorf("the fake serves %s at %s; its default token URL has the path %s", d.Name, got, u.Path)
		}
	}

	lib := repoFile(t, "scripts/lib.sh")
	check("scripts/lib.sh's header", submatches(regexp.MustCompile(`(?m)^#   ([a-z0-9_]+) +[a-z0-9-]+-prod `), lib))
	check("scripts/lib.sh's fake vendor accounts", submatches(regexp.MustCompile(`\{"provider": "([a-z0-9_]+)"`), lib))
	check("scripts/lib.sh's configs", submatches(regexp.MustCompile(`provider=([a-z0-9_]+)`), lib))
	for _, d := range Descriptors() {
		write := regexp.MustCompile(`provider=` + d.Name + ` (?:[^\n]*\\\n)*?[^\n]*\b` + secretField(t, d) + `=@`)
		if !write.MatchString(lib) {
			t.Errorf("scripts/lib.sh does not write %s's %s from a file", d.Name, secretField(t, d))
		}
	}

	variables := repoFile(t, "bootstrap/terraform/variables.tf")
	allowed := regexp.MustCompile(`contains\(\[([^\]]*)\], c\.provider\)`).FindStringSubmatch(variables)
	if allowed == nil {
		t.Fatal("bootstrap/terraform/variables.tf: the provider validation is not found")
	}
	check("bootstrap/terraform/variables.tf", submatches(regexp.MustCompile(`"([a-z0-9_]+)"`), allowed[1]))
	message := regexp.MustCompile(`error_message = "Each config's provider must be ([^"]*)\."`).FindStringSubmatch(variables)
	if message == nil {
		t.Fatal("bootstrap/terraform/variables.tf: the provider validation's message is not found")
	}
	check("bootstrap/terraform/variables.tf's message", submatches(regexp.MustCompile(`([a-z0-9_]+_[a-z0-9_]+|oauth2)`), message[1]))
	for _, f := range Fields() {
		declared := regexp.MustCompile(`(?m)^\s+` + f.Name + `\s+= optional\(string\)`).MatchString(variables)
		if declared == f.Secret {
			t.Errorf("bootstrap/terraform/variables.tf: configs declares %s: %v; want %v (secrets go in config_secrets)", f.Name, declared, !f.Secret)
		}
	}
	main := repoFile(t, "bootstrap/terraform/main.tf")
	secretMap := regexp.MustCompile(`(?m)^\s+([a-z0-9_]+)\s+= "([a-z_]+)"$`).FindAllStringSubmatch(main, -1)
	got := map[string]string{}
	for _, m := range secretMap {
		got[m[1]] = m[2]
	}
	for _, d := range Descriptors() {
		if got[d.Name] != secretField(t, d) {
			t.Errorf("bootstrap/terraform/main.tf: secret_field of %s is %q, want %q", d.Name, got[d.Name], secretField(t, d))
		}
	}

	readme := repoFile(t, "README.md")
	intro, _, _ := strings.Cut(readme, "## Quick start")
	check("README.md's provider table", submatches(regexp.MustCompile("(?m)^\\| `([a-z0-9_]+)` \\|"), intro))
	providerRow := regexp.MustCompile("(?m)^\\| `provider` \\|([^\n]*)$").FindStringSubmatch(readme)
	if providerRow == nil {
		t.Fatal("README.md's config table has no provider row")
	}
	check("README.md's provider row", submatches(regexp.MustCompile("`([a-z0-9_]+)`"), providerRow[1]))
	for _, f := range Fields() {
		if !regexp.MustCompile("(?m)^\\| [^\\n]*`" + f.Name + "`[^\\n]*\\|").MatchString(readme) {
			t.Errorf("README.md's config table does not describe %s", f.Name)
		}
	}
	for _, d := range Descriptors() {
		for _, f := range d.Extra {
			if !regexp.MustCompile("(?m)^\\| [^|\\n]*`" + f.Name + "`[^|\\n]*\\| `" + d.Name + "`").MatchString(readme) {
				t.Errorf("README.md's creds table does not describe %s of %s", f.Name, d.Name)
			}
		}
	}
}
