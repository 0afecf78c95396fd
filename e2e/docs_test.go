//go:build e2e

package e2e

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// TestPathHelp checks that `vault path-help` explains every path of the
// engine: a description of some substance and each documented field.
func TestPathHelp(t *testing.T) {
	t.Parallel()
	p := vaulttest.NewPalo(t, vaulttest.PaloOptions{NoSetups: true})
	v := p.Vault

	root := v.MustCLI(t, "path-help", p.Mount+"/")
	for _, pattern := range []string{"^config/", "/rotate-root$", "^roles/", "^creds/", "^cache$", "^cache/purge$", "^metrics$"} {
		if !strings.Contains(root, pattern) {
			t.Errorf("`vault path-help %s/` lists no %s path:\n%s", p.Mount, pattern, root)
		}
	}

	cases := map[string]struct {
		path   string
		fields []string // parameters the help must document
	}{
		"config": {p.Path("config", "x"), []string{
			"provider", "token_url", "client_id", "client_secret", "access_key", "access_secret", "tsg_id",
			"scope", "auth_style", "ca_cert", "request_timeout", "default_token_ttl", "verify_connection",
			"iam_url", "service_account_id", "rotation_period",
		}},
		"config rotate-root": {p.Path("config", "x", "rotate-root"), []string{"name"}},
		"config list":        {p.Path("config") + "/", nil},
		"roles":              {p.Path("roles", "x"), []string{"config", "scope", "tsg_id", "ttl"}},
		"roles list":         {p.Path("roles") + "/", nil},
		"creds":              {p.Path("creds", "x"), []string{"name"}},
		"cache":              {p.Path("cache"), nil},
		"cache purge":        {p.Path("cache", "purge"), []string{"config", "role"}},
		"metrics":            {p.Path("metrics"), nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := v.MustCLI(t, "path-help", tc.path)
			_, desc, ok := strings.Cut(out, "## DESCRIPTION")
			if !ok || len(strings.TrimSpace(desc)) < 40 {
				t.Fatalf("`vault path-help %s` has no real description:\n%s", tc.path, out)
			}
			for _, f := range tc.fields {
				if !strings.Contains(out, "\n    "+f+" (") {
					t.Errorf("`vault path-help %s` does not document %s:\n%s", tc.path, f, out)
				}
			}
		})
	}
}

