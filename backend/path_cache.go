package backend

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

func pathCache(b *paloBackend) *framework.Path {
	return &framework.Path{
		Pattern: "cache$",
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefix,
			OperationSuffix: "cache",
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{
				Callback: b.pathCacheRead,
				Summary:  "List the cached tokens on this node (never the tokens themselves).",
				Responses: map[int][]framework.Response{
					http.StatusOK: {{Description: "OK", Fields: map[string]*framework.FieldSchema{
						"entries": {Type: framework.TypeSlice, Description: "One row per cached token: config, roles, scope, issued_at, expires_at, hits, vendor_calls, last_error, last_error_at, fail_fast_until (the end of a credential-failure cooldown)."},
					}}},
				},
			},
		},
		HelpSynopsis:    "Inspect the token cache of this node.",
		HelpDescription: strings.TrimSpace(cacheHelp),
	}
}

func pathCachePurge(b *paloBackend) *framework.Path {
	return &framework.Path{
		Pattern: "cache/purge$",
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefix,
			OperationVerb:   "purge",
			OperationSuffix: "cache",
		},
		Fields: map[string]*framework.FieldSchema{
			"config": {Type: framework.TypeString, Description: "Purge only the tokens of this config."},
			"role":   {Type: framework.TypeString, Description: "Purge only the tokens this role uses."},
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.UpdateOperation: &framework.PathOperation{
				// Not forwarded: the cache is per node, and a purge acts on
				// the node that serves it. A config write clears every node
				// (through Invalidate).
				Callback: b.pathCachePurge,
				Summary:  "Drop cached tokens on this node so the next read fetches a fresh one.",
				Responses: map[int][]framework.Response{
					http.StatusOK: {{Description: "OK", Fields: map[string]*framework.FieldSchema{
						"purged": {Type: framework.TypeInt, Description: "How many cached tokens were dropped."},
					}}},
				},
			},
		},
		HelpSynopsis:    "Drop cached tokens (incident response).",
		HelpDescription: strings.TrimSpace(cacheHelp),
	}
}

func (b *paloBackend) pathCacheRead(_ context.Context, _ *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	rows := []map[string]any{}
	for _, e := range b.cache.Entries() {
		row := map[string]any{
			"config":       e.Config,
			"roles":        e.Roles,
			"scope":        e.Scope,
			"issued_at":    formatTime(e.IssuedAt),
			"expires_at":   formatTime(e.ExpiresAt),
			"hits":         e.Hits,
			"vendor_calls": e.VendorCalls,
			"last_error":   e.LastError,
		}
		row["last_error_at"] = formatTime(e.LastErrorAt)
		row["fail_fast_until"] = formatTime(e.FailFastUntil)
		rows = append(rows, row)
	}
	return &logical.Response{Data: map[string]any{"entries": rows}}, nil
}

func (b *paloBackend) pathCachePurge(_ context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	if resp := rejectUnknown(req, d.Schema); resp != nil {
		return resp, nil
	}
	config := d.Get("config").(string)
	role := d.Get("role").(string)
	var n int
	switch {
	case config != "" && role != "":
		return logical.ErrorResponse("config, role: give at most one of them"), nil
	case config != "":
		n = b.cache.PurgeConfig(config)
	case role != "":
		n = b.cache.PurgeRole(role)
	default:
		n = b.cache.PurgeAll()
	}
	b.Logger().Info("token cache purged", "config", config, "role", role, "purged", n)
	return &logical.Response{Data: map[string]any{"purged": n}}, nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

const cacheHelp = `
The token cache holds one vendor token per config and scope, in memory only
(never in storage), shared by every role and reader that resolves to it.

  vault read palo/cache                          one row per cached token:
                                                 config, roles, scope, issued_at,
                                                 expires_at, hits, vendor_calls,
                                                 last_error, last_error_at
  vault write -f palo/cache/purge                drop every cached token
  vault write palo/cache/purge config=scm-prod   drop one config's tokens
  vault write palo/cache/purge role=wildfire     drop the tokens a role uses

After a purge the next read fetches a fresh token. A purge also clears a
config's credential-failure cooldown. The cache is per node: a purge acts on
the node that serves it (in Vault's community edition, the active node, since
standbys forward every request). To clear every node at once, write the
config again. Tokens are never shown here.
`
