package configure

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadDeclProblems(t *testing.T) {
	t.Parallel()
	const scm = `"provider": "paloalto_scm", "client_id": "id", "tsg_id": "1234567890"`
	cases := map[string]struct {
		file string
		want []string // each must be one of the problems, in full
	}{
		"a valid file": {
			`{"configs": {"scm-prod": {` + scm + `, "client_secret_env": "S"}}, "roles": {"wildfire": {"config": "scm-prod"}},
			  "teams": {"secops": {"roles": ["wildfire"], "policy": "secops-tokens"}}}`, nil,
		},
		"secret in the file": {
			`{"configs": {"scm-prod": {` + scm + `, "client_secret": "x"}}}`,
			[]string{`config "scm-prod": client_secret must not be in the file; name an environment variable (client_secret_env) or a file (client_secret_file)`},
		},
		"secret given twice": {
			`{"configs": {"scm-prod": {` + scm + `, "client_secret_env": "S", "client_secret_file": "f"}}}`,
			[]string{`config "scm-prod": client_secret is given more than once (as client_secret, client_secret_env or client_secret_file)`},
		},
		"empty variable name": {
			`{"configs": {"scm-prod": {` + scm + `, "client_secret_env": ""}}}`,
			[]string{`config "scm-prod": client_secret_env must name a variable or file`},
		},
		"proxy password": {
			`{"configs": {"scm-prod": {` + scm + `, "client_secret_env": "S", "proxy_url": "http://u:p@proxy:3128"}}}`,
			[]string{`config "scm-prod": proxy_url carries a password; give it with proxy_url_env or proxy_url_file`},
		},
		"no provider": {
			`{"configs": {"scm-prod": {"client_id": "id", "client_secret_env": "S"}}}`,
			[]string{`config "scm-prod": provider is required`},
		},
		"config not an object": {
			`{"configs": {"scm-prod": 5}}`, []string{`config "scm-prod": must be an object`},
		},
		"role without config": {
			`{"roles": {"wildfire": {"ttl": 5}}}`, []string{`role "wildfire": config is required`},
		},
		"role of a config not in the file": {
			`{"roles": {"wildfire": {"config": "scm-prod"}}}`, []string{`role "wildfire": config "scm-prod" is not in the file`},
		},
		"name a policy path cannot hold": {
			`{"configs": {"scm-prod": {` + scm + `, "client_secret_env": "S"}}, "roles": {"wild*": {"config": "scm-prod"}}}`,
			[]string{`role "wild*": names may use letters, digits, ".", "_" and "-"`},
		},
		"team problems": {
			`{"teams": {"secops": {"roles": [], "policy": "a b", "members": 1}}}`,
			[]string{
				`team "secops": unknown field "members" (fields: roles, policy)`,
				`team "secops": roles must be a non-empty list of role names`,
				`team "secops": policy must be a name`,
			},
		},
		"team with a role not in the file": {
			`{"configs": {"scm-prod": {` + scm + `, "client_secret_env": "S"}}, "roles": {"wildfire": {"config": "scm-prod"}},
			  "teams": {"secops": {"roles": ["wildfire", "ghost"]}}}`,
			[]string{`team "secops": role "ghost" is not in the file`},
		},
		"unknown top-level key": {
			`{"config": {}}`, []string{`unknown top-level key "config" (expected configs, roles, teams)`},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, problems, err := loadDecl(writeFile(t, t.TempDir(), "palo.json", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) != len(tc.want) {
				t.Fatalf("problems %q, want %q", problems, tc.want)
			}
			for _, w := range tc.want {
				found := false
				for _, p := range problems {
					found = found || p == w
				}
				if !found {
					t.Errorf("no problem %q in %q", w, problems)
				}
			}
		})
	}
}

func TestLoadDeclNotAnObject(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, content := range []string{`[1]`, `{"configs":`, `null`} {
		if _, _, err := loadDecl(writeFile(t, dir, "f.json", content)); err == nil || !strings.Contains(err.Error(), "is not a JSON object") {
			t.Errorf("%s: error %v, want \"is not a JSON object\"", content, err)
		}
	}
	if _, _, err := loadDecl(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "no declarative file at") {
		t.Errorf("missing file: error %v", err)
	}
}

// TestResolveConfig covers where values come from. It sets environment
// variables, so it does not run in parallel.
func TestResolveConfig(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "secret", "file-secret-value\n\n")
	writeFile(t, dir, "ca.pem", "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
	writeFile(t, dir, "empty", "\n")
	t.Setenv("CFG_TEST_SECRET", "env-secret-value")
	t.Setenv("CFG_TEST_HOST", "vendor.example")
	t.Setenv("CFG_TEST_DIR", dir)

	cases := map[string]struct {
		config string
		want   map[string]any
		err    string
	}{
		"every source": {
			config: `{"provider": "oauth2", "client_secret_env": "CFG_TEST_SECRET", "ca_cert_file": "ca.pem",
				"client_id_file": "${CFG_TEST_DIR}/secret", "token_url": "https://${CFG_TEST_HOST}/token", "request_timeout": 20}`,
			want: map[string]any{ //nolint:gosec // G101: test values standing in for secrets
				"provider": "oauth2", "client_secret": "env-secret-value",
				"ca_cert":   "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
				"client_id": "file-secret-value", "token_url": "https://vendor.example/token", "request_timeout": json.Number("20"),
			},
		},
		"unset secret variable": {
			config: `{"provider": "oauth2", "client_secret_env": "CFG_TEST_UNSET"}`,
			err:    `config "c": client_secret_env names CFG_TEST_UNSET, which is not set (export it)`,
		},
		"unset variable in a value": {
			config: `{"provider": "oauth2", "token_url": "${CFG_TEST_UNSET}/x"}`,
			err:    `config "c": token_url: ${CFG_TEST_UNSET} is used but CFG_TEST_UNSET is not set`,
		},
		"unreadable file": {
			config: `{"provider": "oauth2", "client_secret_file": "no-such-file"}`,
			err:    `config "c": client_secret_file: cannot read ` + filepath.Join(dir, "no-such-file"),
		},
		"empty secret": {
			config: `{"provider": "oauth2", "client_secret_file": "empty"}`,
			err:    `config "c": client_secret is empty`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d, problems, err := loadDecl(writeFile(t, dir, "palo.json", `{"configs": {"c": `+tc.config+`}}`))
			if err != nil || len(problems) > 0 {
				t.Fatalf("loadDecl: %v %q", err, problems)
			}
			got, err := d.resolveConfig("c")
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(got, tc.want) {
				t.Fatalf("resolved %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTeamPolicy(t *testing.T) {
	t.Parallel()
	got := teamPolicy("secops", Team{Roles: []string{"wildfire", "saas", "wildfire"}}, "palo")
	want := `# Team secops may read the tokens of these roles and nothing else.
# Written by bootstrap/configure.sh (vault-plugin-secrets-palo); edits are overwritten.

path "palo/creds/saas" {
  capabilities = ["read"]
}

path "palo/creds/wildfire" {
  capabilities = ["read"]
}
`
	if got != want {
		t.Fatalf("policy:\n%s\nwant:\n%s", got, want)
	}
}
