package backend

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testkit"
)

// The fuzz targets send arbitrary config and role input through the
// framework's routing, as Vault does (the existence check first, then the
// request), to a fresh backend on in-memory storage. They check that no
// input panics, that none is answered with a 5xx unless a vendor failed,
// that a refused write leaves storage as it was, that what is stored is
// valid, and that no secret appears in any response, error or log line.
//
// Their seed corpora live in testdata/fuzz/<FuzzName>/. Run one with, for
// example:
//
//	go test -run='^$' -fuzz='^FuzzConfigWrite$' -fuzztime=20s ./backend/

// secretFields are the config fields that hold a secret.
var secretFields = func() []string {
	var names []string
	for _, f := range provider.Fields() {
		if f.Secret {
			names = append(names, f.Name)
		}
	}
	return names
}()

// newFuzzEnv is one backend for one fuzz input. Unlike newTestEnv it
// shares the fake vendor between inputs: a TLS server per input would be
// too slow.
func newFuzzEnv(t *testing.T, vendor *fakevendor.TestServer) *testEnv {
	t.Helper()
	logs := &testkit.SyncBuffer{}
	b, storage := newTestBackend(t, logs)
	return &testEnv{t: t, b: b, storage: storage, vendor: vendor, logs: logs}
}

// unverified is the demo config of provider p, not verified on write.
func (e *testEnv) unverified(p string) map[string]any {
	c := e.demoConfig(p)
	c["verify_connection"] = false
	return c
}

// fuzzWrite writes data to path as Vault would and checks what every
// write must do: answer no 5xx (show prints the answer in that failure),
// hold none of secrets in the answer or the log, and, when refused, leave
// the storage entry at key as it was. It reports whether the write was
// accepted.
func (e *testEnv) fuzzWrite(path, key string, data map[string]any, show func(string) string, secrets ...string) bool {
	e.t.Helper()
	before := e.stored(key)
	o := e.route(logical.UpdateOperation, path, data)
	if o.status >= 500 {
		e.t.Fatalf("HTTP %d for %s input: %s", o.status, path, show(o.text()))
	}
	assertClean(e.t, "the response", o.text(), secrets...)
	assertClean(e.t, "the log", e.logs.String(), secrets...)
	if o.status < 400 {
		return true
	}
	if after := e.stored(key); !bytes.Equal(before, after) {
		e.t.Fatalf("a refused write (HTTP %d) changed the stored entry %s", o.status, key)
	}
	return false
}

// stored returns the raw storage entry at key, nil if there is none.
func (e *testEnv) stored(key string) []byte {
	entry, err := e.storage.Get(context.Background(), key)
	if err != nil {
		e.t.Fatalf("storage get %s: %v", key, err)
	}
	if entry == nil {
		return nil
	}
	return entry.Value
}

// assertClean fails the test if text holds any of secrets. The message
// says where, not what.
func assertClean(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Fatalf("%s holds a secret (%d bytes, at offset %d)", what, len(s), strings.Index(text, s))
		}
	}
}

// decodeBody decodes a fuzz body as Vault decodes a JSON request body:
// one JSON object, numbers kept as json.Number.
func decodeBody(body []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var data map[string]any
	if err := dec.Decode(&data); err != nil || data == nil {
		return nil, false
	}
	return data, true
}

// plantCanary puts canary inside every string of v, keeping the string's
// first and last characters (so leading or trailing white space and
// control characters still reach validation), and adds it to composite
// values with no string in them. Empty strings stay empty: there is
// nothing in them to leak.
func plantCanary(v any, canary string) any {
	switch x := v.(type) {
	case string:
		if x == "" {
			return x
		}
		mid := len(x) / 2
		return x[:mid] + canary + x[mid:]
	case []any:
		out := make([]any, 0, len(x)+1)
		for _, e := range x {
			out = append(out, plantCanary(e, canary))
		}
		return append(out, canary)
	case map[string]any:
		out := make(map[string]any, len(x)+1)
		for k, e := range x {
			out[k] = plantCanary(e, canary)
		}
		out["canary"] = canary
		return out
	case json.Number:
		// A number would be a secret too; the canary makes it a string
		// that still starts with the digits.
		return string(x) + canary
	default:
		return v
	}
}

// plantProxyCanary puts canary into the password of a proxy_url that has
// one: the password is a secret too, and is never returned.
func plantProxyCanary(data map[string]any, canary string) {
	raw, ok := data["proxy_url"].(string)
	if !ok {
		return
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return
	}
	if pass, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), pass+canary)
		data["proxy_url"] = u.String()
	}
}

