package backend

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
)

func TestConfigLifecycleEveryProvider(t *testing.T) {
	t.Parallel()
	for _, p := range allProviders {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			in := e.demoConfig(p)
			resp := e.mustOK(logical.UpdateOperation, "config/acct", in)
			if resp != nil && len(resp.Warnings) > 0 {
				t.Errorf("unexpected warnings: %v", resp.Warnings)
			}

			read := e.mustOK(logical.ReadOperation, "config/acct", nil)
			e.validate("config/acct", logical.ReadOperation, read)
			for _, secret := range secretFields {
				if _, ok := read.Data[secret]; ok {
					t.Errorf("read returned %s", secret)
				}
			}
			for k, v := range in {
				if slices.Contains(secretFields, k) {
					continue
				}
				if read.Data[k] != v {
					t.Errorf("read %s = %v, want %v", k, read.Data[k], v)
				}
			}
			if read.Data["request_timeout"] != int64(30) || read.Data["verify_connection"] != true {
				t.Errorf("defaults not applied: %v", read.Data)
			}

			list := e.mustOK(logical.ListOperation, "config/", nil)
			if keys := list.Data["keys"].([]string); len(keys) != 1 || keys[0] != "acct" {
				t.Errorf("list = %v", keys)
			}

			// An update names only what changes; the rest is kept.
			e.mustOK(logical.UpdateOperation, "config/acct", map[string]any{"request_timeout": "10s"})
			read = e.mustOK(logical.ReadOperation, "config/acct", nil)
			if read.Data["request_timeout"] != int64(10) || read.Data["token_url"] != in["token_url"] {
				t.Errorf("partial update lost fields: %v", read.Data)
			}

			e.mustDelete("config/acct")
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	in := e.demoConfig("paloalto_saas_security")
	delete(in, "token_url")
	in["verify_connection"] = false
	e.mustOK(logical.UpdateOperation, "config/saas", in)
	read := e.mustOK(logical.ReadOperation, "config/saas", nil)
	if read.Data["token_url"] != "https://api.aperture.paloaltonetworks.com/oauth/token" || read.Data["scope"] != "api_access" {
		t.Errorf("SaaS defaults: %v", read.Data)
	}

	scm := e.demoConfig("paloalto_scm")
	delete(scm, "token_url")
	scm["verify_connection"] = false
	e.mustOK(logical.UpdateOperation, "config/scm", scm)
	read = e.mustOK(logical.ReadOperation, "config/scm", nil)
	if read.Data["token_url"] != "https://auth.apps.paloaltonetworks.com/am/oauth2/access_token" {
		t.Errorf("SCM default token_url: %v", read.Data["token_url"])
	}

	oauth := e.demoConfig("oauth2")
	e.mustOK(logical.UpdateOperation, "config/o", oauth)
	if read := e.mustOK(logical.ReadOperation, "config/o", nil); read.Data["token_endpoint_auth_method"] != "client_secret_basic" {
		t.Errorf("oauth2 default token_endpoint_auth_method: %v", read.Data["token_endpoint_auth_method"])
	}
}

func TestConfigBadInputIsA400NamingTheField(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	scm := e.demoConfig("paloalto_scm")
	// with returns base with one field set, or removed when value is nil.
	with := func(base map[string]any, field string, value any) map[string]any {
		m := maps.Clone(base)
		if value == nil {
			delete(m, field)
		} else {
			m[field] = value
		}
		return m
	}
	cases := map[string]badWrite{
		"unknown field":              {with(scm, "client_secrte", "x"), []string{"client_secrte", "unknown"}},
		"missing provider":           {with(scm, "provider", nil), []string{"provider", "required"}},
		"unsupported provider":       {with(scm, "provider", "okta"), []string{"provider", "okta"}},
		"scope on scm":               {with(scm, "scope", "api_access"), []string{"scope", "paloalto_scm"}},
		"access_key on scm":          {with(scm, "access_key", "AK"), []string{"access_key"}},
		"auth_style on scm":          {with(scm, "auth_style", "basic"), []string{"auth_style"}},
		"tsg_id not digits":          {with(scm, "tsg_id", "12ab"), []string{"tsg_id", "digits"}},
		"tsg_id missing":             {with(scm, "tsg_id", nil), []string{"tsg_id", "required"}},
		"client_secret missing":      {with(scm, "client_secret", nil), []string{"client_secret", "required"}},
		"http to a remote host":      {with(scm, "token_url", "http://auth.example.com/token"), []string{"token_url", "http://"}},
		"ftp token_url":              {with(scm, "token_url", "ftp://127.0.0.1/x"), []string{"token_url", "ftp"}},
		"relative token_url":         {with(scm, "token_url", "/am/oauth2/access_token"), []string{"token_url"}},
		"credentials in token_url":   {with(scm, "token_url", "https://u:p@auth.example.com/t"), []string{"token_url", "credentials"}},
		"invalid PEM":                {with(scm, "ca_cert", "not a certificate"), []string{"ca_cert", "PEM"}},
		"request_timeout too long":   {with(scm, "request_timeout", "10h"), []string{"request_timeout", "range"}},
		"request_timeout not a time": {with(scm, "request_timeout", "soon"), []string{"request_timeout"}},
		"default_token_ttl absurd":   {with(scm, "default_token_ttl", "87600h"), []string{"default_token_ttl", "range"}},
		"negative cooldown":          {with(scm, "auth_failure_cooldown", "-5s"), []string{"auth_failure_cooldown"}},
		"proxy scheme":               {with(scm, "proxy_url", "ftp://proxy:21"), []string{"proxy_url"}},
		"oversized client_id":        {with(scm, "client_id", strings.Repeat("a", 5000)), []string{"client_id", "too long"}},
		"control character in id":    {with(scm, "client_id", "a\nb"), []string{"client_id", "control"}},
		"verify_connection not bool": {with(scm, "verify_connection", "perhaps"), []string{"verify_connection"}},
		"bright_pattern without scope": {
			with(e.demoConfig("bright_pattern"), "scope", nil), []string{"scope", "tenant host"},
		},
		"bright_pattern without token_url": {
			with(e.demoConfig("bright_pattern"), "token_url", nil), []string{"token_url", "required"},
		},
		"oracle with client_id": {with(e.demoConfig("oracle_casb"), "client_id", "x"), []string{"client_id", "oracle_casb"}},
		"oauth2 bad auth_style": {with(e.demoConfig("oauth2"), "auth_style", "digest"), []string{"auth_style", "digest"}},
	}
	e.mustRefuse("config/bad", cases)
}

func TestConfigNameTooLong(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustBadRequest(logical.UpdateOperation, "config/"+strings.Repeat("n", 200), e.demoConfig("paloalto_scm"), "name", "too long")
}

func TestConfigProviderCannotChange(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustOK(logical.UpdateOperation, "config/acct", e.demoConfig("paloalto_scm"))
	e.mustBadRequest(logical.UpdateOperation, "config/acct", map[string]any{"provider": "oauth2"}, "provider", "cannot change")
}

func TestConfigRefusedWriteKeepsTheStoredConfig(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	good := e.demoConfig("paloalto_scm")
	e.mustOK(logical.UpdateOperation, "config/scm", good)
	e.mustOK(logical.UpdateOperation, "roles/wf", map[string]any{"config": "scm"})
	before, _ := e.storage.Get(t.Context(), "config/scm")

	// verify_connection fails: the vendor refuses the new secret.
	msg := e.mustBadRequest(logical.UpdateOperation, "config/scm", map[string]any{"client_secret": "wrong-secret-value"},
		`config "scm"`, "paloalto_scm", "401", "invalid_client")
	if strings.Contains(msg, "wrong-secret-value") {
		t.Errorf("error leaks the secret: %s", msg)
	}
	// Validation fails.
	e.mustBadRequest(logical.UpdateOperation, "config/scm", map[string]any{"tsg_id": "x"}, "tsg_id")
	// Storage fails.
	e.storage.FailPut(true)
	if _, err := e.do(logical.UpdateOperation, "config/scm", map[string]any{"request_timeout": 5}); err == nil {
		t.Error("write with failing storage succeeded")
	}
	e.storage.FailPut(false)

	after, _ := e.storage.Get(t.Context(), "config/scm")
	if string(before.Value) != string(after.Value) {
		t.Errorf("a refused write changed the stored config:\nbefore %s\nafter  %s", before.Value, after.Value)
	}
	resp := e.mustOK(logical.ReadOperation, "creds/wf", nil)
	if _, ok := e.vendor.Check(resp.Data["access_token"].(string)); !ok {
		t.Error("the old config no longer mints valid tokens")
	}
}

func TestConfigVerifyConnectionFalseStoresUnverified(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	in := e.demoConfig("bright_pattern")
	in["client_secret"] = "not-the-secret"
	in["verify_connection"] = false
	e.mustOK(logical.UpdateOperation, "config/bp", in)
	if got := e.vendor.Stats(); got.Requests != 0 {
		t.Errorf("vendor called %d times with verify_connection=false", got.Requests)
	}
}

func TestConfigDeleteInUseIsRefused(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustOK(logical.UpdateOperation, "config/scm", e.demoConfig("paloalto_scm"))
	e.mustOK(logical.UpdateOperation, "roles/a", map[string]any{"config": "scm"})
	e.mustOK(logical.UpdateOperation, "roles/b", map[string]any{"config": "scm"})
	e.mustBadRequest(logical.DeleteOperation, "config/scm", nil, "a, b", "used by")
	if c, _ := readConfigEntry(t.Context(), e.storage, "scm"); c == nil {
		t.Fatal("config deleted despite the refusal")
	}
	e.mustOK(logical.DeleteOperation, "roles/a", nil)
	e.mustOK(logical.DeleteOperation, "roles/b", nil)
	e.mustOK(logical.DeleteOperation, "config/scm", nil)
}

func TestConfigWriteDropsCachedTokens(t *testing.T) {
	t.Parallel()
	e := newSCMEnv(t)
	first := e.mustOK(logical.ReadOperation, "creds/wf", nil).Data["access_token"]
	e.mustOK(logical.UpdateOperation, "config/scm", map[string]any{"request_timeout": "20s"})
	second := e.mustOK(logical.ReadOperation, "creds/wf", nil).Data["access_token"]
	if first == second {
		t.Error("a config write did not drop the cached token")
	}
}

func TestProxyPasswordIsNotReturned(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	in := e.demoConfig("paloalto_scm")
	in["proxy_url"] = "http://user:proxy-pass-123@127.0.0.1:3128"
	in["verify_connection"] = false
	e.mustOK(logical.UpdateOperation, "config/scm", in)
	read := e.mustOK(logical.ReadOperation, "config/scm", nil)
	if got := read.Data["proxy_url"].(string); strings.Contains(got, "proxy-pass-123") || !strings.Contains(got, "user:") {
		t.Errorf("proxy_url on read = %q", got)
	}
}

func TestConfigMissingFieldsAreNamedAtOnce(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	cases := map[string]badWrite{
		"scm without credentials and tsg_id": {
			map[string]any{"provider": "paloalto_scm"},
			[]string{"missing required field(s) for paloalto_scm: client_id, client_secret, tsg_id (the Tenant Service Group id"},
		},
		"oracle_casb without anything": {
			map[string]any{"provider": "oracle_casb"},
			[]string{"missing required field(s) for oracle_casb: token_url, access_key, access_secret"},
		},
		"bright_pattern without scope and secret": {
			map[string]any{"provider": "bright_pattern", "token_url": "https://bp.example.com/configapi/v2/oauth/token", "client_id": "u"}, //nolint:gosec // G101: a made-up test config
			[]string{"for bright_pattern: client_secret (that user's API secret), scope (the tenant host"},
		},
	}
	e.mustRefuse("config/missing", cases)
}

func TestConfigRefusesShortSecrets(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	for _, p := range allProviders {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			in := e.demoConfig(p)
			field := "client_secret"
			if p == "oracle_casb" {
				field = "access_secret"
			}
			in[field] = "x509"
			msg := e.mustBadRequest(logical.UpdateOperation, "config/"+p, in, field, "too short")
			if strings.Contains(msg, "x509") {
				t.Errorf("the message %q quotes the secret", msg)
			}
			in[field] = "x509-but-longer"
			in["verify_connection"] = false
			e.mustOK(logical.UpdateOperation, "config/"+p, in)
		})
	}
}

