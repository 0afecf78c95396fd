package fakevendor

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testkit"
)

// testKey is a client key pair for private_key_jwt tests.
type testKey struct {
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

// testKeys holds one key per algorithm, made once: RSA keys are slow to
// make.
var testKeys = sync.OnceValue(func() map[jose.SignatureAlgorithm]testKey {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	return map[jose.SignatureAlgorithm]testKey{
		jose.ES256: {jose.ES256, ec}, jose.RS256: {jose.RS256, rs}, jose.PS256: {jose.PS256, rs}, jose.EdDSA: {jose.EdDSA, ed},
	}
})

func keyOf(alg jose.SignatureAlgorithm) testKey { return testKeys()[alg] }

func ptr[T any](v T) *T { return &v }

// jwk is the public key as a JWK with kid.
func (k testKey) jwk(kid string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: kid, Use: "sig"}
}

// sign returns a compact JWS of claims with kid in the header (none if
// empty).
func (k testKey) sign(t testing.TB, kid string, claims map[string]any) string {
	t.Helper()
	return testkit.SignJWT(t, k.alg, k.priv, kid, claims)
}

// jwtClient is a private_key_jwt account with the ES256 key as kid k1.
func jwtClient(keys ...jose.JSONWebKey) Account {
	if len(keys) == 0 {
		keys = []jose.JSONWebKey{keyOf(jose.ES256).jwk("k1")}
	}
	return Account{
		Provider: ProviderOAuth2, ClientID: "jwt-client", AuthMethod: AuthMethodPrivateKeyJWT,
		JWKS: jose.JSONWebKeySet{Keys: keys}, Scopes: []string{"read"},
	}
}

// claimsAt are valid claims of client for ts's token endpoint at now.
func claimsAt(ts *TestServer, client string, now time.Time) map[string]any {
	return map[string]any{
		"iss": client, "sub": client, "aud": ts.TokenURL(ProviderOAuth2), "jti": rand.Text(),
		"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
	}
}

// assertionReq is a private_key_jwt token request carrying assertion.
func assertionReq(assertion string, extra ...string) req {
	return req{
		path: "/oauth2/token", contentType: formType,
		body: form(append([]string{
			"grant_type", "client_credentials", "client_assertion_type", jwtBearer, "client_assertion", assertion,
		}, extra...)...),
	}
}

// jwtServer serves a test clock, the demo accounts and the accounts given.
func jwtServer(t *testing.T, accounts ...Account) (*TestServer, time.Time) {
	t.Helper()
	ts, clk := newDemoServer(t)
	for _, a := range accounts {
		if err := ts.AddAccount(a); err != nil {
			t.Fatal(err)
		}
	}
	return ts, clk.Now()
}

func TestPrivateKeyJWTSuccess(t *testing.T) {
	t.Parallel()
	for _, alg := range assertionAlgs {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			key := keyOf(alg)
			pub := key.jwk("key-" + string(alg))
			pub.Algorithm = string(alg)
			ts, now := jwtServer(t, jwtClient(keyOf(jose.ES256).jwk("other"), pub))
			claims := claimsAt(ts, "jwt-client", now)
			claims["aud"] = []string{"https://someone.else/", ts.TokenURL(ProviderOAuth2)}
			res := do(t, ts, assertionReq(key.sign(t, pub.KeyID, claims), "client_id", "jwt-client", "scope", "read",
				"audience", "https://api.example/", "resource", "https://a.example/x", "resource", "urn:example:b"))
			if res.status != http.StatusOK || res.str("scope") != "read" {
				t.Fatalf("status %d, body %s", res.status, res.raw)
			}
			info, ok := ts.Check(tokenOf(res))
			if !ok || info.AuthMethod != AuthMethodPrivateKeyJWT || info.KeyID != pub.KeyID || info.Account != "jwt-client" ||
				strings.Join(info.Audience, ",") != "https://api.example/" ||
				strings.Join(info.Resources, ",") != "https://a.example/x,urn:example:b" {
				t.Errorf("Check = %+v, %t", info, ok)
			}
			last, ok := ts.LastOAuth2Request("jwt-client")
			if !ok || last.Status != 200 || last.Error != "" || last.Scope != "read" || last.Assertion == nil ||
				last.Assertion.Alg != string(alg) || last.Assertion.KeyID != pub.KeyID || last.Assertion.Claims == nil ||
				last.Assertion.Claims.ID != claims["jti"] || len(last.Resources) != 2 || last.AuthMethod != AuthMethodPrivateKeyJWT {
				t.Errorf("LastOAuth2Request = %+v", last)
			}
			if st := ts.Stats(); st.ByAccount["jwt-client"].Successes != 1 {
				t.Errorf("stats by account = %v", st.ByAccount)
			}
		})
	}
}

