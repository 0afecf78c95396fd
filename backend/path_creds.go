package backend

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
)

func credsResponseFields() map[string]*framework.FieldSchema {
	fields := map[string]*framework.FieldSchema{
		"access_token":        {Type: framework.TypeString, Description: "The vendor's bearer token.", DisplayAttrs: &framework.DisplayAttributes{Sensitive: true}},
		"token_type":          {Type: framework.TypeString, Description: "The token type the vendor reported (Bearer)."},
		"expires_at":          {Type: framework.TypeString, Description: "When the token expires (RFC 3339, UTC)."},
		"expires_in":          {Type: framework.TypeInt64, Description: "Seconds the token had left when this response was issued."},
		"scope":               {Type: framework.TypeString, Description: "The scope the token was granted for, when known."},
		"ttl":                 {Type: framework.TypeInt64, Description: "Only for roles with lease=false: seconds until the reader should read again (what the lease would have been, with every bound a lease gets, less one second)."},
		"rotation_period":     {Type: framework.TypeInt64, Description: "Only for roles with lease=false: the token's whole lifetime in seconds. With ttl, it tells Vault Agent when to read again."},
		"last_vault_rotation": {Type: framework.TypeString, Description: "Only for roles with lease=false: when the served token was issued (RFC 3339, UTC). With ttl and rotation_period, it lets Vault Secrets Operator (allowStaticCreds) schedule the next read."},
	}
	for _, d := range provider.Descriptors() {
		for _, f := range d.Extra {
			fields[f.Name] = &framework.FieldSchema{Type: framework.TypeString, Description: d.Name + ": " + f.Description}
		}
	}
	return fields
}

// extraFieldsHelp lists the providers' extra response fields for the help
// text, one line each.
func extraFieldsHelp() string {
	var b strings.Builder
	for _, d := range provider.Descriptors() {
		for _, f := range d.Extra {
			fmt.Fprintf(&b, "  %-13s %s: %s\n", f.Name, d.Name, f.Description)
		}
	}
	return b.String()
}

func pathCreds(b *paloBackend) *framework.Path {
	return &framework.Path{
		Pattern: "creds/" + namePattern("name"),
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefix,
			OperationVerb:   "generate",
			OperationSuffix: "credentials",
		},
		Fields: map[string]*framework.FieldSchema{
			"name": {Type: framework.TypeString, Description: "Name of the role.", Required: true},
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{
				Callback: b.pathCredsRead,
				Summary:  "Get a short-lived vendor token for a role.",
				// A performance standby (Vault Enterprise, or OpenBao's
				// standbys, which serve reads) cannot store the lease and
				// would mint its own token: the framework answers
				// ErrReadOnly there before the handler runs, and the
				// server forwards the read to the active node, whose
				// cache serves the whole cluster. Not forwarded from a
				// performance secondary: that cluster issues its own
				// leases and keeps its own tokens.
				ForwardPerformanceStandby: true,
				Responses: map[int][]framework.Response{
					http.StatusOK: {{Description: "OK", Fields: credsResponseFields()}},
				},
			},
		},
		HelpSynopsis:    "Get a short-lived vendor token for a role.",
		HelpDescription: strings.TrimSpace(fmt.Sprintf(credsHelpFormat, extraFieldsHelp())),
	}
}

