// Package provider speaks the token-endpoint protocols of the supported
// vendors: one file per vendor holding its Descriptor (what the engine and
// its help texts know about it) and its Protocol (two methods), plus the
// HTTP client (timeouts, retries, size limits, TLS, proxies) and the parsing
// of token lifetimes.
//
// It imports no Vault package, so it can be unit-tested and fuzzed on its own.
package provider

import (
	"context"
	"net/http"
	"time"
)

// Names of the supported providers, as written in a config's provider field.
const (
	PaloAltoSaaSSecurity = "paloalto_saas_security"
	PaloAltoSCM          = "paloalto_scm"
	OracleCASB           = "oracle_casb"
	BrightPattern        = "bright_pattern"
	OAuth2               = "oauth2"
)

// Auth styles of the generic oauth2 provider.
const (
	AuthStyleBasic = "basic" // HTTP Basic client_id:client_secret (RFC 6749 section 2.3.1)
	AuthStyleBody  = "body"  // client_id and client_secret as form fields
)

// Params is everything one token request needs. The backend builds it from a
// stored config and a role; the effective scope (after role overrides and
// defaults) is already resolved.
type Params struct {
	Provider string // one of the provider names above
	TokenURL string

	ClientID     string // every provider but oracle_casb
	ClientSecret string // secret: never logged, never in an error
	AccessKey    string // oracle_casb only
	AccessSecret string // oracle_casb only; secret

	// Scope is the effective scope: api_access (or other scopes) for SaaS
	// Security, the tenant host for Bright Pattern, optional for oauth2.
	Scope string
	// TSGID is the Tenant Service Group id for paloalto_scm, sent as
	// scope=tsg_id:<TSGID>.
	TSGID string
	// AuthStyle is AuthStyleBasic or AuthStyleBody (oauth2 only).
	AuthStyle string

	// DefaultTTL is the lifetime assumed when the response carries none.
	DefaultTTL time.Duration
}

// value returns the value of the named config field in p, "" for a field
// Params does not carry.
func (p Params) value(field string) string {
	switch field {
	case "token_url":
		return p.TokenURL
	case ClientID.Name:
		return p.ClientID
	case ClientSecret.Name:
		return p.ClientSecret
	case AccessKey.Name:
		return p.AccessKey
	case AccessSecret.Name:
		return p.AccessSecret
	case Scope.Name:
		return p.Scope
	case TSGID.Name:
		return p.TSGID
	case AuthStyle.Name:
		return p.AuthStyle
	}
	return ""
}

// tokenURL is p.TokenURL, or the provider's default when it is empty.
func (p Params) tokenURL() string {
	if p.TokenURL != "" {
		return p.TokenURL
	}
	return DefaultTokenURL(p.Provider)
}

// Token is a vendor access token as received.
type Token struct {
	AccessToken string
	TokenType   string
	Scope       string

	// IssuedAt is the local time the response was received.
	IssuedAt time.Time
	// ExpiresAt is the local-clock time at which the token stops working. For
	// an absolute vendor expiry (Oracle's expiresAt) it is corrected by the
	// difference between the response Date header and the local clock, so a
	// skewed clock cannot stretch it.
	ExpiresAt time.Time
	// LifetimeDefaulted is true when the vendor sent no lifetime and
	// Params.DefaultTTL was assumed.
	LifetimeDefaulted bool
	// LifetimeClamped is true when the vendor's lifetime exceeded
	// MaxLifetime and was cut down to it.
	LifetimeClamped bool

	// Extra holds the vendor's additional fields, by the names the creds
	// endpoint returns them under: tenant and jti (SaaS Security), tenant_id
	// (Oracle CASB), tsg_id (SCM).
	Extra map[string]string

	// Attempts is how many HTTP requests the fetch made, retries included.
	Attempts int
}

// Lifetime is the token's whole lifetime as granted.
func (t Token) Lifetime() time.Duration { return t.ExpiresAt.Sub(t.IssuedAt) }

// Protocol is one vendor's token-endpoint protocol. Implementations are
// stateless and safe for concurrent use.
type Protocol interface {
	// NewRequest builds the token request for p, which has every field the
	// provider's Descriptor requires. It must not perform I/O.
	NewRequest(ctx context.Context, p Params) (*http.Request, error)
	// ParseResponse turns a complete vendor response into a token. now is
	// the local receive time. A non-nil error is an *Error.
	ParseResponse(p Params, resp *Response, now time.Time) (Token, error)
}

// Response is a vendor response whose body has been read (through a size
// limit) and closed.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}
