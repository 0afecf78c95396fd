package fakevendor

import (
	"crypto/rand"
	"fmt"
	"time"
)

// TokenInfo describes a token the fake minted.
type TokenInfo struct {
	Provider string `json:"provider"`
	// Account is the id of the account it was minted for (client id, or
	// access key for Oracle CASB).
	Account string `json:"account"`
	// Scope is the scope granted (the TSG scope for SCM, the tenant host for
	// Bright Pattern), empty if none.
	Scope string `json:"scope,omitempty"`
	// AuthMethod is how an oauth2 client authenticated: AuthMethodBasic,
	// AuthMethodPost or AuthMethodPrivateKeyJWT. Empty for the other
	// providers.
	AuthMethod string `json:"auth_method,omitempty"`
	// Audience and Resources (oauth2) are the audience and resource
	// parameters the token was requested with.
	Audience  []string `json:"audience,omitempty"`
	Resources []string `json:"resources,omitempty"`
	// KeyID (oauth2 private_key_jwt) is the kid of the key whose assertion
	// the token was minted for.
	KeyID string `json:"kid,omitempty"`
	// IssuedAt and ExpiresAt are on the fake's clock (clock skew included).
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// tokenPrefixes make a fake token's origin obvious in a log or a test
// failure. The rest of the token is random.
var tokenPrefixes = map[string]string{
	ProviderSaaSSecurity:  "fake-saas-",
	ProviderSCM:           "fake-scm-",
	ProviderOracleCASB:    "fake-casb-",
	ProviderBrightPattern: "fake-bp-",
	ProviderOAuth2:        "fake-oauth2-",
}

// newTokenValue returns an unguessable token: a provider prefix and 256
// random bits.
func newTokenValue(provider string) string {
	return tokenPrefixes[provider] + rand.Text() + rand.Text()
}

// newUUID returns a random (version 4) UUID, used as the SaaS Security jti.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// remember stores a token the client received.
func (s *Server) remember(token string, info TokenInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = info
}

// Check tells whether token was minted by this server and has not expired
// at the fake's now (clock plus skew): ok is true only then. For a token
// minted here, info describes it even when it has expired; for any other
// token info is zero. Tokens whose bodies were truncated or omitted by a
// fault were never received by a client and are unknown.
func (s *Server) Check(token string) (info TokenInfo, ok bool) {
	now := s.Now()
	s.mu.Lock()
	info, known := s.tokens[token]
	s.mu.Unlock()
	return info, known && now.Before(info.ExpiresAt)
}
