package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testclock"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testkit"
)

const jwtClientID = "vault-jwt-client"

// keyEnv is a test env with a private_key_jwt config "jwt" (and role "jr")
// whose public keys the fake vendor knows.
func keyEnv(t *testing.T, extra map[string]any) *testEnv {
	t.Helper()
	e := newTestEnv(t)
	cfg := map[string]any{ //nolint:gosec // G101: field names, not credentials
		"provider": "oauth2", "token_url": e.vendor.TokenURL("oauth2"), "ca_cert": string(e.vendor.CACertPEM()),
		"client_id": jwtClientID, "token_endpoint_auth_method": "private_key_jwt", "scope": "read",
	}
	for k, v := range extra {
		cfg[k] = v
	}
	resp := e.mustOK(logical.UpdateOperation, "config/jwt", cfg)
	if !strings.Contains(strings.Join(resp.Warnings, " "), "new key pair was made") {
		t.Fatalf("the write does not say it made a key: %v", resp.Warnings)
	}
	if err := e.vendor.AddAccount(fakevendor.Account{
		Provider: "oauth2", ClientID: jwtClientID, AuthMethod: fakevendor.AuthMethodPrivateKeyJWT, Scopes: []string{"read"},
		JWKS: e.jwks("jwt"),
	}); err != nil {
		t.Fatal(err)
	}
	e.mustOK(logical.UpdateOperation, "roles/jr", map[string]any{"config": "jwt"})
	return e
}

// jwks is config name's JWKS as the engine serves it.
func (e *testEnv) jwks(name string) jose.JSONWebKeySet {
	e.t.Helper()
	resp := e.mustOK(logical.ReadOperation, "config/"+name+"/jwks", nil)
	e.validate("config/"+name+"/jwks", logical.ReadOperation, resp)
	raw, err := json.Marshal(resp.Data)
	if err != nil {
		e.t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		e.t.Fatalf("the JWKS does not parse: %v", err)
	}
	return set
}

