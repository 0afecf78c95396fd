//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testkit"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// hydraTokenTTL is the lifetime of the tokens Hydra issues in these tests:
// short, so that a retired key's time in the JWKS passes within a test.
const hydraTokenTTL = 40 * time.Second

// jwtEnv is a real Vault with the plugin and a real OAuth2 server, Ory
// Hydra, with nothing configured.
type jwtEnv struct {
	p *vaulttest.Palo
	h *vaulttest.Hydra
}

func newJWTEnv(t *testing.T) *jwtEnv {
	t.Helper()
	return &jwtEnv{
		p: vaulttest.NewPalo(t, vaulttest.PaloOptions{NoSetups: true}),
		h: vaulttest.StartHydra(t, vaulttest.LoadHydra(t), vaulttest.HydraOptions{Env: []string{"TTL_ACCESS_TOKEN=" + hydraTokenTTL.String()}}),
	}
}

// config writes config name for Hydra with the given fields and returns
// its read.
func (e *jwtEnv) config(t *testing.T, name string, fields ...string) map[string]any {
	t.Helper()
	args := append([]string{"write", e.p.Path("config", name), "provider=oauth2", "token_url=" + e.h.TokenURL, "scope=read"}, fields...)
	e.p.Vault.MustCLI(t, args...)
	e.p.Vault.MustCLI(t, "write", e.p.Path("roles", name), "config="+name)
	return readJSON(t, e.p.Vault, "", e.p.Path("config", name)).Data
}

// jwks is config name's JWKS, as `vault read -format=json` shows it.
func (e *jwtEnv) jwks(t *testing.T, name string) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(readJSON(t, e.p.Vault, "", e.p.Path("config", name, "jwks")).Data)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// kidsOf lists a JWKS's key ids.
func kidsOf(t *testing.T, raw []byte) []string {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatalf("a JWKS does not parse: %v\n%s", err, raw)
	}
	var out []string
	for _, k := range set.Keys {
		if !k.IsPublic() || k.Use != "sig" || k.KeyID == "" || k.Algorithm == "" {
			t.Errorf("a JWKS key is not a public signing key with kid and alg: %+v", k)
		}
		out = append(out, k.KeyID)
	}
	return out
}

