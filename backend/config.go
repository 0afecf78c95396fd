package backend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
)

const (
	configStoragePrefix = "config/"

	// schemaVersion is written into every stored config and role. A newer
	// plugin reads every older entry; see initialize for migrations.
	schemaVersion = 1

	defaultRequestTimeout      = 30 * time.Second
	defaultTokenTTL            = 15 * time.Minute
	defaultAuthFailureCooldown = 30 * time.Second
)

// Bounds on config input; values outside them are refused with a 400.
const (
	minRequestTimeout      = time.Second
	maxRequestTimeout      = 5 * time.Minute
	minDefaultTokenTTL     = 10 * time.Second
	maxDefaultTokenTTL     = 24 * time.Hour
	maxAuthFailureCooldown = time.Hour
	maxIDLen               = 1024
	maxSecretLen           = 8192
	maxURLLen              = 2048
	maxScopeLen            = 1024
	maxCACertLen           = 1 << 20
	maxNameLen             = 128
)

// configEntry is a stored vendor account: config/<name>.
type configEntry struct {
	SchemaVersion int    `json:"schema_version"`
	Provider      string `json:"provider"`
	TokenURL      string `json:"token_url"`

	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	AccessKey    string `json:"access_key,omitempty"`
	AccessSecret string `json:"access_secret,omitempty"`

	TSGID     string `json:"tsg_id,omitempty"`
	Scope     string `json:"scope,omitempty"`
	AuthStyle string `json:"auth_style,omitempty"`

	CACert   string `json:"ca_cert,omitempty"`
	ProxyURL string `json:"proxy_url,omitempty"`

	RequestTimeout      time.Duration `json:"request_timeout"`
	DefaultTokenTTL     time.Duration `json:"default_token_ttl"`
	AuthFailureCooldown time.Duration `json:"auth_failure_cooldown"`
	VerifyConnection    bool          `json:"verify_connection"`
}

// configState is a config as the read path uses it: parsed once, with its
// HTTP client and the fingerprint that keys its tokens in the cache.
type configState struct {
	name        string
	entry       *configEntry
	client      *provider.Client
	fingerprint string
}

// providerFields says which provider-specific fields each provider takes.
// A field missing from a provider's set is refused with a 400 naming it.
var providerFields = map[string]map[string]bool{
	provider.PaloAltoSaaSSecurity: {"client_id": true, "client_secret": true, "scope": true},
	provider.PaloAltoSCM:          {"client_id": true, "client_secret": true, "tsg_id": true},
	provider.OracleCASB:           {"access_key": true, "access_secret": true},
	provider.BrightPattern:        {"client_id": true, "client_secret": true, "scope": true},
	provider.OAuth2:               {"client_id": true, "client_secret": true, "scope": true, "auth_style": true},
}

// providerSpecificFields lists every field that belongs to some providers
// only, in the order errors mention them.
var providerSpecificFields = []string{"client_id", "client_secret", "access_key", "access_secret", "tsg_id", "scope", "auth_style"}

// providerNames lists the supported providers, for messages and schemas.
var providerNames = []string{
	provider.PaloAltoSaaSSecurity, provider.PaloAltoSCM, provider.OracleCASB, provider.BrightPattern, provider.OAuth2,
}

// takesField reports whether provider p accepts the provider-specific field.
func takesField(p, field string) bool { return providerFields[p][field] }

var tsgIDRe = regexp.MustCompile(`^[0-9]{1,20}$`)