func TestPrivateKeyJWTRefusals(t *testing.T) {
	t.Parallel()
	es := keyOf(jose.ES256)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, tc := range map[string]struct {
		claims  func(c map[string]any, now time.Time)
		request func(r *req, assertion string) // replaces the request
		kid     string                         // k1 if empty
		signer  *testKey
		faults  Faults
		account func(a *Account)
		status  int // 401 if 0
		code    string
		desc    string
	}{
		"wrong assertion type": {request: func(r *req, a string) {
			r.body = form("grant_type", "client_credentials", "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", "client_assertion", a)
		}, desc: "client_assertion_type must be"},
		"no assertion": {request: func(r *req, _ string) {
			r.body = form("grant_type", "client_credentials", "client_assertion_type", jwtBearer)
		}, desc: "not a compact JWS"},
		"no assertion type": {request: func(r *req, a string) {
			r.body = form("grant_type", "client_credentials", "client_assertion", a)
		}, desc: "client_assertion_type must be"},
		"JSON serialization": {request: func(r *req, a string) {
			sig, _ := jose.ParseSignedCompact(a, assertionAlgs)
			*r = assertionReq(sig.FullSerialize())
		}, desc: "not a compact JWS"},
		"HS256": {request: func(r *req, a string) {
			signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(strings.Repeat("k", 32))},
				(&jose.SignerOptions{}).WithHeader("kid", "k1"))
			jws, _ := signer.Sign([]byte(`{"iss":"jwt-client"}`))
			s, _ := jws.CompactSerialize()
			*r = assertionReq(s)
		}, desc: "not a compact JWS"},
		"alg none": {request: func(r *req, a string) {
			*r = assertionReq("eyJhbGciOiJub25lIiwia2lkIjoiazEifQ." + strings.Split(a, ".")[1] + ".")
		}, desc: "not a compact JWS"},
		"no kid":                  {kid: "-", desc: "no kid"},
		"unknown kid":             {kid: "k9", desc: "No key registered"},
		"kid refused by a fault":  {faults: Faults{RefuseKIDs: []string{"k1"}}, desc: "No key registered"},
		"signed with another key": {signer: ptr(testKey{jose.ES256, other}), desc: "signature does not verify"},
		"key pinned to another alg": {
			account: func(a *Account) {
				k := keyOf(jose.RS256).jwk("k1")
				k.Algorithm = string(jose.PS256)
				a.JWKS.Keys[0] = k
			},
			signer: ptr(keyOf(jose.RS256)), desc: "alg is not the alg",
		},
		"unknown iss":   {claims: func(c map[string]any, _ time.Time) { c["iss"], c["sub"] = "nobody", "nobody" }, desc: "iss names no registered client"},
		"sub differs":   {claims: func(c map[string]any, _ time.Time) { c["sub"] = "someone" }, desc: "sub must equal its iss"},
		"aud elsewhere": {claims: func(c map[string]any, _ time.Time) { c["aud"] = "https://example.com/oauth2/token" }, desc: "aud does not contain this token endpoint"},
		"aud the issuer, endpoint wanted": {
			claims: func(c map[string]any, _ time.Time) { c["aud"] = "https://issuer.example" }, desc: "this token endpoint's URL",
		},
		"aud the endpoint, issuer wanted": {
			account: func(a *Account) { a.AssertionAudience = "https://issuer.example" }, desc: "the issuer the client is registered with",
		},
		"no exp":      {claims: func(c map[string]any, _ time.Time) { delete(c, "exp") }, desc: "no exp"},
		"expired":     {claims: func(c map[string]any, now time.Time) { c["exp"] = now.Unix() }, desc: "expired"},
		"exp too far": {claims: func(c map[string]any, now time.Time) { c["exp"] = now.Add(6 * time.Minute).Unix() }, desc: "more than 5 minutes"},
		"exp past iat+5m": {claims: func(c map[string]any, now time.Time) {
			c["iat"], c["exp"] = now.Add(-2*time.Minute).Unix(), now.Add(4*time.Minute).Unix()
		}, desc: "more than 5 minutes"},
		"no iat":         {claims: func(c map[string]any, _ time.Time) { delete(c, "iat") }, desc: "no iat"},
		"iat in future":  {claims: func(c map[string]any, now time.Time) { c["iat"] = now.Add(time.Minute).Unix() }, desc: "iat is in the future"},
		"nbf in future":  {claims: func(c map[string]any, now time.Time) { c["nbf"] = now.Add(time.Minute).Unix() }, desc: "nbf"},
		"no jti":         {claims: func(c map[string]any, _ time.Time) { delete(c, "jti") }, desc: "no jti"},
		"not JWT claims": {claims: func(c map[string]any, _ time.Time) { c["exp"] = "tomorrow" }, desc: "not a JSON object of JWT claims"},
		"client_id differs": {
			request: func(r *req, a string) { *r = assertionReq(a, "client_id", "demo-oauth2-client") },
			desc:    "client_id does not match",
		},
		"client_secret as well": {
			request: func(r *req, a string) { *r = assertionReq(a, "client_secret", "x") },
			status:  400, code: "invalid_request", desc: "more than one authentication method",
		},
		"Basic as well": {
			request: func(r *req, a string) { r.basic, r.basicUser, r.basicPass = true, "jwt-client", "x" },
			status:  400, code: "invalid_request", desc: "more than one authentication method",
		},
		"disabled client": {account: func(a *Account) { a.Disabled = true }, desc: "disabled"},
		"secret client sends an assertion": {
			claims: func(c map[string]any, _ time.Time) { c["iss"], c["sub"] = "demo-oauth2-client", "demo-oauth2-client" },
			desc:   "not registered for private_key_jwt",
		},
		"jwt client sends an empty secret": {request: func(r *req, _ string) {
			r.body = form("grant_type", "client_credentials", "client_id", "jwt-client", "client_secret", "")
		}, status: 400, desc: "Client authentication failed"},
		"scope not allowed":     {request: func(r *req, a string) { *r = assertionReq(a, "scope", "admin") }, status: 400, code: "invalid_scope"},
		"resource with a hash":  {request: func(r *req, a string) { *r = assertionReq(a, "resource", "https://a/#x") }, status: 400, code: "invalid_target"},
		"relative resource":     {request: func(r *req, a string) { *r = assertionReq(a, "resource", "/api") }, status: 400, code: "invalid_target"},
		"empty audience":        {request: func(r *req, a string) { *r = assertionReq(a, "audience", "") }, status: 400, code: "invalid_request"},
		"assertion in the URL":  {request: func(r *req, a string) { r.path += "?client_assertion=" + a }, status: 400, code: "invalid_request"},
		"grant type missing":    {request: func(r *req, a string) { r.body = form("client_assertion_type", jwtBearer, "client_assertion", a) }, status: 400, code: "invalid_request"},
		"repeated scope refuse": {request: func(r *req, a string) { *r = assertionReq(a, "scope", "read", "scope", "read") }, status: 400, code: "invalid_request"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			acct := jwtClient()
			if tc.account != nil {
				tc.account(&acct)
			}
			ts, now := jwtServer(t, acct)
			setFaults(t, ts.Server, tc.faults)
			claims := claimsAt(ts, "jwt-client", now)
			if tc.claims != nil {
				tc.claims(claims, now)
			}
			signer, kid := es, tc.kid
			if tc.signer != nil {
				signer = *tc.signer
			}
			switch kid {
			case "":
				kid = "k1"
			case "-":
				kid = ""
			}
			assertion := signer.sign(t, kid, claims)
			rq := assertionReq(assertion)
			if tc.request != nil {
				tc.request(&rq, assertion)
			}
			res := do(t, ts, rq)
			status, code := tc.status, tc.code
			if status == 0 {
				status = http.StatusUnauthorized
			}
			if code == "" {
				code = "invalid_client"
			}
			if res.status != status || res.str("error") != code || !strings.Contains(res.str("error_description"), tc.desc) {
				t.Errorf("%d %s, want %d %s containing %q", res.status, res.raw, status, code, tc.desc)
			}
			if tokenOf(res) != "" {
				t.Errorf("a refusal carries a token: %s", res.raw)
			}
			for _, part := range strings.Split(assertion, ".") {
				if len(part) > 8 && strings.Contains(string(res.raw), part) {
					t.Errorf("the answer quotes the assertion: %s", res.raw)
				}
			}
		})
	}
}