// creds reads creds/name and checks the token at Hydra: active, for
// clientID, with the scope, the audience asked for, and an expiry equal to
// the engine's expires_at.
func (e *jwtEnv) creds(t *testing.T, name, clientID, audience string) string {
	t.Helper()
	s := readJSON(t, e.p.Vault, "", e.p.Path("creds", name))
	tok := str(t, s.Data, "access_token")
	in, err := e.h.Introspect(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	expires := rfc3339(t, "expires_at", str(t, s.Data, "expires_at"))
	if !in.Active || in.ClientID != clientID || in.Scope != "read" || (audience != "" && !slices.Contains(in.Aud, audience)) {
		t.Errorf("Hydra's introspection of %s's token: %+v", name, in)
	}
	if d := time.Unix(in.Exp, 0).Sub(expires); d < -2*time.Second || d > 2*time.Second {
		t.Errorf("Hydra says the token expires at %s, the engine said %s", time.Unix(in.Exp, 0).UTC(), expires)
	}
	return tok
}

// TestOAuth2AgainstHydra: every token endpoint authentication method of the
// oauth2 provider against a real OAuth2 server. client_secret_basic and
// client_secret_post with a secret; private_key_jwt with a key made in
// Vault, registered once as a pasted JWKS and once as a jwks_uri that
// Hydra fetches from the engine's unauthenticated path. Every token is
// introspected at Hydra.
func TestOAuth2AgainstHydra(t *testing.T) {
	t.Parallel()
	e := newJWTEnv(t)
	ctx := t.Context()
	const audience = "https://api.example.test"
	secret := "s+/:%-" + strings.Repeat("x", 16)
	for _, method := range []string{"client_secret_basic", "client_secret_post"} {
		if err := e.h.CreateClient(ctx, vaulttest.HydraClient{
			ClientID: method, ClientSecret: secret, TokenEndpointAuthMethod: method, Scope: "read", Audience: []string{audience},
		}); err != nil {
			t.Fatal(err)
		}
		e.config(t, method, "client_id="+method, "client_secret="+secret, "token_endpoint_auth_method="+method, "audience="+audience)
		e.creds(t, method, method, audience)
	}

	// Two roles of one config asking for different audiences each get a
	// token for their own: roles share a token only when they would
	// request the same one.
	audiences := []string{"https://a.example.test", "https://b.example.test"}
	if err := e.h.CreateClient(ctx, vaulttest.HydraClient{
		ClientID: "twoaud", ClientSecret: secret, TokenEndpointAuthMethod: "client_secret_basic", Scope: "read", Audience: audiences,
	}); err != nil {
		t.Fatal(err)
	}
	e.config(t, "twoaud", "client_id=twoaud", "client_secret="+secret)
	var toks []string
	for i, aud := range audiences {
		role := fmt.Sprintf("twoaud-%d", i)
		e.p.Vault.MustCLI(t, "write", e.p.Path("roles", role), "config=twoaud", "audience="+aud)
		toks = append(toks, e.creds(t, role, "twoaud", aud))
		in, err := e.h.Introspect(ctx, toks[i])
		if err != nil {
			t.Fatal(err)
		}
		if other := audiences[1-i]; slices.Contains(in.Aud, other) {
			t.Errorf("creds/%s (audience %s) got a token for %v", role, aud, in.Aud)
		}
	}
	if toks[0] == toks[1] {
		t.Error("two roles asking for different audiences got one token")
	}

	// A key pasted into the registration.
	read := e.config(t, "pasted", "client_id=pasted", "token_endpoint_auth_method=private_key_jwt", "audience="+audience)
	if err := e.h.CreateClient(ctx, vaulttest.HydraClient{ //nolint:gosec // G101: field names, not credentials
		ClientID: "pasted", TokenEndpointAuthMethod: "private_key_jwt", TokenEndpointAuthSigningAlg: "ES256",
		JWKS: e.jwks(t, "pasted"), Scope: "read", Audience: []string{audience},
	}); err != nil {
		t.Fatal(err)
	}
	e.creds(t, "pasted", "pasted", audience)
	if str(t, read, "key_id") == "" || !strings.HasPrefix(str(t, read, "certificate"), "-----BEGIN CERTIFICATE") {
		t.Errorf("the private_key_jwt config read: %v", read)
	}

	// A jwks_uri: the engine's path that needs no Vault token, as the
	// bare document.
	read = e.config(t, "byuri", "client_id=byuri", "token_endpoint_auth_method=private_key_jwt", "key_type=rsa-2048")
	uri := e.p.Vault.Addr + str(t, read, "jwks_path")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		t.Fatal(err)
	}
	status, header, body := roundTrip(t, req)
	if status != http.StatusOK || !strings.HasPrefix(header.Get("Content-Type"), "application/json") ||
		len(kidsOf(t, body)) != 1 || strings.Contains(string(body), `"data"`) {
		t.Fatalf("GET %s without a token: %d %s\n%s", uri, status, header.Get("Content-Type"), body)
	}
	if err := e.h.CreateClient(ctx, vaulttest.HydraClient{ //nolint:gosec // G101: field names, not credentials
		ClientID: "byuri", TokenEndpointAuthMethod: "private_key_jwt", TokenEndpointAuthSigningAlg: "RS256", JWKSURI: uri, Scope: "read",
	}); err != nil {
		t.Fatal(err)
	}
	e.creds(t, "byuri", "byuri", "")
}

