package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
)

// grantType is the only OAuth2 grant the vendors support.
const grantType = "client_credentials"

// Content types sent.
const (
	contentTypeForm = "application/x-www-form-urlencoded"
	contentTypeJSON = "application/json"
)

// configError is a request that cannot be built. msg is our own text and
// must never contain a secret.
func configError(provider, msg string) *Error {
	return &Error{Provider: provider, Kind: KindConfig, Message: msg}
}

// formBody encodes name/value pairs as application/x-www-form-urlencoded in
// the order given, which is the order the vendor documents show.
func formBody(pairs ...[2]string) string {
	var b strings.Builder
	for i, kv := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[0]))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(kv[1]))
	}
	return b.String()
}

// newPost builds a POST to rawURL with the given body and content type,
// asking for JSON back.
func newPost(ctx context.Context, provider, rawURL, contentType string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return nil, configError(provider, "the token request cannot be built from token_url")
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", contentTypeJSON)
	return req, nil
}

// decodeObject decodes a success body as a JSON object whose values are kept
// raw.
func decodeObject(body []byte) (map[string]json.RawMessage, bool) {
	obj, ok := decodeJSON[map[string]json.RawMessage](body)
	return obj, ok && obj != nil
}

// stringField returns obj[key] as a string. A missing key or null is "",
// and so is a value of another type when strict is false; with strict, a
// value of another type is an error (ok false).
func stringField(obj map[string]json.RawMessage, key string, strict bool) (s string, ok bool) {
	raw := bytes.TrimSpace(obj[key])
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", true
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", !strict
	}
	return s, true
}

// extraNames are the names of a provider's extra response fields.
func extraNames(d Descriptor) []string {
	names := make([]string, len(d.Extra))
	for i, f := range d.Extra {
		names[i] = f.Name
	}
	return names
}

// oauthShape describes how one vendor's RFC 6749 style success response maps
// onto a Token.
type oauthShape struct {
	provider string
	// extraKeys are response fields copied into Token.Extra under the same
	// name when they are non-empty strings.
	extraKeys []string
	// extra adds fields that come from the request, not the response.
	extra func(p Params) map[string]string
}

// parse turns a vendor response into a Token: 2xx with a non-empty
// access_token and a usable expires_in.
func (s oauthShape) parse(p Params, resp *Response, now time.Time) (Token, error) {
	if !isSuccess(resp.StatusCode) {
		return Token{}, statusError(s.provider, p, resp)
	}
	obj, ok := decodeObject(resp.Body)
	if !ok {
		return Token{}, responseError(s.provider, p, resp, "the response is not a JSON object", true)
	}
	access, ok := stringField(obj, "access_token", true)
	if !ok {
		return Token{}, responseError(s.provider, p, resp, "access_token in the response is not a string", false)
	}
	if strings.TrimSpace(access) == "" {
		return Token{}, missingTokenError(s.provider, p, resp, "access_token")
	}
	exp, err := relativeExpiry(obj["expires_in"], now, p.DefaultTTL)
	if err != nil {
		return Token{}, lifetimeError(s.provider, p, resp, "expires_in", err)
	}
	tok := Token{
		AccessToken:       access,
		IssuedAt:          now,
		ExpiresAt:         exp.at,
		LifetimeDefaulted: exp.defaulted,
		LifetimeClamped:   exp.clamped,
		Extra:             map[string]string{},
	}
	tok.TokenType, _ = stringField(obj, "token_type", false)
	tok.Scope, _ = stringField(obj, "scope", false)
	if tok.Scope == "" {
		tok.Scope = p.RequestedScope() // the response names none: what was asked for
	}
	for _, k := range s.extraKeys {
		if v, _ := stringField(obj, k, false); v != "" {
			tok.Extra[k] = v
		}
	}
	if s.extra != nil {
		for k, v := range s.extra(p) {
			tok.Extra[k] = v
		}
	}
	return checkTokenFields(s.provider, p, resp, tok)
}

// lifetimeError is an unusable lifetime. The message names the field and the
// rule it broke; it never quotes the value, which is vendor text.
func lifetimeError(provider string, p Params, resp *Response, field string, err error) *Error {
	if errors.Is(err, errNoDefaultTTL) {
		return &Error{Provider: provider, Kind: KindConfig, StatusCode: resp.StatusCode, Message: err.Error()}
	}
	return responseError(provider, p, resp, field+" in the response "+err.Error(), false)
}

// checkTokenFields refuses a token whose fields cannot be handed out safely.
// The access token goes into an Authorization header, so it must be one
// word: no white space, no control character. The other fields must hold no
// control character and no line or paragraph separator either, as a
// recipe puts tenant_id into an HTTP header and a line break in any field
// could forge one. And no field may hold one of the config's secrets in any
// encoding: no vendor returns the client secret in a token response; one
// that does is broken or hostile, and its token must not be handed out (it
// would put the secret into a Vault response). The error names the field,
// never its value.
func checkTokenFields(provider string, p Params, resp *Response, tok Token) (Token, error) {
	r := p.redactor()
	fields := [][2]string{{"access_token", tok.AccessToken}, {"token_type", tok.TokenType}, {"scope", tok.Scope}}
	for _, k := range slices.Sorted(maps.Keys(tok.Extra)) {
		fields = append(fields, [2]string{k, tok.Extra[k]})
	}
	for i, f := range fields {
		what, bad := "a control character or line separator", lineBreaking
		if i == 0 {
			what, bad = "white space or a control character", func(c rune) bool { return lineBreaking(c) || unicode.IsSpace(c) }
		}
		if strings.ContainsFunc(f[1], bad) {
			return Token{}, responseError(provider, p, resp, f[0]+" holds "+what+"; the token is refused", false)
		}
		if r.echoes(f[1]) {
			return Token{}, responseError(provider, p, resp, "the response echoes a credential; the token is refused", false)
		}
	}
	return tok, nil
}

// lineBreaking reports whether c is a control character (C0, DEL, C1) or a
// Unicode line or paragraph separator.
func lineBreaking(c rune) bool {
	return unicode.IsControl(c) || c == '\u2028' || c == '\u2029'
}