func TestPrivateKeyJWTRecordsRefusals(t *testing.T) {
	t.Parallel()
	ts, now := jwtServer(t, jwtClient())
	setFaults(t, ts.Server, Faults{RefuseKIDs: []string{"k1"}})
	do(t, ts, assertionReq(keyOf(jose.ES256).sign(t, "k1", claimsAt(ts, "jwt-client", now)), "resource", "https://r.example/"))
	last, ok := ts.LastOAuth2Request("jwt-client")
	if !ok || last.Status != 401 || last.Error != "invalid_client" || !strings.Contains(last.ErrorDescription, "kid") ||
		last.Assertion == nil || last.Assertion.KeyID != "k1" || last.Assertion.Claims != nil || last.Resources[0] != "https://r.example/" {
		t.Errorf("LastOAuth2Request = %+v (%t)", last, ok)
	}
	// The secret methods are recorded too, and an unknown client is not.
	do(t, ts, goodRequest(t, ProviderOAuth2))
	if last, ok := ts.LastOAuth2Request("demo-oauth2-client"); !ok || last.AuthMethod != AuthMethodBasic || last.Status != 200 || last.Assertion != nil {
		t.Errorf("basic: %+v (%t)", last, ok)
	}
	do(t, ts, req{path: "/oauth2/token", contentType: formType, body: form("grant_type", "client_credentials", "client_id", "nobody", "client_secret", "x")})
	if _, ok := ts.LastOAuth2Request("nobody"); ok {
		t.Error("a request of an unknown client was recorded")
	}
}

