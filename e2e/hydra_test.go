//go:build e2e

package e2e

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testkit"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// TestHydra proves the Hydra harness and records how a real OAuth2 server
// answers the three token endpoint authentication methods: each gets a
// token that Hydra's introspection vouches for, and each way of being
// refused comes back with the status and error that the engine's messages
// will quote.
func TestHydra(t *testing.T) {
	t.Parallel()
	h := vaulttest.StartHydra(t, vaulttest.LoadHydra(t), vaulttest.HydraOptions{})
	ctx := t.Context()

	var discovery struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	getJSON(t, h.PublicURL+"/.well-known/openid-configuration", &discovery)
	if discovery.TokenEndpoint != h.TokenURL {
		t.Fatalf("Hydra's token_endpoint is %q, the harness says %q", discovery.TokenEndpoint, h.TokenURL)
	}

	const audience = "https://api.example.test"
	// A secret that only survives client_secret_basic when it is
	// form-encoded before Basic encoding (RFC 6749 section 2.3.1), as
	// Hydra decodes it.
	secret := "s+/:%" + rand.Text()
	key := newSigningKey(t)
	clients := []vaulttest.HydraClient{
		{ClientID: "basic", ClientSecret: secret, TokenEndpointAuthMethod: fakevendor.AuthMethodBasic},
		{ClientID: "post", ClientSecret: secret, TokenEndpointAuthMethod: fakevendor.AuthMethodPost},
		{
			ClientID: "jwt", TokenEndpointAuthMethod: fakevendor.AuthMethodPrivateKeyJWT, TokenEndpointAuthSigningAlg: "ES256",
			JWKS: jwks(t, key),
		},
	}
	for i := range clients {
		clients[i].Scope = "read write"
		clients[i].Audience = []string{audience}
		if err := h.CreateClient(ctx, clients[i]); err != nil {
			t.Fatal(err)
		}
	}
	want := url.Values{"scope": {"read"}, "audience": {audience}}
	// signed is want with a fresh client assertion for clientID, signed by k.
	signed := func(t *testing.T, k jose.JSONWebKey, clientID string) url.Values {
		t.Helper()
		return withAssertion(want, assertion(t, k, clientID, h.TokenURL, rand.Text()))
	}

	for _, c := range clients {
		t.Run(c.TokenEndpointAuthMethod, func(t *testing.T) {
			var a tokenAnswer
			switch c.TokenEndpointAuthMethod {
			case fakevendor.AuthMethodBasic:
				a = requestToken(t, h.TokenURL, want, c.ClientID, c.ClientSecret)
			case fakevendor.AuthMethodPost:
				a = requestToken(t, h.TokenURL, with(want, "client_id", c.ClientID, "client_secret", c.ClientSecret), "", "")
			case fakevendor.AuthMethodPrivateKeyJWT:
				a = requestToken(t, h.TokenURL, signed(t, key, c.ClientID), "", "")
			}
			checkToken(t, h, a, c.ClientID, "read", audience)
		})
	}

	t.Run("refusals", func(t *testing.T) {
		replayed := assertion(t, key, "jwt", h.TokenURL, rand.Text())
		checkToken(t, h, requestToken(t, h.TokenURL, withAssertion(want, replayed), "", ""), "jwt", "read", audience)
		other := newSigningKey(t)
		other.KeyID = key.KeyID // the registered kid, signed with a key Hydra does not know
		cases := map[string]struct {
			form         url.Values
			user, pass   string
			status       int
			errorCode    string
			descContains string
		}{
			"a replayed jti": {
				form: withAssertion(want, replayed), status: http.StatusBadRequest, errorCode: "jti_known",
				descContains: "Claim 'jti' from 'client_assertion' MUST only be used once.",
			},
			"a wrong key": {
				form: signed(t, other, "jwt"), status: http.StatusUnauthorized, errorCode: "invalid_client",
				descContains: "Unable to verify the integrity of the 'client_assertion' value.",
			},
			"an unknown client with a secret": {
				form: want, user: "nobody", pass: secret, status: http.StatusUnauthorized, errorCode: "invalid_client",
				descContains: "Client authentication failed",
			},
			"an unknown client with an assertion": {
				form: signed(t, key, "nobody"), status: http.StatusUnauthorized, errorCode: "invalid_client",
				descContains: "Client authentication failed",
			},
			"a refused scope": {
				form: with(want, "scope", "admin"), user: "basic", pass: secret,
				status: http.StatusBadRequest, errorCode: "invalid_scope",
				descContains: "The OAuth 2.0 Client is not allowed to request scope 'admin'.",
			},
			"a refused audience": {
				form: with(want, "audience", "https://other.example.test"), user: "basic", pass: secret,
				status: http.StatusBadRequest, errorCode: "invalid_request",
				descContains: "Requested audience 'https://other.example.test' has not been whitelisted by the OAuth 2.0 Client.",
			},
		}
		for name, tc := range cases {
			t.Run(name, func(t *testing.T) {
				a := requestToken(t, h.TokenURL, tc.form, tc.user, tc.pass)
				t.Logf("Hydra answered %d: %s", a.status, a.body)
				if a.status != tc.status || a.Error != tc.errorCode || !strings.Contains(a.ErrorDescription, tc.descContains) {
					t.Fatalf("got %d %q %q, want %d %q with %q", a.status, a.Error, a.ErrorDescription, tc.status, tc.errorCode, tc.descContains)
				}
				if strings.Contains(a.body, secret) {
					t.Fatal("Hydra's answer quotes the client secret")
				}
			})
		}
	})

	t.Run("jwks_uri", func(t *testing.T) {
		// Hydra fetches the keys over plain http from loopback, keeps them
		// (fosite's cache, an hour), and fetches again at once when an
		// assertion names a kid it does not hold.
		next := newSigningKey(t)
		served := newJWKSServer(t, jwks(t, key))
		c := vaulttest.HydraClient{
			ClientID: "jwks-uri", TokenEndpointAuthMethod: fakevendor.AuthMethodPrivateKeyJWT, TokenEndpointAuthSigningAlg: "ES256",
			JWKSURI: served.URL, Scope: "read", Audience: []string{audience},
		}
		if err := h.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		if n := served.fetches.Load(); n != 0 {
			t.Fatalf("Hydra fetched the JWKS %d times at registration, want 0", n)
		}
		get := func(k jose.JSONWebKey) tokenAnswer {
			return requestToken(t, h.TokenURL, signed(t, k, c.ClientID), "", "")
		}
		checkToken(t, h, get(key), c.ClientID, "read", audience)
		if n := served.fetches.Load(); n != 1 {
			t.Fatalf("after the first token Hydra fetched the JWKS %d times, want 1", n)
		}
		// The cache takes a moment to admit the set.
		vaulttest.Eventually(t, 10*time.Second, 200*time.Millisecond, "Hydra keeps the JWKS", func() error {
			before := served.fetches.Load()
			checkToken(t, h, get(key), c.ClientID, "read", audience)
			if n := served.fetches.Load(); n != before {
				return fmt.Errorf("Hydra fetched the JWKS %d more times", n-before)
			}
			return nil
		})

		served.set(jwks(t, key, next))
		before := served.fetches.Load()
		checkToken(t, h, get(next), c.ClientID, "read", audience)
		if n := served.fetches.Load() - before; n != 1 {
			t.Fatalf("a new kid made Hydra fetch the JWKS %d times, want 1", n)
		}
		// A key gone from the document is accepted while the cached set
		// still holds it.
		served.set(jwks(t, next))
		before = served.fetches.Load()
		checkToken(t, h, get(key), c.ClientID, "read", audience)
		if n := served.fetches.Load() - before; n != 0 {
			t.Fatalf("a cached kid made Hydra fetch the JWKS %d times, want 0", n)
		}

		// A kid Hydra must fetch, from a server that is gone: Hydra retries
		// twice and answers with a server error naming the location.
		served.Close()
		a := get(newSigningKey(t))
		t.Logf("with the JWKS server gone Hydra answered %d: %s", a.status, a.body)
		if a.status != http.StatusInternalServerError || a.Error != "server_error" ||
			!strings.Contains(a.ErrorDescription, "Unable to fetch JSON Web Keys from location '"+served.URL+"'") {
			t.Fatalf("with the JWKS server gone Hydra answered %d %s", a.status, a.body)
		}

		if err := h.DeleteClient(ctx, c.ClientID); err != nil {
			t.Fatal(err)
		}
		if a := get(next); a.status != http.StatusUnauthorized || a.Error != "invalid_client" {
			t.Fatalf("a deleted client got %d %s", a.status, a.body)
		}
	})

	t.Run("no EdDSA", func(t *testing.T) {
		err := h.CreateClient(ctx, vaulttest.HydraClient{
			ClientID: "eddsa", TokenEndpointAuthMethod: fakevendor.AuthMethodPrivateKeyJWT, TokenEndpointAuthSigningAlg: "EdDSA",
			JWKS: jwks(t, key),
		})
		if err == nil || !strings.Contains(err.Error(), "are supported as algorithms for private key authentication") {
			t.Fatalf("a client registered for EdDSA: %v", err)
		}
		t.Log(err)
	})

	t.Run("update", func(t *testing.T) {
		c := clients[0]
		c.Scope = "read write admin"
		if err := h.UpdateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		checkToken(t, h, requestToken(t, h.TokenURL, with(want, "scope", "admin"), c.ClientID, c.ClientSecret), c.ClientID, "admin", audience)
	})
}