// TestConfigAndRoleReadsShowDurationsInSeconds checks that every duration a
// read returns is whole seconds (an int64), as Vault's own engines return
// TTLs, so no read mixes "30" with "15m".
func TestConfigAndRoleReadsShowDurationsInSeconds(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	scm := e.demoConfig("paloalto_scm")
	scm["rotation_period"] = "2h"
	e.mustOK(logical.UpdateOperation, "config/scm", scm)
	e.mustOK(logical.UpdateOperation, "roles/r", map[string]any{"config": "scm", "ttl": "10m", "min_ttl": "1m"})
	want := map[string]int64{
		"config/scm.request_timeout": 30, "config/scm.default_token_ttl": 900, "config/scm.auth_failure_cooldown": 30,
		"config/scm.rotation_period": 7200, "config/scm.rotation_window": 0, "roles/r.ttl": 600, "roles/r.min_ttl": 60,
	}
	seen := 0
	for _, path := range []string{"config/scm", "roles/r"} {
		read := e.mustOK(logical.ReadOperation, path, nil)
		for name, f := range e.b.Route(path).Fields {
			if f.Type != framework.TypeDurationSecond || path == "config/scm" && !takenBySCM(name) {
				continue
			}
			seen++
			if got, ok := read.Data[name].(int64); !ok || got != want[path+"."+name] {
				t.Errorf("%s: %s = %#v, want int64(%d)", path, name, read.Data[name], want[path+"."+name])
			}
		}
	}
	if seen != len(want) {
		t.Errorf("checked %d duration fields, want %d", seen, len(want))
	}
}

