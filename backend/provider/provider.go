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
	"encoding/base64"
	"net/http"
	"net/url"
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

// Values are a config's provider-specific field values, by field name
// (client_id, client_secret, scope, tsg_id, ...). A name without a value
// is "".
type Values map[string]string

// Params is everything one token request needs. The backend builds it from a
// stored config and a role: the token URL and every provider default are
// filled in, and the role's overrides applied.
type Params struct {
	Provider string // one of the provider names above
	TokenURL string
	// Values holds the provider's fields. Secret fields (Field.Secret) are
	// never logged and never part of an error.
	Values Values
	// DefaultTTL is the lifetime assumed when the response carries none.
	DefaultTTL time.Duration

	// assertion is the client assertion of one private_key_jwt attempt,
	// signed by Client.Fetch.
	assertion string
}

// Get returns the value of field f.
func (p Params) Get(f Field) string { return p.Values[f.Name] }

// redactedForms returns the values of the provider's secret fields that
// are set, and the HTTP Basic credentials made of the client id and
// secret: what must never show in vendor text passed on.
func (p Params) redactedForms() []string {
	var out []string
	for _, f := range allFields {
		if v := p.Values[f.Name]; f.Secret && v != "" {
			out = append(out, v)
		}
	}
	if id, secret := p.Get(ClientID), p.Get(ClientSecret); secret != "" {
		enc := base64.StdEncoding.EncodeToString
		out = append(out, enc([]byte(id+":"+secret)), enc([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret))))
	}
	return out
}

// redactor is the redactor of p's secrets.
func (p Params) redactor() redactor { return newRedactor(p.redactedForms()...) }

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
