package fakevendor

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// private_key_jwt client authentication of the generic OAuth2 endpoint (RFC
// 7523 section 2.2, RFC 7521 section 4.2, OpenID Connect Core section 9).
//
// The client sends client_assertion_type=urn:ietf:params:oauth:client-
// assertion-type:jwt-bearer and client_assertion=<compact JWS>, and no
// secret (neither client_secret nor an Authorization header: a request with
// both is a 400 invalid_request, RFC 6749 section 5.2). A client_id form
// field, if sent, must equal the assertion's iss. The assertion is accepted
// when:
//
//   - its header alg is ES256, RS256, PS256 or EdDSA and its kid names a key of
//     the account (Account.JWKS, or the document at Account.JWKSURI, cached
//     for jwksCacheTTL and fetched again when the kid is unknown) whose alg,
//     if the key names one, is the header's, and the signature verifies;
//   - iss = sub = the client id of a private_key_jwt account that is not
//     disabled;
//   - aud contains the token endpoint URL the request was sent to
//     (scheme, host and path), or Account.AssertionAudience when set;
//   - exp is in the future and at most maxAssertionLifetime (plus
//     assertionLeeway) after both iat and now; iat is present and not in
//     the future (beyond assertionLeeway); nbf, if present, has passed;
//   - jti is present and was not accepted before for this client (a jti is
//     remembered until its assertion's exp; a replay is refused).
//
// Every refusal is 401 invalid_client with a description that names what
// was wrong and never quotes the assertion. Faults.RefuseKIDs makes a kid
// unknown, as to a server that has not learnt a new key yet.

// jwtBearer is the only client_assertion_type accepted.
const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" //nolint:gosec // G101: a URN, not a credential

// assertionAlgs are the signature algorithms accepted in an assertion.
var assertionAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.PS256, jose.EdDSA}

const (
	// maxAssertionLifetime bounds exp after iat and after now.
	maxAssertionLifetime = 5 * time.Minute
	// assertionLeeway is the clock difference allowed on iat, nbf and the
	// bound on exp (never on exp itself).
	assertionLeeway = 30 * time.Second
	// jwksCacheTTL is how long a document fetched from a jwks_uri is used.
	jwksCacheTTL = time.Minute
	// jwksFetchTimeout bounds one fetch of a jwks_uri.
	jwksFetchTimeout = 10 * time.Second
	// maxJWKSBytes bounds a fetched JWKS document.
	maxJWKSBytes = 64 << 10
)

// Assertion is what the fake saw of a client assertion. It never holds the
// assertion itself.
type Assertion struct {
	// Alg and KeyID are the header's alg and kid.
	Alg   string `json:"alg"`
	KeyID string `json:"kid,omitempty"`
	// Claims are the registered claims, set only when the signature
	// verified.
	Claims *jwt.Claims `json:"claims,omitempty"`
}