// takenBySCM reports whether a config field is one a paloalto_scm config
// has: the engine's own, or one of its provider fields.
func takenBySCM(name string) bool {
	d, _ := provider.Describe(provider.PaloAltoSCM)
	_, own := d.Field(name)
	return own || !slices.ContainsFunc(provider.Fields(), func(f provider.Field) bool { return f.Name == name })
}

// TestConfigEntryStorageForm: the provider fields are stored as keys of
// the entry itself, as every earlier version stored them, and read back;
// a field stored under its older name (auth_style) is read under its new
// one, and stored under both so that a rolled-back engine reads it.
func TestConfigEntryStorageForm(t *testing.T) {
	t.Parallel()
	c := &configEntry{Provider: "oauth2", RequestTimeout: 30 * time.Second, Values: provider.Values{
		"client_id": "id", "client_secret": "s3cret-value", "token_endpoint_auth_method": provider.AuthClientSecretPost,
	}}
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"provider": "oauth2", "client_id": "id", "client_secret": "s3cret-value", "request_timeout": float64(30 * time.Second),
		"token_endpoint_auth_method": "client_secret_post", "auth_style": "body",
	} {
		if obj[k] != want {
			t.Errorf("stored %s = %#v, want %#v", k, obj[k], want)
		}
	}
	var back configEntry
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(back.Values, c.Values) || back.RequestTimeout != c.RequestTimeout {
		t.Errorf("read back %+v, want %+v", back, c)
	}
	var old configEntry
	if err := json.Unmarshal([]byte(`{"provider":"oauth2","client_id":"id","auth_style":"body"}`), &old); err != nil {
		t.Fatal(err)
	}
	if got := old.Values["token_endpoint_auth_method"]; got != provider.AuthClientSecretPost {
		t.Errorf("auth_style=body read as %q", got)
	}
	if got := c.readValue(provider.ClientID); got != "id" {
		t.Errorf("readValue(client_id) = %#v", got)
	}
}