// tokenAnswer is a token endpoint's answer, success or error.
type tokenAnswer struct {
	status           int
	body             string
	issued           time.Time
	AccessToken      string `json:"access_token"`
	ExpiresIn        int64  `json:"expires_in"`
	Scope            string `json:"scope"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// requestToken asks tokenURL for a client-credentials token with form,
// authenticating with HTTP Basic (user and pass form-encoded first, RFC
// 6749 section 2.3.1) when user is set.
func requestToken(t *testing.T, tokenURL string, form url.Values, user, pass string) tokenAnswer {
	t.Helper()
	form = with(form, "grant_type", "client_credentials")
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	a := tokenAnswer{issued: time.Now()}
	status, _, b := roundTrip(t, req)
	a.status, a.body = status, string(b)
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("token endpoint answered %d, not JSON: %s", status, b)
	}
	return a
}

// checkToken checks that a is a token Hydra issued to clientID for scope
// and audience, that its introspection says so, and that the expiry Hydra
// records is the one its token answer announced.
func checkToken(t *testing.T, h *vaulttest.Hydra, a tokenAnswer, clientID, scope, audience string) {
	t.Helper()
	if a.status != http.StatusOK || a.AccessToken == "" {
		t.Fatalf("token endpoint answered %d: %s", a.status, a.body)
	}
	in, err := h.Introspect(t.Context(), a.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if !in.Active || in.ClientID != clientID || in.Scope != scope || !slices.Equal(in.Aud, []string{audience}) {
		t.Fatalf("introspection: %+v, want active, client_id %q, scope %q, aud [%s]", in, clientID, scope, audience)
	}
	expires := a.issued.Unix() + a.ExpiresIn
	if d := in.Exp - expires; d < -2 || d > 2 {
		t.Fatalf("introspection says exp %d, the token answer said %d seconds from %d (%d)", in.Exp, a.ExpiresIn, a.issued.Unix(), expires)
	}
}

func with(form url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, v := range form {
		out[k] = slices.Clone(v)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

func withAssertion(form url.Values, jwt string) url.Values {
	return with(form, "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion", jwt)
}

// newSigningKey makes an ES256 key whose kid is its RFC 7638 thumbprint.
func newSigningKey(t *testing.T) jose.JSONWebKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := jose.JSONWebKey{Key: priv, Algorithm: string(jose.ES256), Use: "sig"}
	public := k.Public()
	tp, err := public.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	k.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	return k
}

// jwks is the public JWKS of keys.
func jwks(t *testing.T, keys ...jose.JSONWebKey) json.RawMessage {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, k.Public())
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertion is a client assertion (RFC 7523 section 2.2) for clientID,
// signed by key with its kid in the header.
func assertion(t *testing.T, key jose.JSONWebKey, clientID, aud, jti string) string {
	t.Helper()
	now := time.Now()
	return testkit.SignJWT(t, jose.ES256, key.Key, key.KeyID, map[string]any{
		"iss": clientID, "sub": clientID, "aud": aud, "jti": jti,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	})
}

// jwksServer serves a JWKS on loopback and counts its fetches.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int64
	mu      sync.Mutex
	doc     []byte
}

func newJWKSServer(t *testing.T, doc []byte) *jwksServer {
	s := &jwksServer{doc: doc}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(s.doc)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(doc []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.doc = doc
}

func getJSON(t *testing.T, u string, out any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	status, _, body := roundTrip(t, req)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d", u, status)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}