// openAPI is the part of an OpenAPI document the test reads.
type openAPI struct {
	Paths map[string]map[string]json.RawMessage `json:"paths"`
	// Components.Schemas holds the request and response bodies, named after
	// the operation ids.
	Components struct {
		Schemas map[string]struct {
			Properties map[string]struct {
				Description  string `json:"description"`
				DisplayAttrs struct {
					Sensitive bool `json:"sensitive"`
				} `json:"x-vault-displayAttrs"`
			} `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

type oasOperation struct {
	OperationID string `json:"operationId"`
	Summary     string `json:"summary"`
	Description string `json:"description"`
}

// TestOpenAPI reads Vault's OpenAPI document and checks that it documents
// every path and operation of the engine, the fields of the API contract,
// and which of them are secret.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	p := vaulttest.NewPalo(t, vaulttest.PaloOptions{NoSetups: true})
	resp, err := p.Vault.Client(t).Logical().ReadRaw("sys/internal/specs/openapi")
	if err != nil {
		t.Fatalf("GET sys/internal/specs/openapi: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPI
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("decode the OpenAPI document: %v", err)
	}

	want := map[string][]string{ // path: its operations
		"/palo/config/{name}":             {"get", "post", "delete"},
		"/palo/config/":                   {"get"},
		"/palo/roles/{name}":              {"get", "post", "delete"},
		"/palo/roles/":                    {"get"},
		"/palo/creds/{name}":              {"get"},
		"/palo/cache":                     {"get"},
		"/palo/cache/purge":               {"post"},
		"/palo/config/{name}/rotate-root": {"post"},
		"/palo/metrics":                   {"get"},
		"/palo/config/{name}/jwks":        {"get"},
		"/palo/jwks/{name}":               {"get"},
	}
	var got []string
	for path := range doc.Paths {
		if strings.HasPrefix(path, "/palo/") {
			got = append(got, path)
		}
	}
	slices.Sort(got)
	for path, ops := range want {
		item, ok := doc.Paths[path]
		if !ok {
			t.Errorf("the OpenAPI document has no %s; it has %v", path, got)
			continue
		}
		var desc string
		if err := json.Unmarshal(item["description"], &desc); err != nil || desc == "" {
			t.Errorf("%s has no description", path)
		}
		for _, op := range ops {
			var o oasOperation
			if raw, ok := item[op]; !ok || json.Unmarshal(raw, &o) != nil || o.OperationID == "" || o.Summary == "" {
				t.Errorf("%s %s is missing, or has no operationId or summary: %s", op, path, item[op])
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("the engine's OpenAPI paths are %v; the test knows %d of them", got, len(want))
	}

	// Bodies: find each operation's schemas by its operation id.
	schema := func(path, op, suffix string) map[string]bool {
		t.Helper()
		var o oasOperation
		if err := json.Unmarshal(doc.Paths[path][op], &o); err != nil {
			t.Fatalf("%s %s: %v", op, path, err)
		}
		name := camel(o.OperationID) + suffix
		s, ok := doc.Components.Schemas[name]
		if !ok {
			t.Fatalf("no schema %s for %s %s", name, op, path)
		}
		sensitive := map[string]bool{}
		for f, prop := range s.Properties {
			if prop.Description == "" {
				t.Errorf("%s.%s has no description", name, f)
			}
			sensitive[f] = prop.DisplayAttrs.Sensitive
		}
		return sensitive
	}
	configWrite := schema("/palo/config/{name}", "post", "Request")
	for _, f := range []string{
		"provider", "token_url", "client_id", "client_secret", "access_key", "access_secret",
		"tsg_id", "scope", "auth_style", "ca_cert", "request_timeout", "default_token_ttl", "verify_connection",
		"iam_url", "service_account_id", "rotation_period",
	} {
		s, ok := configWrite[f]
		if !ok {
			t.Errorf("the config write schema has no %s", f)
		}
		if secret := f == "client_secret" || f == "access_secret"; s != secret {
			t.Errorf("config field %s: sensitive %t, want %t", f, s, secret)
		}
	}
	configRead := schema("/palo/config/{name}", "get", "Response")
	for _, f := range []string{"client_secret", "access_secret"} {
		if _, ok := configRead[f]; ok {
			t.Errorf("the config read schema returns %s", f)
		}
	}
	for _, f := range []string{"last_vault_rotation", "next_vault_rotation", "last_rotation_error", "last_rotation_error_at", "rotation_period"} {
		if _, ok := configRead[f]; !ok {
			t.Errorf("the config read schema has no %s", f)
		}
	}
	rotated := schema("/palo/config/{name}/rotate-root", "post", "Response")
	for _, f := range []string{"last_vault_rotation", "next_vault_rotation", "service_account_id"} {
		if _, ok := rotated[f]; !ok {
			t.Errorf("the rotate-root response schema has no %s", f)
		}
	}
	roleWrite := schema("/palo/roles/{name}", "post", "Request")
	for _, f := range []string{"config", "scope", "tsg_id", "ttl"} {
		if _, ok := roleWrite[f]; !ok {
			t.Errorf("the role write schema has no %s", f)
		}
	}
	creds := schema("/palo/creds/{name}", "get", "Response")
	for _, f := range []string{"access_token", "token_type", "expires_at", "expires_in", "scope", "tenant", "jti", "tenant_id", "tsg_id"} {
		if _, ok := creds[f]; !ok {
			t.Errorf("the creds schema has no %s", f)
		}
	}
	if !creds["access_token"] {
		t.Error("the creds schema does not mark access_token sensitive")
	}
}

// camel turns an operation id such as "palo-write-config" into the schema
// name prefix Vault derives from it, "PaloWriteConfig".
func camel(id string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(id, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// TestReadmeNamesEveryProvider checks the README's reference tables, which
// must name what the descriptors define: a row per provider in the provider
// table and the config table's provider row, every provider field in the
// config table, and every extra response field in the creds table. (Lists
// that can be made from the descriptors are made from them, not checked
// here.)
func TestReadmeNamesEveryProvider(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	names := provider.Names()
	intro, _, _ := strings.Cut(readme, "## Quick start")
	if got := submatches("(?m)^\\| `([a-z0-9_]+)` \\|", intro); !slices.Equal(got, names) {
		t.Errorf("README.md's provider table lists %v; the descriptors are %v", got, names)
	}
	row := regexp.MustCompile("(?m)^\\| `provider` \\|([^\n]*)$").FindStringSubmatch(readme)
	if row == nil {
		t.Fatal("README.md's config table has no provider row")
	}
	if got := submatches("`([a-z0-9_]+)`", row[1]); !slices.Equal(got, names) {
		t.Errorf("README.md's provider row lists %v; the descriptors are %v", got, names)
	}
	for _, d := range provider.Descriptors() {
		for _, f := range d.Fields {
			if f.Hidden {
				continue // stored, but no part of the API
			}
			if !regexp.MustCompile("(?m)^\\| [^\\n]*`" + f.Name + "`[^\\n]*\\|").MatchString(readme) {
				t.Errorf("README.md's config table does not describe %s", f.Name)
			}
		}
		for _, f := range d.Extra {
			if !regexp.MustCompile("(?m)^\\| [^|\\n]*`" + f.Name + "`[^|\\n]*\\| `" + d.Name + "`").MatchString(readme) {
				t.Errorf("README.md's creds table does not describe %s of %s", f.Name, d.Name)
			}
		}
	}
}

// submatches returns the first group of every match of pattern in s,
// sorted and without repeats.
func submatches(pattern, s string) []string {
	var out []string
	for _, m := range regexp.MustCompile(pattern).FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return slices.Compact(out)
}
