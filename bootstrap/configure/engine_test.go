package configure

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/demo"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
)

// testSecret is a secret the engine must never echo.
const testSecret = "s3cr3t-configure-test-value"

func scmConfig(extra map[string]any) map[string]any {
	c := map[string]any{"provider": "paloalto_scm", "client_id": "id", "client_secret": testSecret, "tsg_id": "1234567890"}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func TestJudge(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		configs, roles map[string]map[string]any
		problems       []string // each a prefix of one problem, in order
		check          func(t *testing.T, j *judged)
	}{
		"defaults filled in, values as a read returns them": {
			configs: map[string]map[string]any{"scm-prod": scmConfig(map[string]any{"request_timeout": "20s", "verify_connection": "true"})},
			roles: map[string]map[string]any{
				"wildfire": {"config": "scm-prod"},
				"short":    {"config": "scm-prod", "ttl": "10m", "min_ttl": json.Number("300"), "lease": "false"},
			},
			check: func(t *testing.T, j *judged) {
				t.Helper()
				c := j.configs["scm-prod"]
				if !sameJSON(c["request_timeout"], 20) || c["verify_connection"] != true || c["tsg_id"] != "1234567890" {
					t.Errorf("config read %v: want request_timeout 20, verify_connection true, tsg_id 1234567890", c)
				}
				if _, has := c["client_secret"]; has {
					t.Error("the config read returned its secret")
				}
				if w := j.roles["wildfire"]; !sameJSON(w["ttl"], 0) || w["lease"] != true || w["config"] != "scm-prod" {
					t.Errorf("role wildfire %v: want the engine's defaults", w)
				}
				if s := j.roles["short"]; !sameJSON(s["ttl"], 600) || !sameJSON(s["min_ttl"], 300) || s["lease"] != false {
					t.Errorf("role short %v: want ttl 600, min_ttl 300, lease false", s)
				}
			},
		},
		"a misspelt config field": {
			configs:  map[string]map[string]any{"scm-prod": scmConfig(map[string]any{"request_timout": "20s"})},
			problems: []string{`config "scm-prod": unknown field(s): request_timout; this path takes: `},
		},
		"a field the provider does not take": {
			configs:  map[string]map[string]any{"scm-prod": scmConfig(map[string]any{"scope": "x"})},
			problems: []string{`config "scm-prod": scope`},
		},
		"a field out of range": {
			configs:  map[string]map[string]any{"scm-prod": scmConfig(map[string]any{"request_timeout": "9h"})},
			problems: []string{`config "scm-prod": request_timeout`},
		},
		"verify_connection not a boolean": {
			configs:  map[string]map[string]any{"scm-prod": scmConfig(map[string]any{"verify_connection": "maybe"})},
			problems: []string{`config "scm-prod": verify_connection: maybe is not true or false`},
		},
		"role problems, each named": {
			configs: map[string]map[string]any{"scm-prod": scmConfig(nil)},
			roles: map[string]map[string]any{
				"a": {"config": "scm-prod", "max_ttl": 5},
				"b": {"config": "scm-prod", "ttl": "ten minutes"},
			},
			problems: []string{`role "a": unknown field(s): max_ttl`, `role "b": `},
		},
		"the role of a refused config is not judged": {
			configs:  map[string]map[string]any{"scm-prod": scmConfig(map[string]any{"scopes": "x"})},
			roles:    map[string]map[string]any{"wildfire": {"config": "scm-prod", "max_ttl": 5}},
			problems: []string{`config "scm-prod": unknown field(s): scopes`},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			j, problems, err := judge(context.Background(), tc.configs, tc.roles)
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) != len(tc.problems) {
				t.Fatalf("problems %q, want %d starting %q", problems, len(tc.problems), tc.problems)
			}
			for i, p := range problems {
				if !strings.HasPrefix(p, tc.problems[i]) {
					t.Errorf("problem %q, want it to start %q", p, tc.problems[i])
				}
				if strings.Contains(p, testSecret) {
					t.Errorf("problem %q quotes the secret", p)
				}
			}
			if tc.check != nil {
				tc.check(t, j)
			}
		})
	}
}

// TestDemoFile checks that the declarative file of the demo (package demo,
// what `make dev` and `make demo` give this program) resolves and that the
// engine takes every config and role of it. It sets environment variables,
// so it does not run in parallel.
func TestDemoFile(t *testing.T) {
	dir := t.TempDir()
	accounts, err := demo.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	tlsBundle, err := fakevendor.GenerateTLS()
	if err != nil {
		t.Fatal(err)
	}
	ca := writeFile(t, dir, "ca.pem", string(tlsBundle.CACertPEM))
	t.Setenv(demo.URLVar, "https://127.0.0.1:1")
	t.Setenv(demo.CAFileVar, ca)
	objs, want, err := loadFile(context.Background(), filepath.Join(dir, "palo.json"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.configs) != len(accounts) || len(want.roles) != len(accounts) {
		t.Fatalf("the engine took %d configs and %d roles, want %d of each", len(want.configs), len(want.roles), len(accounts))
	}
	for _, a := range accounts {
		names := demo.Names[a.Provider]
		got := objs.Configs[names.Config]
		clientSecret, _ := got["client_secret"].(string)
		accessSecret, _ := got["access_secret"].(string)
		if clientSecret != a.ClientSecret || accessSecret != a.AccessSecret {
			t.Errorf("config %s: its secret was not read from its file", names.Config)
		}
		if got["token_url"] != "https://127.0.0.1:1"+fakevendor.TokenPath(a.Provider) {
			t.Errorf("config %s: token_url %v", names.Config, got["token_url"])
		}
	}
}