// TestPrivateKeyJWTRotationAgainstHydra rotates a private_key_jwt key with
// readers reading throughout: the engine publishes the next key, does not
// switch while Hydra refuses it (a static registration), switches once
// Hydra has it, and drops the old key from the JWKS once the tokens it
// obtained are over. No read fails.
func TestPrivateKeyJWTRotationAgainstHydra(t *testing.T) {
	t.Parallel()
	e := newJWTEnv(t)
	ctx := t.Context()
	e.config(t, "rot", "client_id=rot", "token_endpoint_auth_method=private_key_jwt", "rotation_overlap=0")
	client := vaulttest.HydraClient{ //nolint:gosec // G101: field names, not credentials
		ClientID: "rot", TokenEndpointAuthMethod: "private_key_jwt", TokenEndpointAuthSigningAlg: "ES256", JWKS: e.jwks(t, "rot"), Scope: "read",
	}
	if err := e.h.CreateClient(ctx, client); err != nil {
		t.Fatal(err)
	}
	first := kidsOf(t, e.jwks(t, "rot"))[0]
	e.creds(t, "rot", "rot", "")

	api := e.p.Vault.Client(t)
	readers := testkit.StartReaders(8, 100*time.Millisecond, func() error { return readToken(api, e.p.Path("creds", "rot")) })

	// Hydra knows only the current key: the switch is refused, the next
	// key stays published, the current key keeps signing.
	r := mustFail(t, e.p.Vault, "", 500, "write", "-f", e.p.Path("config", "rot", "rotate-root"))
	if !strings.Contains(r.Stderr, "does not accept the next key") || !strings.Contains(r.Stderr, "could not be found") {
		t.Errorf("the refused switch does not say why:\n%s", r.Stderr)
	}
	kids := kidsOf(t, e.jwks(t, "rot"))
	if len(kids) != 2 || kids[0] != first {
		t.Fatalf("JWKS while the next key is pending: %v", kids)
	}
	if s := readJSON(t, e.p.Vault, "", e.p.Path("config", "rot")); str(t, s.Data, "key_id") != first || str(t, s.Data, "rotation_pending") == "" {
		t.Errorf("config read while pending: %v", s.Data)
	}
	// Hydra is given both keys: the next rotate-root switches, making no
	// other key.
	client.JWKS = e.jwks(t, "rot")
	if err := e.h.UpdateClient(ctx, client); err != nil {
		t.Fatal(err)
	}
	var rotated struct {
		Data map[string]any `json:"data"`
	}
	e.p.Vault.CLIJSON(t, vaulttest.CLIOptions{}, &rotated, "write", "-f", e.p.Path("config", "rot", "rotate-root"))
	if got := str(t, rotated.Data, "key_id"); got != kids[1] {
		t.Fatalf("key_id after the switch = %s, want the published next key %s", got, kids[1])
	}
	e.p.Vault.MustCLI(t, "write", e.p.Path("cache", "purge"), "config=rot")
	time.Sleep(time.Second)
	readers.Stop(t, "the rotation")
	e.creds(t, "rot", "rot", "")
	if got := kidsOf(t, e.jwks(t, "rot")); len(got) != 2 || got[0] != kids[1] || got[1] != first {
		t.Errorf("JWKS right after the switch: %v, want the new key and the retired one", got)
	}
	deadline := time.Now().Add(hydraTokenTTL + 30*time.Second)
	for len(kidsOf(t, e.jwks(t, "rot"))) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the old key is still in the JWKS %s after the switch: %v", hydraTokenTTL+30*time.Second, kidsOf(t, e.jwks(t, "rot")))
		}
		time.Sleep(time.Second)
	}
}

// TestOAuth2ErrorsFromHydra: a key Hydra does not know, an unknown client
// and a refused scope each come back as an error naming the config, Hydra's
// error and error_description, and holding no secret or assertion.
func TestOAuth2ErrorsFromHydra(t *testing.T) {
	t.Parallel()
	e := newJWTEnv(t)
	ctx := t.Context()
	// Registered with another config's key.
	e.config(t, "other", "client_id=other", "token_endpoint_auth_method=private_key_jwt")
	e.config(t, "wrongkey", "client_id=wrongkey", "token_endpoint_auth_method=private_key_jwt")
	if err := e.h.CreateClient(ctx, vaulttest.HydraClient{ //nolint:gosec // G101: field names, not credentials
		ClientID: "wrongkey", TokenEndpointAuthMethod: "private_key_jwt", TokenEndpointAuthSigningAlg: "ES256", JWKS: e.jwks(t, "other"), Scope: "read",
	}); err != nil {
		t.Fatal(err)
	}
	e.config(t, "unknown", "client_id=nobody", "client_secret=a-secret-nobody-has", "verify_connection=false")
	if err := e.h.CreateClient(ctx, vaulttest.HydraClient{
		ClientID: "narrow", ClientSecret: "narrow-client-secret", TokenEndpointAuthMethod: "client_secret_basic", Scope: "write",
	}); err != nil {
		t.Fatal(err)
	}
	e.config(t, "scope", "client_id=narrow", "client_secret=narrow-client-secret", "verify_connection=false")
	for name, want := range map[string][]string{
		"wrongkey": {"HTTP 400", "invalid_request", "could not be found"},
		"unknown":  {"HTTP 401", "invalid_client", "Client authentication failed"},
		"scope":    {"HTTP 400", "invalid_scope", "not allowed to request scope 'read'"},
	} {
		r := mustFail(t, e.p.Vault, "", 500, "read", e.p.Path("creds", name))
		for _, w := range append(want, `config "`+name+`"`, "oauth2 token request failed") {
			if !strings.Contains(r.Stderr, w) {
				t.Errorf("%s: the error does not say %q:\n%s", name, w, r.Stderr)
			}
		}
		for _, s := range []string{"a-secret-nobody-has", "narrow-client-secret", "eyJ"} {
			if strings.Contains(r.Output(), s) {
				t.Errorf("%s: the error holds a secret or an assertion (%q)", name, s)
			}
		}
	}
}