// kids lists the key ids of a JWKS.
func kids(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

// storedKeyD is the private part (d) of config name's signing key as
// stored: what must never appear anywhere else.
func (e *testEnv) storedKeyD(name string) string {
	e.t.Helper()
	c, err := readConfigEntry(context.Background(), e.storage, name)
	if err != nil || c == nil {
		e.t.Fatalf("reading config %s: %v", name, err)
	}
	var k struct {
		D string `json:"d"`
	}
	if err := json.Unmarshal([]byte(c.Values[provider.SigningKey.Name]), &k); err != nil || len(k.D) < 20 {
		e.t.Fatalf("no private key stored: %v", err)
	}
	return k.D
}

func TestPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	for _, keyType := range []string{provider.KeyEC256, provider.KeyRSA2048, provider.KeyEd25519} {
		t.Run(keyType, func(t *testing.T) {
			t.Parallel()
			e := keyEnv(t, map[string]any{
				"key_type": keyType, "audience": "https://api.example.com",
				"resource": "https://api.example.com/a https://api.example.com/b",
			})
			read := e.mustOK(logical.ReadOperation, "config/jwt", nil)
			e.validate("config/jwt", logical.ReadOperation, read)
			set := e.jwks("jwt")
			if len(set.Keys) != 1 || set.Keys[0].KeyID != read.Data["key_id"] || set.Keys[0].Use != "sig" || !set.Keys[0].IsPublic() ||
				len(set.Keys[0].Certificates) != 1 || len(set.Keys[0].CertificateThumbprintSHA256) == 0 {
				t.Fatalf("JWKS %+v does not hold the one public key %v with its certificate", set.Keys, read.Data["key_id"])
			}
			if !strings.HasPrefix(fmt.Sprint(read.Data["certificate"]), "-----BEGIN CERTIFICATE-----") ||
				read.Data["jwks_path"] != "/v1/palo/jwks/jwt" || read.Data["token_endpoint_auth_method"] != "private_key_jwt" {
				t.Errorf("config read: %v", read.Data)
			}
			if _, ok := read.Data["client_secret"]; ok {
				t.Error("the read shows client_secret")
			}
			tok := e.mustOK(logical.ReadOperation, "creds/jr", nil).Data["access_token"].(string)
			info, ok := e.vendor.Check(tok)
			if !ok || info.AuthMethod != fakevendor.AuthMethodPrivateKeyJWT || info.KeyID != read.Data["key_id"] {
				t.Fatalf("token check %+v, %t", info, ok)
			}
			last, _ := e.vendor.LastOAuth2Request(jwtClientID)
			if last.Audience == nil || strings.Join(last.Resources, " ") != "https://api.example.com/a https://api.example.com/b" ||
				last.Assertion.Claims == nil || last.Assertion.Claims.Issuer != jwtClientID || last.Assertion.Claims.Subject != jwtClientID {
				t.Errorf("the token request: %+v", last)
			}
			// The unauthenticated path serves the same JWKS as the bare
			// document.
			if !slicesContain(e.b.PathsSpecial.Unauthenticated, "jwks/*") {
				t.Error("jwks/* is not unauthenticated")
			}
			raw := e.mustOK(logical.ReadOperation, "jwks/jwt", nil)
			if raw.Data[logical.HTTPContentType] != "application/json" || raw.Data[logical.HTTPStatusCode] != http.StatusOK {
				t.Errorf("raw JWKS response %v", raw.Data)
			}
			var bare jose.JSONWebKeySet
			if err := json.Unmarshal(raw.Data[logical.HTTPRawBody].([]byte), &bare); err != nil || fmt.Sprint(kids(bare)) != fmt.Sprint(kids(set)) {
				t.Errorf("the bare JWKS %v differs from %v (%v)", kids(bare), kids(set), err)
			}
			// The private key is nowhere but in storage.
			d := e.storedKeyD("jwt")
			for what, text := range map[string]string{
				"read": fmt.Sprint(read.Data), "jwks": fmt.Sprint(set), "raw": string(raw.Data[logical.HTTPRawBody].([]byte)), "log": e.logs.String(),
			} {
				if strings.Contains(text, d) {
					t.Errorf("the %s holds the private key", what)
				}
			}
		})
	}
}