// validate checks a complete entry (after defaults and merging) and returns
// a message for the caller, naming the field, or "" when it is valid.
func (c *configEntry) validate() string {
	if _, ok := providerFields[c.Provider]; !ok {
		return fmt.Sprintf("provider: %q is not supported; use one of %s", c.Provider, strings.Join(providerNames, ", "))
	}
	if msg := validateTokenURL(c.TokenURL); msg != "" {
		return msg
	}
	if c.Provider == provider.OracleCASB {
		if msg := validateText("access_key", c.AccessKey, maxIDLen, true); msg != "" {
			return msg
		}
		if msg := validateText("access_secret", c.AccessSecret, maxSecretLen, true); msg != "" {
			return msg
		}
	} else {
		if msg := validateText("client_id", c.ClientID, maxIDLen, true); msg != "" {
			return msg
		}
		if msg := validateText("client_secret", c.ClientSecret, maxSecretLen, true); msg != "" {
			return msg
		}
	}
	switch c.Provider {
	case provider.PaloAltoSCM:
		if msg := validateTSGID(c.TSGID, true); msg != "" {
			return msg
		}
	case provider.BrightPattern:
		if c.Scope == "" {
			return "scope: required for bright_pattern: the tenant host, for example example.com"
		}
	case provider.OAuth2:
		if c.AuthStyle != provider.AuthStyleBasic && c.AuthStyle != provider.AuthStyleBody {
			return fmt.Sprintf("auth_style: %q is not valid; use %q or %q", c.AuthStyle, provider.AuthStyleBasic, provider.AuthStyleBody)
		}
	}
	if msg := validateScope(c.Scope); msg != "" {
		return msg
	}
	if len(c.CACert) > maxCACertLen {
		return fmt.Sprintf("ca_cert: too long (%d bytes; at most %d)", len(c.CACert), maxCACertLen)
	}
	if len(c.ProxyURL) > maxURLLen {
		return fmt.Sprintf("proxy_url: too long (%d bytes; at most %d)", len(c.ProxyURL), maxURLLen)
	}
	// The CA bundle and the proxy are checked by building the HTTP client
	// that will use them, so they are parsed by one piece of code only.
	if _, err := c.newClient(nil); err != nil {
		var pe *provider.Error
		if errors.As(err, &pe) {
			return pe.Message // names the field, never its value
		}
		return err.Error()
	}
	if c.RequestTimeout < minRequestTimeout || c.RequestTimeout > maxRequestTimeout {
		return fmt.Sprintf("request_timeout: %s is out of range; use %s to %s", c.RequestTimeout, minRequestTimeout, maxRequestTimeout)
	}
	if c.DefaultTokenTTL < minDefaultTokenTTL || c.DefaultTokenTTL > maxDefaultTokenTTL {
		return fmt.Sprintf("default_token_ttl: %s is out of range; use %s to %s", c.DefaultTokenTTL, minDefaultTokenTTL, maxDefaultTokenTTL)
	}
	if c.AuthFailureCooldown < 0 || c.AuthFailureCooldown > maxAuthFailureCooldown {
		return fmt.Sprintf("auth_failure_cooldown: %s is out of range; use 0 (off) to %s", c.AuthFailureCooldown, maxAuthFailureCooldown)
	}
	return ""
}

// validateText checks a short identifier or secret. The message never
// contains the value, since it may be a secret.
func validateText(field, v string, maxLen int, required bool) string {
	switch {
	case v == "" && required:
		return field + ": required"
	case len(v) > maxLen:
		return fmt.Sprintf("%s: too long (%d bytes; at most %d)", field, len(v), maxLen)
	case strings.TrimSpace(v) != v:
		return field + ": must not begin or end with white space"
	case hasControl(v):
		return field + ": must not contain control characters"
	}
	return ""
}

func validateScope(v string) string {
	return validateText("scope", v, maxScopeLen, false)
}

