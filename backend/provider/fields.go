package provider

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// Field is a config field that some providers take: its name, how a UI and
// the help texts show it, and what a valid value looks like. Which provider
// takes it, requires it or gives it a default is said by each Descriptor.
type Field struct {
	Name  string
	Label string // the name a UI shows
	// Description says what the field holds, whatever the provider.
	Description string
	// Secret fields are write-only: never returned on read, and removed
	// from every vendor text that could quote them.
	Secret bool
	// Duration fields take seconds or a Go duration ("15m") and are read
	// back as whole seconds; the others are text.
	Duration bool
	// Values, when set, are the only values accepted.
	Values []string
	// Check returns what is wrong with a non-empty value, or nil; a
	// duration comes as a Go duration string ("1h0m0s"). Its message starts
	// with the field name and never quotes a secret.
	Check func(v string) error
	// Hidden fields are stored but are no part of the API: the engine
	// makes and changes them itself (a private key). They are never
	// accepted in a write nor shown in a read.
	Hidden bool
	// RoleOverride fields may be set per role too, overriding the
	// config's value for that role's tokens.
	RoleOverride bool
	// RotationOnly fields are used by rotation only: they do not change
	// the tokens a config gets.
	RotationOnly bool
	// Destination fields say where the credentials are sent: a write that
	// changes one must carry the secret too (see the engine's config write).
	Destination bool
	// Alias, when set, is an older name of the field that is still
	// accepted on input.
	Alias *Alias
}

// Alias is an older name of a field, with its older values mapped to the
// field's own.
type Alias struct {
	Name   string
	Values map[string]string
}

// Resolve returns the field's value for a value given under the alias,
// and false when the alias has no such value.
func (a *Alias) Resolve(v string) (string, bool) {
	out, ok := a.Values[v]
	return out, ok
}

// Bounds on the values of the fields.
const (
	MaxIDLen     = 1024
	MinSecretLen = 8
	MaxSecretLen = 8192
	MaxScopeLen  = 1024
	MaxURLLen    = 2048
)

// The fields of the providers.
var (
	ClientID = Field{
		Name: "client_id", Label: "Client ID", Description: "OAuth2 client id.",
		Check: textCheck("client_id", MaxIDLen),
	}
	ClientSecret = Field{
		Name: "client_secret", Label: "Client secret", Description: "OAuth2 client secret.", Secret: true,
		Check: secretCheck("client_secret"),
	}
	AccessKey = Field{
		Name: "access_key", Label: "Access key", Description: "Oracle CASB access key.",
		Check: textCheck("access_key", MaxIDLen),
	}
	AccessSecret = Field{
		Name: "access_secret", Label: "Access secret", Description: "Oracle CASB access secret.", Secret: true,
		Check: secretCheck("access_secret"),
	}
	TSGID = Field{
		Name: "tsg_id", Label: "TSG ID", RoleOverride: true,
		Description: "Tenant Service Group id, digits only. Sent as scope=tsg_id:<id>.",
		Check:       checkTSGID,
	}
	Scope = Field{
		Name: "scope", Label: "Scope", Description: "Token scope.", RoleOverride: true,
		Check: textCheck("scope", MaxScopeLen),
	}
	TokenEndpointAuthMethod = Field{
		Name: "token_endpoint_auth_method", Label: "Token endpoint auth method",
		Description: "How the client authenticates at the token endpoint, by its OAuth 2.0 name: " + AuthClientSecretBasic +
			" (HTTP Basic), " + AuthClientSecretPost + " (form fields) or " + AuthPrivateKeyJWT + " (a short JWT signed " +
			"with a key pair the engine makes, whose private key never leaves Vault; no client_secret). The older " +
			"auth_style values basic and body are accepted for the first two; a read shows this field.",
		Values: []string{AuthClientSecretBasic, AuthClientSecretPost, AuthPrivateKeyJWT},
		Alias:  &Alias{Name: "auth_style", Values: map[string]string{"basic": AuthClientSecretBasic, "body": AuthClientSecretPost}},
	}
)

