package demo

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
)

// TestEveryProviderHasAFixture checks that each provider the engine
// describes has fixture names, one demo account at the fake vendor, served
// at the path of its default token URL, and config fields that give every
// field its descriptor requires.
func TestEveryProviderHasAFixture(t *testing.T) {
	t.Parallel()
	for _, d := range provider.Descriptors() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			if _, ok := Names[d.Name]; !ok {
				t.Errorf("no fixture names")
			}
			var accounts []fakevendor.Account
			for _, a := range fakevendor.DemoAccounts() {
				if a.Provider == d.Name {
					accounts = append(accounts, a)
				}
			}
			if len(accounts) != 1 {
				t.Fatalf("%d demo accounts, want 1", len(accounts))
			}
			if d.DefaultTokenURL != "" {
				u, err := url.Parse(d.DefaultTokenURL)
				if err != nil || fakevendor.TokenPath(d.Name) != u.Path {
					t.Errorf("the fake serves it at %q; its default token URL is %s", fakevendor.TokenPath(d.Name), d.DefaultTokenURL)
				}
			}
			fields := Fields(accounts[0], "https://vendor.example/token")
			for _, f := range d.Fields {
				if f.Required && fields[f.Name] == "" {
					t.Errorf("its fields %v give no %s, which the provider requires", fields, f.Name)
				}
			}
		})
	}
}

func TestFieldsOfAnAccount(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		account fakevendor.Account
		want    map[string]string
	}{
		"scm: the first TSG and the service account": {
			fakevendor.Account{Provider: fakevendor.ProviderSCM, ClientID: "id", ClientSecret: "s", TSGIDs: []string{"1", "2"}, ServiceAccountID: "sa"},
			map[string]string{"client_id": "id", "client_secret": "s", "tsg_id": "1", "service_account_id": "sa"},
		},
		"bright pattern: the tenant host as the scope": {
			fakevendor.Account{Provider: fakevendor.ProviderBrightPattern, ClientID: "u", ClientSecret: "s", TenantHost: "t.example"},
			map[string]string{"client_id": "u", "client_secret": "s", "scope": "t.example"},
		},
		"oauth2: the default client authentication left to the engine": {
			fakevendor.Account{Provider: fakevendor.ProviderOAuth2, ClientID: "c", ClientSecret: "s", AuthMethod: fakevendor.AuthMethodBasic},
			map[string]string{"client_id": "c", "client_secret": "s"},
		},
		"saas: the default scope left to the engine": {
			fakevendor.Account{Provider: fakevendor.ProviderSaaSSecurity, ClientID: "c", ClientSecret: "s", Scopes: []string{"api_access"}},
			map[string]string{"client_id": "c", "client_secret": "s"},
		},
		"oracle: the access key pair only": {
			fakevendor.Account{Provider: fakevendor.ProviderOracleCASB, AccessKey: "k", AccessSecret: "s", TenantID: "x"},
			map[string]string{"access_key": "k", "access_secret": "s"},
		},
		"oauth2: the scopes and the client authentication": {
			fakevendor.Account{Provider: fakevendor.ProviderOAuth2, ClientID: "c", ClientSecret: "s", Scopes: []string{"a", "b"}, AuthMethod: fakevendor.AuthMethodPost},
			map[string]string{"client_id": "c", "client_secret": "s", "scope": "a b", "token_endpoint_auth_method": "client_secret_post"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := Fields(tc.account, "https://u")
			tc.want["provider"], tc.want["token_url"] = tc.account.Provider, "https://u"
			if len(got) != len(tc.want) {
				t.Fatalf("fields %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// TestWrite checks the files of the demo: the fake vendor's accounts with
// fresh secrets, each secret in its own private file, and a declarative
// file that names those files and holds no secret.
func TestWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	accounts, err := Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var written []fakevendor.Account
	readJSON(t, filepath.Join(dir, "accounts.json"), &written)
	if len(written) != len(fakevendor.DemoAccounts()) || len(written) != len(accounts) {
		t.Fatalf("accounts.json holds %d accounts, want the %d demo accounts", len(written), len(fakevendor.DemoAccounts()))
	}
	var file struct {
		Configs map[string]map[string]string `json:"configs"`
		Roles   map[string]map[string]string `json:"roles"`
	}
	readJSON(t, filepath.Join(dir, "palo.json"), &file)
	palo, err := os.ReadFile(filepath.Join(dir, "palo.json")) //nolint:gosec // G304: the test's own file
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range written {
		secret := a.ClientSecret + a.AccessSecret
		if !strings.HasPrefix(secret, "demo-") || secret == again[i].ClientSecret+again[i].AccessSecret {
			t.Errorf("%s: secret %q is not a fresh random one", a.Provider, secret)
		}
		names := Names[a.Provider]
		b, err := os.ReadFile(filepath.Join(dir, "secrets", names.Config)) //nolint:gosec // G304: the test's own file
		if err != nil || string(b) != secret {
			t.Errorf("secrets/%s does not hold %s's secret: %v", names.Config, a.Provider, err)
		}
		c := file.Configs[names.Config]
		if c["provider"] != a.Provider || c["ca_cert_file"] != "${FAKEVENDOR_CA_FILE}" ||
			c["token_url"] != "${FAKEVENDOR_URL}"+fakevendor.TokenPath(a.Provider) ||
			c["client_secret_file"]+c["access_secret_file"] != filepath.Join("secrets", names.Config) {
			t.Errorf("config %s = %v", names.Config, c)
		}
		if file.Roles[names.Role]["config"] != names.Config {
			t.Errorf("role %s = %v, want config %s", names.Role, file.Roles[names.Role], names.Config)
		}
		if strings.Contains(string(palo), secret) {
			t.Errorf("palo.json holds %s's secret", a.Provider)
		}
	}
	for _, f := range []string{"accounts.json", "palo.json", filepath.Join("secrets", "scm-prod")} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, want mode 0600", f, err)
		}
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path) //nolint:gosec // G304: the test's own file
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