// TestHelpNamesEveryProvider checks that the help texts made from the
// provider descriptors list every provider, its fields and its extra
// response fields.
func TestHelpNamesEveryProvider(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	configHelp := e.b.Route("config/x").HelpDescription
	credsHelp := e.b.Route("creds/x").HelpDescription
	schema := e.b.Route("config/x").Fields
	for _, d := range provider.Descriptors() {
		line := regexp.MustCompile(`(?m)^  ` + d.Name + ` +(.*(\n {26}.*)*)`).FindStringSubmatch(configHelp)
		if line == nil {
			t.Errorf("config help has no row for %s:\n%s", d.Name, configHelp)
			continue
		}
		for _, f := range d.Fields {
			if f.Hidden {
				if _, ok := schema[f.Name]; ok || strings.Contains(configHelp, f.Name) {
					t.Errorf("the hidden field %s is in the schema or the help", f.Name)
				}
				continue
			}
			if !strings.Contains(line[1], f.Name) {
				t.Errorf("config help's row for %s lacks %s: %q", d.Name, f.Name, line[1])
			}
			if !strings.Contains(schema[f.Name].Description, d.Name) {
				t.Errorf("the schema of %s does not mention %s: %q", f.Name, d.Name, schema[f.Name].Description)
			}
		}
		for _, f := range d.Extra {
			if !regexp.MustCompile(`(?m)^  ` + f.Name + ` +` + d.Name + `: `).MatchString(credsHelp) {
				t.Errorf("creds help does not list %s of %s:\n%s", f.Name, d.Name, credsHelp)
			}
		}
	}
	if !slices.Equal(anyStrings(schema["provider"].AllowedValues), provider.Names()) {
		t.Errorf("provider's AllowedValues = %v, want %v", schema["provider"].AllowedValues, provider.Names())
	}
}

func anyStrings(values []any) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i], _ = v.(string)
	}
	return out
}