func slicesContain(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestPrivateKeyJWTInput(t *testing.T) {
	t.Parallel()
	e := keyEnv(t, nil)
	e.mustBadRequest(logical.UpdateOperation, "config/jwt", map[string]any{"client_secret": "a-secret-value"}, "client_secret", "private_key_jwt")
	e.mustBadRequest(logical.UpdateOperation, "config/jwt", map[string]any{"key_type": "dsa"}, "key_type")
	e.mustBadRequest(logical.UpdateOperation, "config/jwt", map[string]any{"resource": "not-absolute"}, "resource", "absolute URI")
	e.mustBadRequest(logical.UpdateOperation, "config/jwt", map[string]any{"signing_key": "{}"}, "signing_key", "unknown")
	if out := e.route(logical.ReadOperation, "config/nothing/jwks", nil); out.resp != nil || out.err != nil {
		t.Errorf("the JWKS of a config that does not exist: %s", out.text())
	}
	basic := e.demoConfig("oauth2")
	e.mustOK(logical.UpdateOperation, "config/basic", basic)
	e.mustBadRequest(logical.ReadOperation, "config/basic/jwks", nil, "does not sign with a key")
	if out := e.route(logical.ReadOperation, "jwks/basic", nil); out.resp != nil || out.err != nil {
		t.Errorf("the bare JWKS of a client_secret config: %s", out.text())
	}
	e.mustBadRequest(logical.UpdateOperation, "config/basic", map[string]any{"key_type": provider.KeyEd25519}, "key_type", "does not apply")
	// Switching a config to private_key_jwt makes its key and drops the
	// secret.
	resp := e.mustOK(logical.UpdateOperation, "config/basic", map[string]any{"token_endpoint_auth_method": "private_key_jwt", "verify_connection": false}) //nolint:gosec // G101: field names, not credentials
	if !strings.Contains(strings.Join(resp.Warnings, " "), "new key pair") {
		t.Errorf("warnings %v", resp.Warnings)
	}
	c, _ := readConfigEntry(context.Background(), e.storage, "basic")
	if c.Values["client_secret"] != "" || c.Values[provider.SigningKey.Name] == "" {
		t.Error("the switch kept the secret or made no key")
	}
}

// A write that changes where a private_key_jwt config's assertions go needs
// no secret: it makes a new key, so that no assertion signed by a key the
// old server knows reaches the new address.
func TestPrivateKeyJWTDestinationChangeMakesANewKey(t *testing.T) {
	t.Parallel()
	e := keyEnv(t, nil)
	before := e.jwks("jwt")
	l := testkit.NewRecorder(t)
	resp := e.mustOK(logical.UpdateOperation, "config/jwt", map[string]any{"token_url": l.URL + "/token"})
	if !strings.Contains(strings.Join(resp.Warnings, " "), "token_url") {
		t.Errorf("warnings %v do not name the moved field", resp.Warnings)
	}
	after := e.jwks("jwt")
	if len(after.Keys) != 1 || after.Keys[0].KeyID == before.Keys[0].KeyID {
		t.Errorf("JWKS after the move %v, before %v: want one new key", kids(after), kids(before))
	}
}

// Key rotation with an overlap: rotate-root publishes the next key and
// keeps signing with the current one until rotation_overlap has passed and
// the server accepts the next key; a second rotate-root makes no other key
// and says why; after the switch the old key leaves the JWKS once its
// tokens are over.
func TestPrivateKeyJWTRotation(t *testing.T) {
	t.Parallel()
	e := keyEnv(t, map[string]any{"rotation_overlap": "1h"})
	clk := testclock.New(time.Now())
	e.b.now = clk.Now
	first := e.jwks("jwt").Keys[0].KeyID

	resp := e.mustOK(logical.UpdateOperation, "config/jwt/rotate-root", nil)
	e.validate("config/jwt/rotate-root", logical.UpdateOperation, resp)
	if resp.Data["rotation_pending"] == "" || !strings.Contains(strings.Join(resp.Warnings, " "), "rotation_overlap") {
		t.Fatalf("rotate-root: %v %v", resp.Data, resp.Warnings)
	}
	set := e.jwks("jwt")
	if len(set.Keys) != 2 || set.Keys[0].KeyID != first {
		t.Fatalf("JWKS during the overlap: %v", kids(set))
	}
	next := set.Keys[1].KeyID
	if e.mustOK(logical.ReadOperation, "config/jwt", nil).Data["rotation_pending"] == "" {
		t.Error("the config read does not show the pending rotation")
	}
	// A second rotate-root makes no other key.
	e.mustOK(logical.UpdateOperation, "config/jwt/rotate-root", nil)
	if got := kids(e.jwks("jwt")); len(got) != 2 || got[1] != next {
		t.Fatalf("a second rotate-root changed the JWKS: %v", got)
	}
	if tok := e.mustOK(logical.ReadOperation, "creds/jr", nil).Data["access_token"].(string); e.kidOf(tok) != first {
		t.Error("the next key signed during the overlap")
	}
	// After the overlap, a server that does not know the next key yet:
	// a failure that keeps it pending.
	clk.Advance(time.Hour)
	out := e.route(logical.UpdateOperation, "config/jwt/rotate-root", nil)
	if out.err == nil || !strings.Contains(out.err.Error(), "does not accept the next key") {
		t.Fatalf("want a refusal of the next key, got %s", out.text())
	}
	if got := kids(e.jwks("jwt")); len(got) != 2 {
		t.Fatalf("the refusal dropped the next key: %v", got)
	}
	// The server learns it: the switch.
	if err := e.vendor.SetJWKS(jwtClientID, e.jwks("jwt")); err != nil {
		t.Fatal(err)
	}
	resp = e.mustOK(logical.UpdateOperation, "config/jwt/rotate-root", nil)
	if resp.Data["key_id"] != next || resp.Data["rotation_pending"] != "" {
		t.Fatalf("the switch: %v", resp.Data)
	}
	e.mustOK(logical.UpdateOperation, "cache/purge", nil)
	e.b.now = time.Now // tokens and leases live on the real clock
	if tok := e.mustOK(logical.ReadOperation, "creds/jr", nil).Data["access_token"].(string); e.kidOf(tok) != next {
		t.Error("the new key does not sign after the switch")
	}
	e.b.now = clk.Now
	if got := kids(e.jwks("jwt")); len(got) != 2 || got[0] != next || got[1] != first {
		t.Errorf("JWKS right after the switch: %v, want the new key and the retired one", got)
	}
	clk.Advance(provider.MaxLifetime + time.Minute)
	if got := kids(e.jwks("jwt")); len(got) != 1 || got[0] != next {
		t.Errorf("JWKS once the old key's tokens are over: %v", got)
	}
}

// kidOf is the kid of the assertion that obtained token at the fake.
func (e *testEnv) kidOf(token string) string {
	info, ok := e.vendor.Check(token)
	if !ok {
		e.t.Fatal("the fake does not know the token")
	}
	return info.KeyID
}

// With rotation_overlap 0 and a server that knows both keys, a rotation
// switches at once; readers reading throughout never fail.
func TestPrivateKeyJWTRotationReadersNeverNotice(t *testing.T) {
	t.Parallel()
	e := keyEnv(t, map[string]any{"rotation_overlap": "0"})
	if err := e.vendor.SetLifetime(fakevendor.ProviderOAuth2, 4*time.Second); err != nil {
		t.Fatal(err)
	}
	e.mustOK(logical.UpdateOperation, "roles/jr", map[string]any{"min_ttl": "3s"})
	readers := testkit.StartReaders(20, 20*time.Millisecond, func() error { return e.readErr("creds/jr") })
	// The server is given the next key as soon as it is published: a
	// fake that refetches the JWKS, as a jwks_uri server does.
	for range 2 {
		rot := e.route(logical.UpdateOperation, "config/jwt/rotate-root", nil)
		if rot.err != nil && !strings.Contains(rot.err.Error(), "does not accept") {
			t.Fatal(rot.text())
		}
		if err := e.vendor.SetJWKS(jwtClientID, e.jwks("jwt")); err != nil {
			t.Fatal(err)
		}
		e.mustOK(logical.UpdateOperation, "config/jwt/rotate-root", nil)
		time.Sleep(time.Second)
	}
	readers.Stop(t, "the rotations")
}

// The schedule rotates private_key_jwt configs too: at rotation_period the
// periodic check begins a rotation, and once the overlap is over and the
// server accepts the key, switches.
func TestPrivateKeyJWTScheduledRotation(t *testing.T) {
	t.Parallel()
	e := keyEnv(t, map[string]any{"rotation_period": "24h", "rotation_overlap": "1h"})
	clk := testclock.New(time.Now())
	e.b.now = clk.Now
	first := e.jwks("jwt").Keys[0].KeyID
	e.tick()
	if len(e.jwks("jwt").Keys) != 1 {
		t.Fatal("a rotation began before it was due")
	}
	clk.Advance(24 * time.Hour)
	e.tick()
	set := e.jwks("jwt")
	if len(set.Keys) != 2 {
		t.Fatalf("the due rotation did not publish a next key: %v", kids(set))
	}
	if err := e.vendor.SetJWKS(jwtClientID, set); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	e.tick()
	if got := e.mustOK(logical.ReadOperation, "config/jwt", nil).Data["key_id"]; got == first || got != set.Keys[1].KeyID {
		t.Errorf("key_id after the overlap = %v; want the next key %s", got, set.Keys[1].KeyID)
	}
}