func validateTSGID(v string, required bool) string {
	if v == "" {
		if required {
			return "tsg_id: required for paloalto_scm: the Tenant Service Group id, for example 1234567890"
		}
		return ""
	}
	if !tsgIDRe.MatchString(v) {
		return fmt.Sprintf("tsg_id: %q is not valid; a Tenant Service Group id is digits only, for example 1234567890", truncate(v, 40))
	}
	return ""
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// validateTokenURL requires an absolute https:// URL, or http:// to a
// loopback host (for local testing), with no credentials in it.
func validateTokenURL(raw string) string {
	if raw == "" {
		return "token_url: required for this provider"
	}
	if len(raw) > maxURLLen {
		return fmt.Sprintf("token_url: too long (%d bytes; at most %d)", len(raw), maxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return fmt.Sprintf("token_url: %q is not an absolute URL", truncate(raw, 80))
	}
	if u.User != nil {
		return "token_url: must not contain credentials; set client_id and client_secret instead"
	}
	if u.Fragment != "" {
		return "token_url: must not contain a fragment"
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return fmt.Sprintf("token_url: http:// is accepted only for loopback hosts; use https://%s%s", u.Host, u.EscapedPath())
		}
	default:
		return fmt.Sprintf("token_url: scheme %q is not supported; use https://", u.Scheme)
	}
	return ""
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// redactedProxyURL is proxy_url as a read returns it: any password in it is
// replaced, since proxy credentials are secrets too.
func (c *configEntry) redactedProxyURL() string {
	if c.ProxyURL == "" {
		return ""
	}
	u, err := url.Parse(c.ProxyURL)
	if err != nil || u.User == nil {
		return c.ProxyURL
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "redacted")
	}
	return u.String()
}

// params is the token request for this config with a role's overrides.
func (c *configEntry) params(r *roleEntry) provider.Params {
	p := provider.Params{
		Provider:     c.Provider,
		TokenURL:     c.TokenURL,
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		AccessKey:    c.AccessKey,
		AccessSecret: c.AccessSecret,
		Scope:        c.Scope,
		TSGID:        c.TSGID,
		AuthStyle:    c.AuthStyle,
		DefaultTTL:   c.DefaultTokenTTL,
	}
	if r != nil {
		if r.Scope != "" {
			p.Scope = r.Scope
		}
		if r.TSGID != "" {
			p.TSGID = r.TSGID
		}
	}
	return p
}

// effectiveScope is the scope a token is minted for, as shown to operators.
func effectiveScope(p provider.Params) string {
	if p.Provider == provider.PaloAltoSCM {
		return "tsg_id:" + p.TSGID
	}
	return p.Scope
}

// fingerprint identifies everything about a config that makes its tokens
// different, secrets included, so a changed config never shares tokens with
// its previous version. It is a hash, kept in memory only.
func (c *configEntry) fingerprint() string {
	h := sha256.New()
	for _, f := range []string{
		c.Provider, c.TokenURL, c.ClientID, c.ClientSecret, c.AccessKey, c.AccessSecret,
		c.TSGID, c.Scope, c.AuthStyle, c.CACert, c.ProxyURL, c.DefaultTokenTTL.String(),
	} {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// newClient builds the HTTP client for this config; it logs one debug line
// per vendor attempt (never a secret or a token).
func (c *configEntry) newClient(logger hclog.Logger) (*provider.Client, error) {
	return provider.NewClient(provider.ClientOptions{
		CACertPEM: c.CACert,
		ProxyURL:  c.ProxyURL,
		UserAgent: userAgent(),
		Logger:    logger,
	})
}

func userAgent() string {
	return "vault-plugin-secrets-palo/" + Version
}

// readConfigEntry reads config/<name> from storage; nil when absent.
func readConfigEntry(ctx context.Context, s logical.Storage, name string) (*configEntry, error) {
	var c configEntry
	found, err := getJSON(ctx, s, configStoragePrefix+name, &c)
	if err != nil || !found {
		return nil, err
	}
	c.applyReadDefaults()
	return &c, nil
}

// applyReadDefaults fills settings an entry may lack because it was written
// before they existed (or by hand, without schema_version): a zero duration
// there means "never set", so the current default applies. Nothing is
// written back; the next config write stores the complete entry.
func (c *configEntry) applyReadDefaults() {
	if c.RequestTimeout == 0 {
		c.RequestTimeout = defaultRequestTimeout
	}
	if c.DefaultTokenTTL == 0 {
		c.DefaultTokenTTL = defaultTokenTTL
	}
	if c.SchemaVersion < 1 && c.AuthFailureCooldown == 0 {
		c.AuthFailureCooldown = defaultAuthFailureCooldown
	}
}

// config returns the parsed config, from memory or storage (double-checked
// so concurrent readers load it once). nil when it does not exist.
func (b *paloBackend) config(ctx context.Context, s logical.Storage, name string) (*configState, error) {
	b.mu.RLock()
	cs, gen := b.configs[name], b.gen
	b.mu.RUnlock()
	if cs != nil {
		return cs, nil
	}

	entry, err := readConfigEntry(ctx, s, name)
	if err != nil || entry == nil {
		return nil, err
	}
	client, err := entry.newClient(b.Logger().Named("provider").With("config", name))
	if err != nil {
		return nil, fmt.Errorf("config %q: building its HTTP client: %w", name, err)
	}
	loaded := &configState{name: name, entry: entry, client: client, fingerprint: entry.fingerprint()}

	b.mu.Lock()
	defer b.mu.Unlock()
	if cs := b.configs[name]; cs != nil {
		return cs, nil
	}
	// Remember it only if nothing was written or invalidated meanwhile;
	// otherwise this copy may already be stale.
	if gen == b.gen {
		b.configs[name] = loaded
	}
	return loaded, nil
}
