// Package demo derives the demo's fixtures, one config and one role per
// provider, from the provider descriptors (backend/provider) and the fake
// vendor's accounts (internal/fakevendor), in one place: the names, each
// config's fields, and the declarative file that palo-configure writes into
// the Vault of `make demo` and `make dev`. The test harness
// (internal/vaulttest), the engine's tests and the scripts (through the
// palo-demo command) all take them from here.
package demo

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
)

// Names are the config and role names of each provider's fixture, as the
// tests, the demo and the docs use them.
var Names = map[string]struct{ Config, Role string }{
	fakevendor.ProviderSaaSSecurity:  {"saas-prod", "saas"},
	fakevendor.ProviderSCM:           {"scm-prod", "wildfire"},
	fakevendor.ProviderOracleCASB:    {"casb-prod", "casb"},
	fakevendor.ProviderBrightPattern: {"brightpattern-prod", "brightpattern"},
	fakevendor.ProviderOAuth2:        {"oauth2-prod", "oauth2"},
}

// Fields are the engine's config fields that log into the fake vendor
// account a at tokenURL, secrets included: provider, token_url, and every
// field of the provider's descriptor for which the account has a value
// other than the field's default (which the engine fills in).
func Fields(a fakevendor.Account, tokenURL string) map[string]string {
	out := map[string]string{"provider": a.Provider, "token_url": tokenURL}
	for _, d := range provider.Descriptors() {
		if d.Name != a.Provider {
			continue
		}
		for _, f := range d.Fields {
			if v := accountValue(a, f.Name); v != "" && v != f.Default {
				out[f.Name] = v
			}
		}
	}
	return out
}

// accountValue is the value of the config field name that account a
// expects: its credentials, its first TSG, the tenant host a Bright Pattern
// client sends as its scope or else the scopes it may ask for, and the
// client authentication it insists on.
func accountValue(a fakevendor.Account, name string) string {
	switch name {
	case "client_id":
		return a.ClientID
	case "client_secret":
		return a.ClientSecret
	case "access_key":
		return a.AccessKey
	case "access_secret":
		return a.AccessSecret
	case "service_account_id":
		return a.ServiceAccountID
	case "tsg_id":
		if len(a.TSGIDs) > 0 {
			return a.TSGIDs[0]
		}
	case "scope":
		if a.TenantHost != "" {
			return a.TenantHost
		}
		return strings.Join(a.Scopes, " ")
	case "token_endpoint_auth_method":
		return a.AuthMethod
	}
	return ""
}

// Secrets are the secrets of accounts, for leak checks.
func Secrets(accounts []fakevendor.Account) []string {
	var out []string
	for _, a := range accounts {
		for _, s := range []string{a.ClientSecret, a.AccessSecret} {
			if s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// Environment variables the declarative file of Write refers to, which the
// run of palo-configure sets once the fake vendor listens.
const (
	URLVar    = "FAKEVENDOR_URL"
	CAFileVar = "FAKEVENDOR_CA_FILE"
)

// File is the declarative file (bootstrap/README.md) of the accounts: one
// config and one role per account, under Names. Each config logs in at
// ${FAKEVENDOR_URL} plus its provider's token path, trusts the CA in
// ${FAKEVENDOR_CA_FILE}, and reads its secret from secrets/<config> beside
// the file.
func File(accounts []fakevendor.Account) (map[string]any, error) {
	configs, roles := map[string]any{}, map[string]any{}
	for _, a := range accounts {
		names, ok := Names[a.Provider]
		if !ok {
			return nil, fmt.Errorf("demo: no fixture names for provider %q", a.Provider)
		}
		c := map[string]any{"ca_cert_file": "${" + CAFileVar + "}"}
		for k, v := range Fields(a, "${"+URLVar+"}"+fakevendor.TokenPath(a.Provider)) {
			if secretField(k) {
				c[k+"_file"] = filepath.Join("secrets", names.Config)
			} else {
				c[k] = v
			}
		}
		configs[names.Config] = c
		roles[names.Role] = map[string]any{"config": names.Config}
	}
	return map[string]any{"configs": configs, "roles": roles}, nil
}

// secretField reports whether the providers' descriptors mark the config
// field name as a secret.
func secretField(name string) bool {
	for _, d := range provider.Descriptors() {
		for _, f := range d.Fields {
			if f.Name == name {
				return f.Secret && !f.Hidden
			}
		}
	}
	return false
}

// Write writes, into the private folder dir, the demo accounts with
// random secrets as the fake vendor reads them (accounts.json, for its
// -accounts flag), each secret in secrets/<config>, and their declarative
// file (palo.json, see File). It returns the accounts.
func Write(dir string) ([]fakevendor.Account, error) {
	accounts := fakevendor.DemoAccounts()
	for i := range accounts {
		a := &accounts[i]
		secret := "demo-" + rand.Text()
		if a.AccessSecret != "" {
			a.AccessSecret = secret
		} else {
			a.ClientSecret = secret
		}
	}
	file, err := File(accounts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o700); err != nil {
		return nil, err
	}
	for _, a := range accounts {
		secret := a.ClientSecret + a.AccessSecret // one of them is empty
		if err := os.WriteFile(filepath.Join(dir, "secrets", Names[a.Provider].Config), []byte(secret), 0o600); err != nil {
			return nil, err
		}
	}
	// The accounts file holds the secrets, as the fake vendor reads them;
	// like the secret files, it is private (0600).
	for name, v := range map[string]any{"accounts.json": accounts, "palo.json": file} {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o600); err != nil {
			return nil, err
		}
	}
	return accounts, nil
}
