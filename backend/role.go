package backend

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
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
	Scope         string `json:"scope,omitempty"`
	TSGID         string `json:"tsg_id,omitempty"`
	// TTL caps the lease; 0 means no cap beyond the token and the mount.
	TTL time.Duration `json:"ttl"`
	// MinTTL is the least remaining life a shared cached token must have
	// to be handed to this role's readers; 0 means half its lifetime.
	MinTTL time.Duration `json:"min_ttl"`
	// NoLease returns the token without a Vault lease (see the lease field).
	NoLease bool `json:"no_lease,omitempty"`
}

// validate checks a complete role against its config's provider and
// returns a message naming the field, or "".
func (r *roleEntry) validate(cfg *configEntry) string {
	for _, f := range []struct {
		field provider.Field
		value string
	}{{provider.Scope, r.Scope}, {provider.TSGID, r.TSGID}} {
		if f.value == "" {
			continue
		}
		if !takesField(cfg.Provider, f.field.Name) {
			return fmt.Sprintf("%s: config %q is %s, which takes no %s; it applies to %s only",
				f.field.Name, r.Config, cfg.Provider, f.field.Name, strings.Join(takers(f.field.Name), ", "))
		}
		if err := f.field.Validate(f.value); err != nil {
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

func readRoleEntry(ctx context.Context, s logical.Storage, name string) (*roleEntry, error) {
	var r roleEntry
	found, err := getJSON(ctx, s, roleStoragePrefix+name, &r)
	if err != nil || !found {
		return nil, err
	}
	return &r, nil
}

// role returns the role from memory or storage; nil when it does not exist.
func (b *paloBackend) role(ctx context.Context, s logical.Storage, name string) (*roleEntry, error) {
	b.mu.RLock()
	r, gen := b.roles[name], b.gen
	b.mu.RUnlock()
	if r != nil {
		return r, nil
	}
	r, err := readRoleEntry(ctx, s, name)
	if err != nil || r == nil {
		return nil, err
	}
	b.mu.Lock()
	if gen == b.gen {
		b.roles[name] = r
	}
	b.mu.Unlock()
	return r, nil
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
