package backend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unique"

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
	maxCACertLen           = 1 << 20
	maxNameLen             = 128
)

// configEntry is a stored vendor account: config/<name>. The provider's own
// fields are in Values, stored as keys of the same JSON object (client_id,
// client_secret, scope, ...), as every version of the engine has stored
// them.
type configEntry struct {
	SchemaVersion int    `json:"schema_version"`
	Provider      string `json:"provider"`
	TokenURL      string `json:"token_url"`

	Values provider.Values `json:"-"`

	CACert   string `json:"ca_cert,omitempty"`
	ProxyURL string `json:"proxy_url,omitempty"`
	// shared keeps CACert's one copy in memory alive: configs of one CA
	// bundle share it (see readConfigEntry).
	shared unique.Handle[string]

	RequestTimeout      time.Duration `json:"request_timeout"`
	DefaultTokenTTL     time.Duration `json:"default_token_ttl"`
	AuthFailureCooldown time.Duration `json:"auth_failure_cooldown"`
	VerifyConnection    bool          `json:"verify_connection"`

	// schedule is when the engine rotates the credential on its own
	// (configs whose credential it can rotate; see schedule.go).
	schedule
	// SecretSetAt is when the credential was last written, by hand or by
	// a rotation: the schedule counts from it.
	SecretSetAt time.Time `json:"secret_set_at,omitzero"`
	// LastVaultRotation is when the engine last rotated the credential.
	LastVaultRotation time.Time `json:"last_vault_rotation,omitzero"`
}

// storedConfig is configEntry's JSON form without the provider fields.
type storedConfig configEntry

// MarshalJSON stores the provider fields as keys of the entry itself.
func (c configEntry) MarshalJSON() ([]byte, error) {
	return jsonWithValues(storedConfig(c), c.Values, provider.Fields())
}

// UnmarshalJSON reads what MarshalJSON stored, and entries of every
// earlier version.
func (c *configEntry) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, (*storedConfig)(c)); err != nil {
		return err
	}
	var err error
	c.Values, err = valuesFromJSON(b, provider.Fields())
	return err
}

// clone returns a copy of c whose Values can be changed without changing
// c's.
func (c *configEntry) clone() *configEntry {
	out := *c
	out.Values = maps.Clone(c.Values)
	if out.Values == nil {
		out.Values = provider.Values{}
	}
	return &out
}

// liveConfig is a stored configEntry loaded for serving reads: parsed once,
// with its HTTP client and the fingerprint that keys its tokens in the
// cache. paloBackend.liveConfig keeps one per name until the config changes.
type liveConfig struct {
	name        string
	entry       *configEntry
	client      *provider.Client
	fingerprint string
	// rotated is the credential a rotation stored after this config was
	// loaded. Fetches use it, while the tokens cached under the
	// fingerprint (minted with the old credential) keep being served.
	rotated atomic.Pointer[provider.Values]
	// run is the rotation of this config running on this node, if any.
	run atomic.Pointer[rotationRun]
}

// descriptor is the entry's provider; the zero Descriptor when unknown.
func (c *configEntry) descriptor() provider.Descriptor {
	d, _ := provider.Describe(c.Provider)
	return d
}

// rotation is how the engine rotates this config's credential, nil when it
// cannot.
func (c *configEntry) rotation() provider.Rotation { return provider.RotationOf(c.Provider, c.Values) }

// readValue returns a provider field as a read shows it: text as is, a
// duration in whole seconds.
func (c *configEntry) readValue(f provider.Field) any {
	v := c.Values[f.Name]
	if f.Duration {
		d, _ := time.ParseDuration(v)
		return seconds(d)
	}
	return v
}

// takers lists the providers that take the provider-specific field.
func takers(field string) []string {
	var names []string
	for _, d := range provider.Descriptors() {
		if _, ok := d.Field(field); ok {
			names = append(names, d.Name)
		}
	}
	return names
}

// unsupportedProvider is the message for a provider name that is not one.
func unsupportedProvider(p string) string {
	return fmt.Sprintf("provider: %q is not supported; use one of %s", p, strings.Join(provider.Names(), ", "))
}

