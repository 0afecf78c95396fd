package backend

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/helper/locksutil"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/backend/tokencache"
)

func roleFields() map[string]*framework.FieldSchema {
	fields := map[string]*framework.FieldSchema{
		"name": nameField("role"),
		"config": {
			Type:         framework.TypeString,
			Description:  "Name of the vendor config this role mints tokens from. Required; must exist.",
			DisplayAttrs: &framework.DisplayAttributes{Name: "Config"},
		},
		"ttl": {
			Type: framework.TypeDurationSecond,
			Description: "Upper bound on the lease. The lease never outlives the token in any case; " +
				"0 (the default) means no bound beyond the token and the mount's max TTL.",
			DisplayAttrs: &framework.DisplayAttributes{Name: "TTL"},
		},
		"min_ttl": {
			Type: framework.TypeDurationSecond,
			Description: "The least remaining life a shared cached token must have to be handed to this role's readers; " +
				"with less, a new token is fetched. 0 (the default) means half the token's lifetime. " +
				"At most nine tenths of the token's lifetime can be met; a longer one falls back to half the lifetime, with a warning.",
			DisplayAttrs: &framework.DisplayAttributes{Name: "Minimum TTL"},
		},
		"lease": {
			Type:    framework.TypeBool,
			Default: true,
			Description: "When true (the default), creds returns the token as a leased, non-renewable secret. " +
				"When false, it returns the token without a Vault lease: no lease is stored, which is much cheaper on " +
				"integrated storage, but Vault cannot list or revoke what was issued. The data then carries ttl " +
				"(seconds left) so Vault Agent still re-fetches before the token expires.",
			DisplayAttrs: &framework.DisplayAttributes{Name: "Lease"},
		},
	}
	for _, f := range overrideFields {
		fields[f.Name] = &framework.FieldSchema{
			Type: framework.TypeString,
			Description: "Overrides the config's " + f.Name + " for this role's tokens (" + strings.Join(takers(f.Name), ", ") +
				"): " + f.Description,
			DisplayAttrs: &framework.DisplayAttributes{Name: f.Label},
		}
	}
	return fields
}

func pathRoles(b *paloBackend) []*framework.Path {
	return resource{
		prefix:        "roles",
		singular:      "role",
		plural:        "roles",
		fields:        roleFields(),
		readFields:    roleResponseFields(),
		storagePrefix: roleStoragePrefix,
		write:         b.pathRoleWrite,
		read:          b.pathRoleRead,
		delete:        b.pathRoleDelete,
		createSummary: "Create a role.",
		updateSummary: "Update a role; fields not given keep their values.",
		readSummary:   "Read a role.",
		deleteSummary: "Delete a role. Leases already issued stay valid until they expire.",
		listHelp:      "Lists the names of the roles stored under roles/: each binds the readers of creds/<name> to a vendor config.",
		synopsis:      "Manage a role: which config its readers get tokens from, and how.",
		help:          strings.TrimSpace(roleHelp),
	}.paths()
}

func roleResponseFields() map[string]*framework.FieldSchema {
	f := roleFields()
	delete(f, "name")
	return f
}

func (b *paloBackend) pathRoleRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	r, err := readRoleEntry(ctx, req.Storage, d.Get("name").(string))
	if err != nil || r == nil {
		return nil, err
	}
	data := map[string]any{
		"config":  r.Config,
		"ttl":     seconds(r.TTL),
		"min_ttl": seconds(r.MinTTL),
		"lease":   !r.NoLease,
	}
	for _, f := range overrideFields {
		data[f.Name] = r.Overrides[f.Name]
	}
	return &logical.Response{Data: data}, nil
}