// The token request parameters some OAuth2 servers need besides scope.
var (
	Audience = Field{
		Name: "audience", Label: "Audience", RoleOverride: true,
		Description: "The audience token request parameter: the API the token is for, as some servers (Auth0, Ory Hydra) " +
			"want it; several are space-separated.",
		Check: textCheck("audience", MaxScopeLen),
	}
	Resource = Field{
		Name: "resource", Label: "Resource", RoleOverride: true,
		Description: "Resource indicators (RFC 8707): absolute URIs of the APIs the token is for, space-separated; " +
			"each is sent as a resource parameter.",
		Check: checkResource,
	}
)

// absoluteURI reports whether s is an absolute URI without a fragment.
func absoluteURI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && u.Fragment == "" && !strings.Contains(s, "#")
}

// Validate returns what is wrong with a non-empty value of the field, or
// nil.
func (f Field) Validate(v string) error {
	if len(f.Values) > 0 {
		for _, ok := range f.Values {
			if v == ok {
				return nil
			}
		}
		return fmt.Errorf("%s: %q is not valid; use %s", f.Name, truncate(v, 40), quotedList(f.Values))
	}
	if f.Check == nil {
		return nil
	}
	return f.Check(v)
}

// textCheck accepts a value of at most maxLen bytes without surrounding white
// space or control characters. Its messages never quote the value.
func textCheck(field string, maxLen int) func(string) error {
	return func(v string) error {
		switch {
		case len(v) > maxLen:
			return fmt.Errorf("%s: too long (%d bytes; at most %d)", field, len(v), maxLen)
		case strings.TrimSpace(v) != v:
			return errors.New(field + ": must not begin or end with white space")
		case hasControl(v):
			return errors.New(field + ": must not contain control characters")
		}
		return nil
	}
}

// secretCheck is textCheck for a secret, which also refuses one shorter than
// MinSecretLen: no vendor issues such a secret, and a very short one would
// be found inside unrelated vendor text and blot it out.
func secretCheck(field string) func(string) error {
	text := textCheck(field, MaxSecretLen)
	return func(v string) error {
		if len(v) < MinSecretLen {
			return fmt.Errorf("%s: too short (%d bytes; at least %d): is it the whole secret?", field, len(v), MinSecretLen)
		}
		return text(v)
	}
}

var tsgIDRe = regexp.MustCompile(`^[0-9]{1,20}$`)

func checkTSGID(v string) error {
	if !tsgIDRe.MatchString(v) {
		return fmt.Errorf("tsg_id: %q is not valid; a Tenant Service Group id is digits only, for example 1234567890", truncate(v, 40))
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

func quotedList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, " or ")
}

// CheckTokenURL returns what is wrong with a token URL, or nil. A token URL
// is an absolute https:// URL, or http:// to a loopback host (for local
// testing), without credentials or a fragment. The message never quotes the
// URL, which could carry a secret in its query.
func CheckTokenURL(raw string) error { return checkURL("token_url", raw) }

// checkURL checks a vendor endpoint URL given in field as CheckTokenURL
// describes.
func checkURL(field, raw string) error {
	if len(raw) > MaxURLLen {
		return fmt.Errorf("%s: too long (%d bytes; at most %d)", field, len(raw), MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return errors.New(field + ": not an absolute https:// URL with a host")
	}
	if u.User != nil {
		return errors.New(field + ": must not contain user info (credentials); set them in the config's credential fields")
	}
	if u.Fragment != "" {
		return errors.New(field + ": must not contain a fragment")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return fmt.Errorf("%s: http:// is accepted only for loopback hosts; use https://%s%s", field, u.Host, u.EscapedPath())
		}
	default:
		return fmt.Errorf("%s: scheme %q is not supported; use an absolute https:// URL", field, truncate(u.Scheme, 20))
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