// OAuth2Request is what the last token request of an oauth2 account
// carried, whether it got a token or not (see Server.LastOAuth2Request).
// Requests answered by a fault, or that name no known account, are not
// recorded. It holds no secret and no assertion.
type OAuth2Request struct {
	Time time.Time `json:"time"`
	// AuthMethod is the authentication method the request used.
	AuthMethod string `json:"auth_method"`
	// Scope is the scope parameter as sent.
	Scope string `json:"scope,omitempty"`
	// Audience and Resources are the audience and resource (RFC 8707)
	// parameters as sent, in order.
	Audience  []string `json:"audience,omitempty"`
	Resources []string `json:"resources,omitempty"`
	// Assertion is set for private_key_jwt.
	Assertion *Assertion `json:"assertion,omitempty"`
	// Status, Error and ErrorDescription are the vendor's answer, before
	// any body fault (Faults.TruncateBody, OmitToken, ControlCharField).
	Status           int    `json:"status"`
	Error            string `json:"error,omitempty"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// oauth2State is the oauth2 part of a Server, guarded by Server.mu.
type oauth2State struct {
	last map[string]OAuth2Request // by client id
	jtis map[string]time.Time     // client id + "\x00" + jti: until when it is remembered
	jwks map[string]jwksEntry     // by jwks_uri
}

type jwksEntry struct {
	set       jose.JSONWebKeySet
	fetchedAt time.Time
}

// WithJWKSClient sets the HTTP client that fetches jwks_uri documents, for
// example one that trusts a test CA. The default has a 10 s timeout and the
// system's roots.
func WithJWKSClient(c *http.Client) Option {
	return func(s *Server) { s.jwksClient = c }
}

// LastOAuth2Request returns what the last recorded token request of the
// oauth2 account clientID carried, and false if there was none.
func (s *Server) LastOAuth2Request(clientID string) (OAuth2Request, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.oauth2.last[clientID]
	return r, ok
}

// SetJWKS replaces the keys of the private_key_jwt account clientID (a
// jwks_uri it had is dropped), as a client registration update does. Its
// error names the field.
func (s *Server) SetJWKS(clientID string, set jose.JSONWebKeySet) error {
	if err := validateJWKS("jwks", set); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := accountKey{ProviderOAuth2, clientID}
	a, ok := s.accounts[k]
	if !ok || a.AuthMethod != AuthMethodPrivateKeyJWT {
		return fmt.Errorf("client_id: no oauth2 private_key_jwt account %q", clientID)
	}
	a.JWKS, a.JWKSURI = jose.JSONWebKeySet{Keys: slices.Clone(set.Keys)}, ""
	s.accounts[k] = a
	return nil
}

// validateJWKS checks a client's key set: public signing keys of the kinds
// the accepted algorithms use, each with a distinct kid. Its errors name
// field and never quote key material.
func validateJWKS(field string, set jose.JSONWebKeySet) error {
	if len(set.Keys) == 0 {
		return fmt.Errorf("%s: has no keys", field)
	}
	seen := map[string]bool{}
	for i, k := range set.Keys {
		where := fmt.Sprintf("%s: key %d", field, i)
		switch {
		case !k.IsPublic() || !k.Valid():
			return fmt.Errorf("%s is not a public key (the fake never holds a private key)", where)
		case k.KeyID == "":
			return fmt.Errorf("%s has no kid", where)
		case seen[k.KeyID]:
			return fmt.Errorf("%s repeats the kid %q", where, k.KeyID)
		case k.Use != "" && k.Use != "sig":
			return fmt.Errorf("%s has use %q, not sig", where, k.Use)
		case k.Algorithm != "" && !slices.Contains(assertionAlgs, jose.SignatureAlgorithm(k.Algorithm)):
			return fmt.Errorf("%s has alg %q, not one of ES256, RS256, PS256, EdDSA", where, k.Algorithm)
		}
		seen[k.KeyID] = true
		switch key := k.Key.(type) {
		case *ecdsa.PublicKey:
			if key.Curve != elliptic.P256() {
				return fmt.Errorf("%s is an EC key on a curve other than P-256", where)
			}
		case *rsa.PublicKey:
			if key.N.BitLen() < 2048 {
				return fmt.Errorf("%s is an RSA key shorter than 2048 bits", where)
			}
		case ed25519.PublicKey:
		default:
			return fmt.Errorf("%s is not an EC, RSA or Ed25519 key", where)
		}
	}
	return nil
}

// assertionIssuer returns the iss of an assertion, unverified, or "".
func assertionIssuer(assertion string) string {
	tok, err := jwt.ParseSigned(assertion, assertionAlgs)
	if err != nil {
		return ""
	}
	var c jwt.Claims
	if tok.UnsafeClaimsWithoutVerification(&c) != nil {
		return ""
	}
	return c.Issuer
}

// assertionClient authenticates a private_key_jwt request. It returns the
// account the request named (zero if none, even when refused) and, when the
// client is not authenticated, the answer and false.
func (s *Server) assertionClient(in *tokenRequest, form url.Values, rec *OAuth2Request) (Account, response, bool) {
	rec.AuthMethod = AuthMethodPrivateKeyJWT
	var acct Account
	refuse := func(why string) (Account, response, bool) {
		return acct, oauthError(http.StatusUnauthorized, "invalid_client", why), false
	}
	if form.Has("client_id") {
		acct, _ = s.account(ProviderOAuth2, form.Get("client_id"))
	}
	if form.Get("client_assertion_type") != jwtBearer {
		return refuse("client_assertion_type must be " + jwtBearer + ".")
	}
	tok, err := jwt.ParseSigned(form.Get("client_assertion"), assertionAlgs)
	if err != nil {
		return refuse("client_assertion is not a compact JWS signed with ES256, RS256, PS256 or EdDSA.")
	}
	h := tok.Headers[0]
	rec.Assertion = &Assertion{Alg: h.Algorithm, KeyID: h.KeyID}
	var claims jwt.Claims
	if tok.UnsafeClaimsWithoutVerification(&claims) != nil {
		return refuse("The assertion's payload is not a JSON object of JWT claims.")
	}
	if form.Has("client_id") && form.Get("client_id") != claims.Issuer {
		return refuse("client_id does not match the assertion's iss.")
	}
	a, known := s.account(ProviderOAuth2, claims.Issuer)
	if !known {
		return refuse("The assertion's iss names no registered client.")
	}
	acct = a
	switch {
	case acct.Disabled:
		return refuse("The client is disabled.")
	case acct.AuthMethod != AuthMethodPrivateKeyJWT:
		return refuse("The client is not registered for private_key_jwt.")
	case h.KeyID == "":
		return refuse("The assertion's header has no kid.")
	}
	key, why := s.clientKey(in, acct, h.KeyID)
	if why != "" {
		return refuse(why)
	}
	if key.Algorithm != "" && key.Algorithm != h.Algorithm {
		return refuse("The assertion's alg is not the alg of the key its kid names.")
	}
	claims = jwt.Claims{}
	if tok.Claims(key.Key, &claims) != nil {
		return refuse("The assertion's signature does not verify with the key its kid names.")
	}
	rec.Assertion.Claims = &claims
	if why := s.checkClaims(in, acct, claims); why != "" {
		return refuse(why)
	}
	return acct, response{}, true
}

// unknownKID is the refusal of a kid the client has not registered.
const unknownKID = "No key registered for the client has the assertion's kid."

// clientKey returns the key of account a named kid: from its JWKS, or from
// its jwks_uri, fetched again once when the cached document lacks kid. When
// there is none it returns the refusal.
func (s *Server) clientKey(in *tokenRequest, a Account, kid string) (jose.JSONWebKey, string) {
	if slices.Contains(in.faults.RefuseKIDs, kid) {
		return jose.JSONWebKey{}, unknownKID
	}
	set := a.JWKS
	if a.JWKSURI != "" {
		var fetched bool
		var why string
		if set, fetched, why = s.jwksAt(in.r.Context(), a.JWKSURI, false); why != "" {
			return jose.JSONWebKey{}, why
		}
		if len(set.Key(kid)) == 0 && !fetched { // the client may have published a new key since
			if set, _, why = s.jwksAt(in.r.Context(), a.JWKSURI, true); why != "" {
				return jose.JSONWebKey{}, why
			}
		}
	}
	if keys := set.Key(kid); len(keys) > 0 {
		return keys[0], ""
	}
	return jose.JSONWebKey{}, unknownKID
}

// jwksAt returns the key set at uri, from the cache unless refresh is set
// or the cached copy is older than jwksCacheTTL; fetched says whether it
// was fetched now. Fetches are counted in Stats.JWKSFetches; a failed one
// is not cached and returns its refusal.
func (s *Server) jwksAt(ctx context.Context, uri string, refresh bool) (set jose.JSONWebKeySet, fetched bool, why string) {
	now := s.Now()
	s.mu.Lock()
	e, ok := s.oauth2.jwks[uri]
	if ok && !refresh && now.Before(e.fetchedAt.Add(jwksCacheTTL)) {
		s.mu.Unlock()
		return e.set, false, ""
	}
	s.stats.JWKSFetches++
	s.mu.Unlock()

	if set, why = s.fetchJWKS(ctx, uri); why != "" {
		return set, true, why
	}
	s.mu.Lock()
	s.oauth2.jwks[uri] = jwksEntry{set: set, fetchedAt: now}
	s.mu.Unlock()
	return set, true, ""
}

// fetchJWKS fetches and checks the key set at uri, or returns the refusal.
func (s *Server) fetchJWKS(ctx context.Context, uri string) (jose.JSONWebKeySet, string) {
	ctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
	defer cancel()
	var set jose.JSONWebKeySet
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return set, "The client's jwks_uri cannot be requested."
	}
	req.Header.Set("Accept", jsonType)
	resp, err := s.jwksClient.Do(req)
	if err != nil {
		return set, "The client's jwks_uri could not be fetched."
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return set, fmt.Sprintf("The client's jwks_uri answered status %d.", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil || len(b) > maxJWKSBytes || json.Unmarshal(b, &set) != nil || validateJWKS("jwks_uri", set) != nil {
		return jose.JSONWebKeySet{}, "The client's jwks_uri does not hold a valid JWKS of public signing keys."
	}
	return set, ""
}

// checkClaims returns why the verified claims of an assertion of account a
// are refused, or "" when they are accepted; an accepted jti is remembered.
func (s *Server) checkClaims(in *tokenRequest, a Account, c jwt.Claims) string {
	aud, audName := a.AssertionAudience, "the issuer the client is registered with"
	if aud == "" {
		scheme := "http"
		if in.r.TLS != nil {
			scheme = "https"
		}
		aud, audName = scheme+"://"+in.r.Host+in.r.URL.Path, "this token endpoint's URL"
	}
	now, exp, iat := in.now, c.Expiry.Time(), c.IssuedAt.Time()
	latest := now
	if iat.Before(now) {
		latest = iat
	}
	latest = latest.Add(maxAssertionLifetime + assertionLeeway)
	switch {
	case c.Subject != c.Issuer:
		return "The assertion's sub must equal its iss, the client id."
	case !c.Audience.Contains(aud):
		return "The assertion's aud does not contain " + audName + "."
	case c.Expiry == nil:
		return "The assertion has no exp."
	case !now.Before(exp):
		return "The assertion has expired."
	case c.IssuedAt == nil:
		return "The assertion has no iat."
	case iat.After(now.Add(assertionLeeway)):
		return "The assertion's iat is in the future."
	case exp.After(latest):
		return "The assertion's exp is more than 5 minutes after its iat or the server's time."
	case c.NotBefore != nil && c.NotBefore.Time().After(now.Add(assertionLeeway)):
		return "The assertion is not valid yet (nbf)."
	case c.ID == "":
		return "The assertion has no jti."
	}
	key := a.ClientID + "\x00" + c.ID
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, until := range s.oauth2.jtis {
		if !now.Before(until) {
			delete(s.oauth2.jtis, k)
		}
	}
	if _, seen := s.oauth2.jtis[key]; seen {
		return "The assertion's jti was used before: a replay."
	}
	s.oauth2.jtis[key] = exp
	return ""
}