// validate checks a complete entry (after defaults and merging) and returns
// a message for the caller, naming the field, or "" when it is valid.
func (c *configEntry) validate() string {
	d, ok := provider.Describe(c.Provider)
	if !ok {
		return unsupportedProvider(c.Provider)
	}
	if missing := d.Missing(c.TokenURL, c.Values); len(missing) > 0 {
		return fmt.Sprintf("missing required field(s) for %s: %s", c.Provider, strings.Join(missing, ", "))
	}
	if err := provider.CheckTokenURL(c.TokenURL); err != nil {
		return err.Error()
	}
	for _, f := range d.Fields {
		if v := c.Values[f.Name]; v != "" {
			if err := f.Validate(v); err != nil {
				return err.Error()
			}
		}
	}
	if len(c.CACert) > maxCACertLen {
		return fmt.Sprintf("ca_cert: too long (%d bytes; at most %d)", len(c.CACert), maxCACertLen)
	}
	if len(c.ProxyURL) > provider.MaxURLLen {
		return fmt.Sprintf("proxy_url: too long (%d bytes; at most %d)", len(c.ProxyURL), provider.MaxURLLen)
	}
	// The CA bundle and the proxy are checked by building the HTTP client
	// that will use them, so they are parsed by one piece of code only.
	if _, err := c.newClient(nil, nil); err != nil {
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
	return c.validateSchedule()
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
		Provider:   c.Provider,
		TokenURL:   c.TokenURL,
		Values:     c.Values,
		DefaultTTL: c.DefaultTokenTTL,
	}
	if r != nil && len(r.Overrides) > 0 {
		p.Values = maps.Clone(c.Values)
		for k, v := range r.Overrides {
			if v != "" {
				p.Values[k] = v
			}
		}
	}
	return p
}

// fingerprint identifies everything about a config that makes its tokens
// different, secrets included, so a changed config never shares tokens with
// its previous version. Fields that only rotation uses (Field.RotationOnly)
// are left out. It is a hash, kept in memory only.
func (c *configEntry) fingerprint() string {
	h := sha256.New()
	write := func(s string) { fmt.Fprintf(h, "%d:%s;", len(s), s) }
	for _, s := range []string{c.Provider, c.TokenURL, c.CACert, c.ProxyURL, c.DefaultTokenTTL.String()} {
		write(s)
	}
	for _, k := range slices.Sorted(maps.Keys(c.Values)) {
		if f, ok := c.descriptor().Field(k); ok && !f.RotationOnly {
			write(k)
			write(c.Values[k])
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// newClient builds the vendor client for this config, sharing its HTTP
// connection pool with the other configs of the same CA bundle and proxy
// when shared is not nil; it logs one debug line per vendor attempt (never
// a secret or a token).
func (c *configEntry) newClient(logger hclog.Logger, shared *provider.Transports) (*provider.Client, error) {
	return provider.NewClient(provider.ClientOptions{
		CACertPEM:  c.CACert,
		ProxyURL:   c.ProxyURL,
		UserAgent:  userAgent(),
		Logger:     logger,
		Transports: shared,
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
	c.applyDefaults()
	// Thousands of configs of one vendor carry the same CA bundle: one
	// copy of it in memory serves them all.
	c.shared = unique.Make(c.CACert)
	c.CACert = c.shared.Value()
	return &c, nil
}

// applyDefaults fills every setting the entry leaves empty with its
// default: on write, the settings the request did not give; on read, the
// settings an entry lacks because it was written before they existed. A
// zero duration there means "never set". Nothing is written back on read;
// the next config write stores the complete entry.
func (c *configEntry) applyDefaults() {
	if c.RequestTimeout == 0 {
		c.RequestTimeout = defaultRequestTimeout
	}
	if c.DefaultTokenTTL == 0 {
		c.DefaultTokenTTL = defaultTokenTTL
	}
	if c.SchemaVersion < 1 && c.AuthFailureCooldown == 0 {
		c.AuthFailureCooldown = defaultAuthFailureCooldown
	}
	d := c.descriptor()
	if c.TokenURL == "" {
		c.TokenURL = d.DefaultTokenURL
	}
	if c.Values == nil {
		c.Values = provider.Values{}
	}
	d.ApplyDefaults(c.Values)
}

// liveConfig returns the loaded config, from memory or storage; nil when
// it does not exist.
func (b *paloBackend) liveConfig(ctx context.Context, s logical.Storage, name string) (*liveConfig, error) {
	return loadShared(b, &b.configs, name, func() (*liveConfig, error) {
		entry, err := readConfigEntry(ctx, s, name)
		if err != nil || entry == nil {
			return nil, err
		}
		b.metrics.noteConfig(name, entry)
		client, err := entry.newClient(b.Logger().Named("provider").With("config", name), &b.transports)
		if err != nil {
			return nil, fmt.Errorf("config %q: building its HTTP client: %w", name, err)
		}
		return &liveConfig{name: name, entry: entry, client: client, fingerprint: entry.fingerprint()}, nil
	})
}

// loadShared returns (*m)[name] from memory, or else what load reads from
// storage (nil when name does not exist). It is double-checked, so that
// concurrent readers share one copy, and remembers the copy only if nothing
// was written or invalidated while it loaded (b.gen): otherwise that copy
// may already be stale. m points at the map field, which clean replaces.
func loadShared[T any](b *paloBackend, m *map[string]*T, name string, load func() (*T, error)) (*T, error) {
	b.mu.RLock()
	v, gen := (*m)[name], b.gen
	b.mu.RUnlock()
	if v != nil {
		return v, nil
	}
	loaded, err := load()
	if err != nil || loaded == nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if v := (*m)[name]; v != nil {
		return v, nil
	}
	if gen == b.gen {
		(*m)[name] = loaded
	}
	return loaded, nil
}