func TestPrivateKeyJWTReplayAndAudience(t *testing.T) {
	t.Parallel()
	acct := jwtClient()
	acct.AssertionAudience = "https://issuer.example"
	ts, clk := newDemoServer(t)
	if err := ts.AddAccount(acct); err != nil {
		t.Fatal(err)
	}
	claims := claimsAt(ts, "jwt-client", clk.Now())
	claims["aud"] = "https://issuer.example"
	assertion := keyOf(jose.ES256).sign(t, "k1", claims)
	if res := do(t, ts, assertionReq(assertion)); res.status != http.StatusOK {
		t.Fatalf("first use: %d %s", res.status, res.raw)
	}
	if res := do(t, ts, assertionReq(assertion)); res.status != http.StatusUnauthorized || !strings.Contains(res.str("error_description"), "replay") {
		t.Errorf("replay: %d %s", res.status, res.raw)
	}
	// Once the first assertion has expired its jti is forgotten: a new
	// assertion may carry it.
	clk.Advance(3 * time.Minute)
	claims["iat"], claims["exp"] = clk.Now().Unix(), clk.Now().Add(time.Minute).Unix()
	if res := do(t, ts, assertionReq(keyOf(jose.ES256).sign(t, "k1", claims))); res.status != http.StatusOK {
		t.Errorf("the jti after its first assertion expired: %d %s", res.status, res.raw)
	}
}