func (b *paloBackend) pathRoleWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name, resp := writeTarget(req, d)
	if resp != nil {
		return resp, nil
	}

	lock := locksutil.LockForKey(b.roleLocks, name)
	lock.Lock()
	defer lock.Unlock()

	existing, err := readRoleEntry(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	var r roleEntry
	if existing != nil {
		r = *existing
	}
	r.SchemaVersion = schemaVersion
	if v, ok := d.GetOk("config"); ok {
		r.Config = strings.TrimSpace(v.(string))
	}
	r.Overrides = maps.Clone(r.Overrides)
	if r.Overrides == nil {
		r.Overrides = provider.Values{}
	}
	for _, f := range overrideFields {
		if v, ok := d.GetOk(f.Name); ok {
			r.Overrides[f.Name] = strings.TrimSpace(v.(string))
		}
	}
	for f, dst := range map[string]*time.Duration{"ttl": &r.TTL, "min_ttl": &r.MinTTL} {
		if v, ok := d.GetOk(f); ok {
			*dst = time.Duration(v.(int)) * time.Second
		}
	}
	if v, ok := d.GetOk("lease"); ok {
		r.NoLease = !v.(bool)
	}
	if r.Config == "" {
		return logical.ErrorResponse("config: required: the name of a vendor config (see LIST config/)"), nil
	}
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	cfg, err := readConfigEntry(ctx, req.Storage, r.Config)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return logical.ErrorResponse("config: %q does not exist; write config/%s first", r.Config, r.Config), nil
	}
	if msg := r.validate(cfg); msg != "" {
		return logical.ErrorResponse(msg), nil
	}
	if err := putJSON(ctx, req.Storage, roleStoragePrefix+name, &r); err != nil {
		return nil, err
	}
	b.forgetRole(name)
	if w := b.minTTLWarnings(&r); len(w) > 0 {
		return &logical.Response{Warnings: w}, nil
	}
	return nil, nil
}

// minTTLWarnings says, when a role is written, what can be known then about
// a min_ttl that its tokens cannot meet: that it is longer than the role's
// own ttl, and that it exceeds nine tenths of the lifetime of the tokens
// its config has in the cache (the limit past which reads fall back to
// half the lifetime; see tokencache).
func (b *paloBackend) minTTLWarnings(r *roleEntry) []string {
	if r.MinTTL <= 0 {
		return nil
	}
	var w []string
	if r.TTL > 0 && r.MinTTL > r.TTL {
		w = append(w, fmt.Sprintf("min_ttl %s is longer than ttl %s: readers re-read within ttl, yet each needs a token with "+
			"min_ttl left; tokens are replaced earlier than the leases need", r.MinTTL, r.TTL))
	}
	for _, e := range b.cache.Entries() {
		life := e.ExpiresAt.Sub(e.IssuedAt)
		if e.Config == r.Config && life > 0 && r.MinTTL > tokencache.MaxMinTTL(life) {
			w = append(w, fmt.Sprintf("min_ttl %s cannot be met: the tokens of config %q live %s; reads will hand out tokens "+
				"while they have at least half their lifetime (%s) left instead; use a min_ttl of at most %s",
				r.MinTTL, r.Config, life.Truncate(time.Second), (life/2).Truncate(time.Second), tokencache.MaxMinTTL(life).Truncate(time.Second)))
			break
		}
	}
	return w
}

func (b *paloBackend) pathRoleDelete(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	lock := locksutil.LockForKey(b.roleLocks, name)
	lock.Lock()
	defer lock.Unlock()
	if err := req.Storage.Delete(ctx, roleStoragePrefix+name); err != nil {
		return nil, fmt.Errorf("deleting role %q: %w", name, err)
	}
	b.forgetRole(name)
	return nil, nil
}

const roleHelp = `
A role binds readers of creds/<role> to a vendor config. Vault ACL policies
grant teams read on their own creds/<role> paths only.

  vault write palo/roles/wildfire config=scm-prod
  vault write palo/roles/child-tenant config=scm-prod tsg_id=1234567891 ttl=10m

scope and tsg_id override the config's values (for example a child TSG).
ttl caps the lease. min_ttl is the least remaining life a shared token must
have to be handed out (default: half its lifetime); one over nine tenths of
the token's lifetime cannot be met, so reads fall back to half the lifetime
and warn, and a role write warns when it can tell. lease=false returns the
token without a Vault lease.
`
