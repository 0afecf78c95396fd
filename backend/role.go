package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/backend/tokencache"
)

const (
	roleStoragePrefix = "roles/"

	maxRoleTTL    = 365 * 24 * time.Hour
	maxRoleMinTTL = 24 * time.Hour
)

// roleEntry is a stored role: roles/<name>. It binds readers to a config,
// optionally narrowing the scope (or TSG) and the lease.
type roleEntry struct {
	SchemaVersion int    `json:"schema_version"`
	Config        string `json:"config"`
	// Overrides are the config's provider fields this role sets for its
	// own tokens (provider.Field.RoleOverride: scope, tsg_id, ...), stored
	// as keys of the role itself.
	Overrides provider.Values `json:"-"`
	// TTL caps the lease; 0 means no cap beyond the token and the mount.
	TTL time.Duration `json:"ttl"`
	// MinTTL is the least remaining life a shared cached token must have
	// to be handed to this role's readers; 0 means half its lifetime.
	MinTTL time.Duration `json:"min_ttl"`
	// NoLease returns the token without a Vault lease (see the lease field).
	NoLease bool `json:"no_lease,omitempty"`
}

// storedRole is roleEntry's JSON form without the overrides.
type storedRole roleEntry

// MarshalJSON stores the overrides as keys of the role itself.
func (r roleEntry) MarshalJSON() ([]byte, error) {
	return jsonWithValues(storedRole(r), r.Overrides, overrideFields)
}

// UnmarshalJSON reads what MarshalJSON stored.
func (r *roleEntry) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, (*storedRole)(r)); err != nil {
		return err
	}
	var err error
	r.Overrides, err = valuesFromJSON(b, overrideFields)
	return err
}

// overrideFields are the provider fields a role may override.
var overrideFields = func() []provider.Field {
	var out []provider.Field
	for _, f := range provider.Fields() {
		if f.RoleOverride {
			out = append(out, f)
		}
	}
	return out
}()

// validate checks a complete role against its config and returns a
// message naming the field, or "".
func (r *roleEntry) validate(cfg *configEntry) string {
	d := cfg.descriptor()
	for _, f := range overrideFields {
		v := r.Overrides[f.Name]
		if v == "" {
			continue
		}
		if ok, why := d.Takes(f.Name, cfg.Values); !ok {
			if why == "" {
				why = "it applies to " + strings.Join(takers(f.Name), ", ") + " only"
			}
			return fmt.Sprintf("%s: config %q is %s, which takes no %s; %s", f.Name, r.Config, cfg.Provider, f.Name, why)
		}
		if err := f.Validate(v); err != nil {
			return err.Error()
		}
	}
	if r.TTL < 0 || r.TTL > maxRoleTTL {
		return fmt.Sprintf("ttl: %s is out of range; use 0 (no cap) to %s", r.TTL, maxRoleTTL)
	}
	if r.MinTTL < 0 || r.MinTTL > maxRoleMinTTL {
		return fmt.Sprintf("min_ttl: %s is out of range; use 0 (half the token's lifetime) to %s", r.MinTTL, maxRoleMinTTL)
	}
	return ""
}

// roleState is a role as the read path uses it: the stored entry and the
// token cache login of its config and scope, built on the first read after
// each config change and reused until the next.
type roleState struct {
	entry *roleEntry
	login atomic.Pointer[boundLogin]
}

// boundLogin is a role's login for one version of its config.
type boundLogin struct {
	cfg   *liveConfig
	login *tokencache.Login
}

// loginFor returns the role's login for cfg: the one built for this config
// version, or a new one. Concurrent first reads may each build one; any of
// them is right.
func (rs *roleState) loginFor(cfg *liveConfig) *tokencache.Login {
	if bl := rs.login.Load(); bl != nil && bl.cfg == cfg {
		return bl.login
	}
	params := cfg.entry.params(rs.entry)
	scope := params.RequestedScope()
	l := &tokencache.Login{
		Key:      cacheKey(cfg, params),
		Config:   cfg.name,
		Scope:    scope,
		Timeout:  cfg.entry.RequestTimeout,
		FailFast: cfg.entry.AuthFailureCooldown,
		Fetch: func(ctx context.Context) (provider.Token, error) {
			return cfg.fetch(ctx, params)
		},
	}
	rs.login.Store(&boundLogin{cfg: cfg, login: l})
	return l
}

// cacheKey identifies one distinct vendor token: the config (by name and by
// a fingerprint of everything that affects its tokens), the scope, and
// every value a role may override (a child TSG, an audience, a resource),
// since each changes the token the vendor issues: two roles share a token
// only when they would request the same one.
func cacheKey(cfg *liveConfig, params provider.Params) tokencache.Key {
	var b strings.Builder
	b.WriteString(cfg.name + "\x00" + cfg.fingerprint + "\x00" + params.RequestedScope())
	for _, f := range cfg.entry.descriptor().Fields {
		if f.RoleOverride {
			v := params.Get(f.Field)
			fmt.Fprintf(&b, "\x00%d:%s", len(v), v)
		}
	}
	return tokencache.Key(b.String())
}

func readRoleEntry(ctx context.Context, s logical.Storage, name string) (*roleEntry, error) {
	var r roleEntry
	found, err := getJSON(ctx, s, roleStoragePrefix+name, &r)
	if err != nil || !found {
		return nil, err
	}
	return &r, nil
}

// role returns the role from memory or storage; nil when it does not exist.
func (b *paloBackend) role(ctx context.Context, s logical.Storage, name string) (*roleState, error) {
	return loadShared(b, &b.roles, name, func() (*roleState, error) {
		r, err := readRoleEntry(ctx, s, name)
		if err != nil || r == nil {
			return nil, err
		}
		return &roleState{entry: r}, nil
	})
}

// rolesUsingConfig lists the roles bound to config name, reading storage.
func rolesUsingConfig(ctx context.Context, s logical.Storage, name string) ([]string, error) {
	names, err := s.List(ctx, roleStoragePrefix)
	if err != nil {
		return nil, fmt.Errorf("listing roles: %w", err)
	}
	var using []string
	for _, n := range names {
		r, err := readRoleEntry(ctx, s, n)
		if err != nil {
			return nil, err
		}
		if r != nil && r.Config == name {
			using = append(using, n)
		}
	}
	return using, nil
}