// jwksHost serves a JWKS that a test can change, counting the fetches.
type jwksHost struct {
	*httptest.Server
	doc     atomic.Value // string
	status  atomic.Int32
	fetches atomic.Int32
}

func newJWKSHost(t *testing.T, keys ...jose.JSONWebKey) *jwksHost {
	t.Helper()
	h := &jwksHost{}
	h.publish(keys...)
	h.status.Store(http.StatusOK)
	h.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(h.status.Load()))
		_, _ = w.Write([]byte(h.doc.Load().(string)))
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *jwksHost) publish(keys ...jose.JSONWebKey) {
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	h.doc.Store(string(b))
}

func TestPrivateKeyJWTJWKSURI(t *testing.T) {
	t.Parallel()
	es, ed := keyOf(jose.ES256), keyOf(jose.EdDSA)
	host := newJWKSHost(t, es.jwk("k1"))
	clk := newTestClock()
	ts := Serve(t, New(WithClock(clk.Now), WithJWKSClient(host.Client())))
	acct := Account{Provider: ProviderOAuth2, ClientID: "uri-client", AuthMethod: AuthMethodPrivateKeyJWT, JWKSURI: host.URL + "/jwks"}
	if err := ts.AddAccount(acct); err != nil {
		t.Fatal(err)
	}
	step := func(what string, key testKey, kid string, status int, fetches int32, desc string) {
		t.Helper()
		res := do(t, ts, assertionReq(key.sign(t, kid, claimsAt(ts, "uri-client", clk.Now()))))
		if res.status != status || !strings.Contains(res.str("error_description"), desc) {
			t.Errorf("%s: %d %s, want %d %q", what, res.status, res.raw, status, desc)
		}
		if got := host.fetches.Load(); got != fetches || ts.Stats().JWKSFetches != int64(fetches) {
			t.Errorf("%s: %d fetches (stats %d), want %d", what, got, ts.Stats().JWKSFetches, fetches)
		}
	}
	step("first use fetches", es, "k1", 200, 1, "")
	step("the cache answers", es, "k1", 200, 1, "")
	host.publish(es.jwk("k1"), ed.jwk("k2"))
	step("an unknown kid fetches again", ed, "k2", 200, 2, "")
	step("a kid still unknown fetches once", ed, "k3", 401, 3, "No key registered")
	clk.Advance(jwksCacheTTL)
	step("an expired cache fetches again", es, "k1", 200, 4, "")
	clk.Advance(jwksCacheTTL)
	host.status.Store(http.StatusNotFound)
	step("a failed fetch refuses", es, "k1", 401, 5, "answered status 404")
	host.status.Store(http.StatusOK)
	host.doc.Store(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"k1"}]}`)
	step("a document without public keys refuses", es, "k1", 401, 6, "valid JWKS")
}

func TestSetJWKS(t *testing.T) {
	t.Parallel()
	es, rs := keyOf(jose.ES256), keyOf(jose.RS256)
	ts, now := jwtServer(t, jwtClient())
	next := assertionReq(rs.sign(t, "k2", claimsAt(ts, "jwt-client", now)))
	if res := do(t, ts, next); res.status != http.StatusUnauthorized {
		t.Fatalf("the next key before it is registered: %d", res.status)
	}
	body, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{es.jwk("k1"), rs.jwk("k2")}})
	if res := admin(t, ts, http.MethodPut, "/_fake/oauth2/jwks?client_id=jwt-client", string(body)); res.status != http.StatusOK {
		t.Fatalf("PUT jwks: %d %s", res.status, res.raw)
	}
	next = assertionReq(rs.sign(t, "k2", claimsAt(ts, "jwt-client", now)))
	if res := do(t, ts, next); res.status != http.StatusOK {
		t.Errorf("the next key once registered: %d %s", res.status, res.raw)
	}
	res := admin(t, ts, http.MethodGet, "/_fake/oauth2/last_request?client_id=jwt-client", "")
	var last OAuth2Request
	if res.status != http.StatusOK || json.Unmarshal(res.raw, &last) != nil || last.Assertion.KeyID != "k2" ||
		last.Assertion.Claims.Issuer != "jwt-client" || !strings.Contains(string(res.raw), `"jti":`) {
		t.Errorf("GET last_request: %d %s", res.status, res.raw)
	}
	if err := ts.SetJWKS("jwt-client", jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: es.priv, KeyID: "p"}}}); err == nil ||
		!strings.Contains(err.Error(), "not a public key") {
		t.Errorf("SetJWKS with a private key: %v", err)
	}
	if err := ts.SetJWKS("demo-oauth2-client", jose.JSONWebKeySet{Keys: []jose.JSONWebKey{es.jwk("k1")}}); err == nil {
		t.Error("SetJWKS on a client_secret_basic client")
	}
	for name, tc := range map[string]struct {
		path, body string
		status     int
		want       string
	}{
		"unknown client":      {"/_fake/oauth2/jwks?client_id=nobody", string(body), 400, "client_id:"},
		"no keys":             {"/_fake/oauth2/jwks?client_id=jwt-client", `{"keys":[]}`, 400, "jwks: has no keys"},
		"unknown field":       {"/_fake/oauth2/jwks?client_id=jwt-client", `{"keys":[],"x":1}`, 400, "unknown field"},
		"no record":           {"/_fake/oauth2/last_request?client_id=nobody", "", 404, "client_id:"},
		"malformed key":       {"/_fake/oauth2/jwks?client_id=jwt-client", `{"keys":[{"kty":"EC"}]}`, 400, "invalid JSON body"},
		"private key in JSON": {"/_fake/oauth2/jwks?client_id=jwt-client", `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"s"}]}`, 400, "not a public key"},
	} {
		method := http.MethodPut
		if tc.body == "" {
			method = http.MethodGet
		}
		if res := admin(t, ts, method, tc.path, tc.body); res.status != tc.status || !strings.Contains(res.str("error"), tc.want) {
			t.Errorf("%s: %d %s, want %d %q", name, res.status, res.raw, tc.status, tc.want)
		}
	}
}

func TestPrivateKeyJWTAccountJSON(t *testing.T) {
	t.Parallel()
	ts, _ := newDemoServer(t)
	key, _ := json.Marshal(keyOf(jose.EdDSA).jwk("e1"))
	for name, tc := range map[string]struct {
		body   string
		status int
		want   string
	}{
		"standard name": {`{"provider":"oauth2","client_id":"a","token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[` + string(key) + `]}}`, 201, ""},
		"both names agree": {`{"provider":"oauth2","client_id":"b","auth_method":"private_key_jwt","token_endpoint_auth_method":"private_key_jwt",` +
			`"jwks_uri":"https://127.0.0.1:1/jwks","assertion_audience":"https://issuer.example"}`, 201, ""},
		"names differ":      {`{"provider":"oauth2","client_id":"c","client_secret":"admin-added-secret","auth_method":"client_secret_post","token_endpoint_auth_method":"client_secret_basic"}`, 400, "differ"},
		"secret too":        {`{"provider":"oauth2","client_id":"d","client_secret":"admin-added-secret","token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[` + string(key) + `]}}`, 400, "no client_secret"},
		"unknown key field": {`{"provider":"oauth2","client_id":"e","token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[],"extra":1}}`, 400, "unknown field"},
	} {
		res := admin(t, ts, http.MethodPost, "/_fake/accounts", tc.body)
		if res.status != tc.status || !strings.Contains(res.str("error"), tc.want) {
			t.Errorf("%s: %d %s", name, res.status, res.raw)
		}
		testkit.AssertNoSecret(t, name, string(res.raw), "admin-added-secret")
	}
	// An account round-trips through JSON, as the command's accounts file.
	a := jwtClient(keyOf(jose.RS256).jwk("r1"))
	b, err := json.Marshal(a) //nolint:gosec // G117: a test account without a secret
	var back Account
	if err != nil || json.Unmarshal(b, &back) != nil || back.AuthMethod != AuthMethodPrivateKeyJWT || back.JWKS.Keys[0].KeyID != "r1" || back.Validate() != nil {
		t.Errorf("round trip: %v %s → %+v", err, b, back)
	}
}