// FuzzConfigWrite writes arbitrary input to config/<name>, next to a
// stored config named "existing". With verify, the config is verified
// against the fake vendor (token_url and ca_cert point there); without,
// verify_connection is turned off unless the input gives it a value that
// is not a boolean, so that no input makes the backend call an address it
// names.
func FuzzConfigWrite(f *testing.F) {
	vendor := fakevendor.NewTLSTestServer(f, fakevendor.DemoAccounts()...)
	f.Add("existing", []byte(`{"client_secret": ["a", "b"]}`), false)
	f.Add("new", []byte(`{"provider": "paloalto_scm", "client_id": "id", "client_secret": "a-secret", "tsg_id": "1234567890"}`), true)
	f.Fuzz(func(t *testing.T, name string, body []byte, verify bool) {
		data, ok := decodeBody(body)
		if !ok {
			return
		}
		e := newFuzzEnv(t, vendor)
		if o := e.route(logical.UpdateOperation, "config/existing", e.unverified(inputProvider(data))); o.status != http.StatusNoContent && o.status != http.StatusOK {
			t.Fatalf("seeding config/existing: HTTP %d: %s", o.status, o.text())
		}

		canary := "canary" + rand.Text()
		for _, f := range secretFields {
			if v, ok := data[f]; ok {
				data[f] = plantCanary(v, canary)
			}
		}
		plantProxyCanary(data, canary)
		if verify {
			// Verified against the fake vendor: with a demo account's id
			// the write fetches a token, with any other the vendor
			// refuses it.
			if p := inputProvider(data); fakevendor.TokenPath(p) != "" {
				data["token_url"] = vendor.TokenURL(p)
			}
			data["ca_cert"] = string(vendor.CACertPEM())
			data["verify_connection"] = true
			delete(data, "proxy_url")
		} else if v, given := data["verify_connection"]; !given || isTrue(v) {
			data["verify_connection"] = false
		}

		if !e.fuzzWrite("config/"+name, configStoragePrefix+name, data, func(s string) string { return redactCanary(s, canary) }, canary) {
			return
		}

		// Accepted: what is stored is valid, and reads back without a
		// secret.
		c, err := readConfigEntry(context.Background(), e.storage, name)
		if err != nil || c == nil {
			t.Fatalf("accepted config not stored: %v", err)
		}
		if msg := c.validate(); msg != "" {
			t.Fatalf("stored config is invalid: %s", redactCanary(msg, canary))
		}
		read := e.route(logical.ReadOperation, "config/"+name, nil)
		if read.status != http.StatusOK || read.resp == nil {
			t.Fatalf("reading the config back: HTTP %d", read.status)
		}
		assertClean(t, "the config read", read.text(), canary)
		list := e.route(logical.ListOperation, "config/", nil)
		assertClean(t, "the config list", list.text(), canary)
	})
}

// inputProvider returns the input's provider if it is a string, else a default
// one, for seeding.
func inputProvider(data map[string]any) string {
	if p, ok := data["provider"].(string); ok && fakevendor.TokenPath(p) != "" {
		return p
	}
	return "paloalto_scm"
}

// isTrue reports whether the framework would read v as a true boolean.
func isTrue(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return x == "1" || strings.EqualFold(x, "t") || strings.EqualFold(x, "true")
	case json.Number:
		return x != "0"
	}
	return false
}

// redactCanary hides the canary in a failure message, so that a leak
// found by the fuzzer is reported without repeating it.
func redactCanary(s, canary string) string { return strings.ReplaceAll(s, canary, "<canary>") }

// FuzzRoleWrite writes arbitrary input to roles/<name> on a backend that
// holds a config of every provider (pointing at the fake vendor), then,
// if the role was stored, reads creds for it. A role write never answers
// 5xx; a refused one leaves storage as it was; a stored role is valid for
// its config. A creds read answers 5xx only for a vendor failure (the
// vendor refusing a scope the role asked for, say). No config secret
// appears anywhere.
func FuzzRoleWrite(f *testing.F) {
	vendor := fakevendor.NewTLSTestServer(f, fakevendor.DemoAccounts()...)
	f.Add("wf", []byte(`{"config": "paloalto_scm", "tsg_id": "1234567891", "ttl": "10m"}`))
	f.Add("x", []byte(`{"config": "oauth2", "scope": ["read"], "lease": "false"}`))
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		data, ok := decodeBody(body)
		if !ok {
			return
		}
		e := newFuzzEnv(t, vendor)
		for _, p := range allProviders {
			if o := e.route(logical.UpdateOperation, "config/"+p, e.unverified(p)); o.status >= 300 {
				t.Fatalf("seeding config/%s: HTTP %d: %s", p, o.status, o.text())
			}
		}
		secrets := demoSecrets()

		if !e.fuzzWrite("roles/"+name, roleStoragePrefix+name, data, func(s string) string { return s }, secrets...) {
			return
		}

		r, err := readRoleEntry(context.Background(), e.storage, name)
		if err != nil || r == nil {
			t.Fatalf("accepted role not stored: %v", err)
		}
		c, err := readConfigEntry(context.Background(), e.storage, r.Config)
		if err != nil || c == nil {
			t.Fatalf("stored role names config %q, which does not exist (%v)", r.Config, err)
		}
		if msg := r.validate(c); msg != "" {
			t.Fatalf("stored role is invalid: %s", msg)
		}
		if read := e.route(logical.ReadOperation, "roles/"+name, nil); read.status != http.StatusOK {
			t.Fatalf("reading the role back: HTTP %d: %s", read.status, read.text())
		}

		creds := e.route(logical.ReadOperation, "creds/"+name, nil)
		if creds.status >= 500 && (creds.err == nil || !strings.Contains(creds.err.Error(), "token request failed")) {
			t.Fatalf("HTTP %d for creds of a stored role, not a vendor failure: %s", creds.status, creds.text())
		}
		assertClean(t, "the creds response", creds.text(), secrets...)
		assertClean(t, "the log", e.logs.String(), secrets...)
		if creds.status == http.StatusOK {
			tok, _ := creds.resp.Data["access_token"].(string)
			if _, valid := vendor.Check(tok); !valid {
				t.Fatalf("creds returned a token the vendor does not hold valid")
			}
		}
	})
}