func (b *paloBackend) pathCredsRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	// The name as the path matched it: d.Get would convert it again
	// through the schema, which costs a few allocations on every read.
	roleName, _ := d.Raw["name"].(string)
	rs, err := b.role(ctx, req.Storage, roleName)
	if err != nil {
		return nil, err
	}
	if rs == nil {
		return logical.ErrorResponse("role %q does not exist (see LIST roles/)", roleName), nil
	}
	role := rs.entry
	cfg, err := b.liveConfig(ctx, req.Storage, role.Config)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, fmt.Errorf("role %q uses config %q, which does not exist", roleName, role.Config)
	}

	res, err := b.cache.Get(ctx, rs.loginFor(cfg), roleName, role.MinTTL)
	if err != nil {
		return nil, b.vendorError(ctx, cfg, err)
	}

	tok := res.Token
	now := b.now()
	ttl, err := leaseTTL(tok, now, leaseLimit(role, b.mountTTLs()))
	if err != nil {
		return nil, fmt.Errorf("config %q (%s): %w", cfg.name, cfg.entry.Provider, err)
	}

	size := 5 + len(tok.Extra) // the fields below
	if role.NoLease {
		size += 3
	}
	data := make(map[string]any, size)
	data["access_token"] = tok.AccessToken
	data["token_type"] = tok.TokenType
	data["expires_at"] = tok.ExpiresAt.UTC().Format(time.RFC3339)
	data["expires_in"] = int64(tok.ExpiresAt.Sub(now) / time.Second)
	if tok.Scope != "" {
		data["scope"] = tok.Scope
	}
	for k, v := range tok.Extra {
		if v != "" {
			data[k] = v
		}
	}

	var resp *logical.Response
	if role.NoLease {
		// Without a lease, Vault Agent (consul-template) schedules the next
		// read from ttl and rotation_period: it sleeps ttl+1 seconds when
		// rotation_period is present. One second is taken off ttl so that
		// re-read still lands inside what the lease would have been.
		// Vault Secrets Operator schedules from the same two fields plus
		// last_vault_rotation, the token's issue time.
		data["ttl"] = max(int64(ttl/time.Second)-1, 1)
		data["rotation_period"] = int64(tok.Lifetime() / time.Second)
		data["last_vault_rotation"] = tok.IssuedAt.UTC().Format(time.RFC3339)
		resp = &logical.Response{Data: data}
	} else {
		resp = b.Secret(secretTokenType).Response(data, map[string]any{"role": roleName, "config": cfg.name})
		resp.Secret.TTL = ttl
		resp.Secret.MaxTTL = ttl
		resp.Secret.Renewable = false
	}
	resp.Warnings = res.Warnings
	if tok.LifetimeDefaulted || tok.LifetimeClamped {
		resp.Warnings = append(resp.Warnings, lifetimeWarnings(tok, cfg.name, cfg.entry.DefaultTokenTTL)...)
	}
	return resp, nil
}

// vendorError turns a failed fetch into the error a reader sees, naming the
// config, the vendor, the HTTP status and the vendor's message. Vault
// answers it with a 500: the request was fine, the upstream was not. A
// reader that gave up (its own context ended) gets its context error.
func (b *paloBackend) vendorError(ctx context.Context, cfg *liveConfig, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err
	}
	b.Logger().Warn("token fetch failed", "config", cfg.name, "error", err.Error())
	var pe *provider.Error
	if errors.As(err, &pe) {
		return fmt.Errorf("config %q: %w", cfg.name, err) // the provider error names the vendor
	}
	return fmt.Errorf("config %q (%s): %w", cfg.name, cfg.entry.Provider, err)
}

//nolint:gosec // G101 false positive: this is help text that mentions tokens, not a credential.
const credsHelpFormat = `
Reading creds/<role> returns a short-lived vendor token for the role's config:

  access_token  the bearer token
  token_type    as the vendor reported it
  expires_at    when the token expires (RFC 3339, UTC)
  expires_in    seconds it had left when issued
  scope         the granted scope, when known
%s
For roles with lease=false there is no lease, and the data also carries:

  ttl                  seconds until the reader should read again: what the
                       lease would have been, less one second
  rotation_period      the token's whole lifetime in seconds
  last_vault_rotation  when the token was issued (RFC 3339, UTC)

Vault Agent schedules re-reads from ttl and rotation_period, Vault Secrets
Operator (allowStaticCreds) from all three.

The lease is not renewable and ends before the token does: its TTL is the
token's remaining life less a safety margin (a tenth of its lifetime, 1s to
30s), capped by the role's ttl (or the mount's default lease TTL) and the
mount's max lease TTL, which the engine reads from Vault at most once a
second. Read again for a new lease; Vault Agent does this on its own at
85-95%% of the lease.

One token per config and scope (and audience and resource, where a role
overrides them) is shared by all readers and refreshed in the
background before it stops qualifying (see the role's min_ttl), so readers
rarely wait on the vendor. A min_ttl over nine tenths of the token's
lifetime cannot be met: half the lifetime applies instead, with a warning.
If the vendor fails while the shared token still has life left, that token
is served with a warning and a shorter lease.

Revoking a lease cannot revoke the vendor token: none of the vendors has an
endpoint for that. Revocation is a no-op that never affects other readers;
the token stays valid at the vendor until it expires. To stop new tokens,
rotate the client secret: config/<name>/rotate-root for paloalto_scm, or at
the vendor for the others, then write it to the config.
`