func TestAccountValidateKeys(t *testing.T) {
	t.Parallel()
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // G403: the short key that must be refused
	es := keyOf(jose.ES256)
	with := func(f func(a *Account)) Account {
		a := jwtClient()
		f(&a)
		return a
	}
	withKey := func(k jose.JSONWebKey) Account { return jwtClient(k) }
	for name, tc := range map[string]struct {
		account Account
		wantErr string
	}{
		"valid jwks":       {jwtClient(), ""},
		"valid jwks_uri":   {with(func(a *Account) { a.JWKS, a.JWKSURI = jose.JSONWebKeySet{}, "http://127.0.0.1:8200/v1/palo/jwks" }), ""},
		"unknown method":   {Account{Provider: ProviderOAuth2, ClientID: "a", ClientSecret: "s", AuthMethod: "client_secret_jwt"}, "auth_method:"},
		"with a secret":    {with(func(a *Account) { a.ClientSecret = "s3cr3t-value" }), "takes no client_secret"},
		"no keys":          {with(func(a *Account) { a.JWKS = jose.JSONWebKeySet{} }), "one of jwks and jwks_uri"},
		"jwks and uri":     {with(func(a *Account) { a.JWKSURI = "https://x/jwks" }), "one of jwks and jwks_uri"},
		"uri not http":     {with(func(a *Account) { a.JWKS, a.JWKSURI = jose.JSONWebKeySet{}, "file:///etc/jwks" }), "jwks_uri:"},
		"private key":      {withKey(jose.JSONWebKey{Key: es.priv, KeyID: "p"}), "not a public key"},
		"no kid":           {withKey(es.jwk("")), "has no kid"},
		"repeated kid":     {jwtClient(es.jwk("k"), keyOf(jose.EdDSA).jwk("k")), "repeats the kid"},
		"encryption key":   {withKey(jose.JSONWebKey{Key: es.priv.Public(), KeyID: "k", Use: "enc"}), "not sig"},
		"HMAC alg":         {withKey(jose.JSONWebKey{Key: es.priv.Public(), KeyID: "k", Algorithm: "HS256"}), "alg"},
		"P-384":            {withKey(jose.JSONWebKey{Key: p384.Public(), KeyID: "k"}), "P-256"},
		"RSA 1024":         {withKey(jose.JSONWebKey{Key: rsa1024.Public(), KeyID: "k"}), "2048"},
		"no client id":     {with(func(a *Account) { a.ClientID = "" }), "needs client_id"},
		"keys on a secret": {Account{Provider: ProviderOAuth2, ClientID: "a", ClientSecret: "s", JWKSURI: "https://x/"}, "need auth_method private_key_jwt"},
		"keys on SaaS": {
			Account{Provider: ProviderSaaSSecurity, ClientID: "a", ClientSecret: "s", JWKS: jwtClient().JWKS},
			"oauth2 accounts only",
		},
	} {
		err := tc.account.Validate()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: unexpected error %v", name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.wantErr)
		}
	}
}
