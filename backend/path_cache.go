package backend

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
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
				Summary:  "List the cached tokens of the node that serves creds reads (never the tokens themselves).",
				// Forwarded from a performance standby to the active node,
				// like creds reads, so it shows the tokens readers get.
				ForwardPerformanceStandby: true,
				Responses: map[int][]framework.Response{
					http.StatusOK: {{
						Description: "One field per cached token, named after its config and scope (\"<config> <scope>\", " +
							"or \"<config>\" without a scope), whose value is an object with these fields: " +
							cacheEntryFieldList() + ". Empty fields are left out.",
					}},
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
				// The cache is per node. A purge is forwarded from a
				// performance standby to the active node, which holds
				// the tokens creds reads get; a standby of Vault's
				// community edition forwards every request anyway. A
				// config write clears every node (through Invalidate).
				Callback:                  b.pathCachePurge,
				ForwardPerformanceStandby: true,
				Summary:                   "Drop cached tokens so the next read fetches a fresh one.",
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

// cacheEntryFields documents one cached token in a cache read.
func cacheEntryFields() map[string]*framework.FieldSchema {
	return map[string]*framework.FieldSchema{
		"config":          {Type: framework.TypeString, Description: "The config the token was minted from."},
		"roles":           {Type: framework.TypeStringSlice, Description: "The roles that read it."},
		"scope":           {Type: framework.TypeString, Description: "The effective scope, or tsg_id:<id> for paloalto_scm."},
		"issued_at":       {Type: framework.TypeString, Description: "When the cached token was issued (RFC 3339); absent while the entry holds only a failure."},
		"expires_at":      {Type: framework.TypeString, Description: "When the cached token expires (RFC 3339)."},
		"hits":            {Type: framework.TypeInt64, Description: "Reads served from the cache, stale ones included."},
		"vendor_calls":    {Type: framework.TypeInt64, Description: "Token fetches made for this entry, failed ones included; each is one or more HTTP requests."},
		"http_requests":   {Type: framework.TypeInt64, Description: "HTTP requests those fetches sent to the vendor, retries included: what vendor rate limits count."},
		"last_error":      {Type: framework.TypeString, Description: "The latest failed fetch's error."},
		"last_error_at":   {Type: framework.TypeString, Description: "When it failed (RFC 3339)."},
		"fail_fast_until": {Type: framework.TypeString, Description: "The end of a credential-failure cooldown (auth_failure_cooldown): until then reads of the config fail at once with last_error, without calling the vendor."},
		"warnings":        {Type: framework.TypeStringSlice, Description: "Roles whose min_ttl the token's lifetime cannot meet, and what is done instead."},
	}
}

// cacheEntryFieldList names the fields of cacheEntryFields, for the help.
func cacheEntryFieldList() string {
	return strings.Join(slices.Sorted(maps.Keys(cacheEntryFields())), ", ")
}

// pathCacheRead lists the cache keyed by entry, so that the CLI's table
// shows one row per cached token; the JSON shape has each entry's fields
// as an object.
func (b *paloBackend) pathCacheRead(_ context.Context, _ *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	data := map[string]any{}
	for _, e := range b.cache.Entries() {
		row := map[string]any{
			"config":        e.Config,
			"roles":         e.Roles,
			"hits":          e.Counts.Hits(),
			"vendor_calls":  e.Counts.VendorCalls(),
			"http_requests": e.Counts.HTTPRequests(),
		}
		for k, v := range map[string]string{
			"scope": e.Scope, "issued_at": formatTime(e.IssuedAt), "expires_at": formatTime(e.ExpiresAt),
			"last_error": e.LastError, "last_error_at": formatTime(e.LastErrorAt), "fail_fast_until": formatTime(e.FailFastUntil),
		} {
			if v != "" {
				row[k] = v
			}
		}
		if len(e.Warnings) > 0 {
			row["warnings"] = e.Warnings
		}
		name := strings.TrimSpace(e.Config + " " + e.Scope)
		// Two entries of one config and scope: roles that request different
		// tokens (an audience, a resource), or two versions of a config
		// during a write. Their roles tell them apart.
		for i := 2; data[name] != nil; i++ {
			name = fmt.Sprintf("%s (%d)", strings.TrimSpace(e.Config+" "+e.Scope), i)
		}
		data[name] = row
	}
	return &logical.Response{Data: data}, nil
}

func (b *paloBackend) pathCachePurge(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
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
	resp := &logical.Response{Data: map[string]any{"purged": n}}
	if n == 0 && (config != "" || role != "") {
		w, err := purgeMatchesNothing(ctx, req.Storage, config, role)
		if err != nil {
			return nil, err
		}
		if w != "" {
			resp.AddWarning(w)
		}
	}
	return resp, nil
}

// purgeMatchesNothing returns a warning when the config or role a purge
// named does not exist, so a typo is not mistaken for an empty cache.
func purgeMatchesNothing(ctx context.Context, s logical.Storage, config, role string) (string, error) {
	kind, name, prefix := "config", config, configStoragePrefix
	if role != "" {
		kind, name, prefix = "role", role, roleStoragePrefix
	}
	entry, err := s.Get(ctx, prefix+name)
	if err != nil {
		return "", fmt.Errorf("reading %s%s from storage: %w", prefix, name, err)
	}
	if entry != nil {
		return "", nil
	}
	return fmt.Sprintf("%s %q does not exist (see LIST %s): the purge matched nothing", kind, name, prefix), nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

const cacheHelp = `
The token cache holds one vendor token per config and scope (and the other
values a role may override, such as audience and resource), in memory only
(never in storage), shared by every role and reader that resolves to it.

  vault read palo/cache                          one row per cached token, named
                                                 "<config> <scope>"
  vault read -format=json palo/cache             the same, each row an object
  vault write -f palo/cache/purge                drop every cached token
  vault write palo/cache/purge config=scm-prod   drop one config's tokens
  vault write palo/cache/purge role=wildfire     drop the tokens a role uses

Each row has config, roles, scope, issued_at and expires_at of the cached
token, and:

  hits             reads served from the cache (stale ones included)
  vendor_calls     token fetches (one per refresh or miss, failed ones
                   included); each fetch is one or more HTTP requests
  http_requests    HTTP requests sent to the vendor, retries included: size
                   against vendor rate limits with this one
  last_error       the latest failed fetch, and last_error_at its time
  fail_fast_until  while set, a credential failure is being replayed: reads
                   of the config fail at once with last_error and the vendor
                   is not called, until then (auth_failure_cooldown), a
                   config write or a purge
  warnings         roles whose min_ttl the token's lifetime cannot meet,
                   and what is done instead

Empty fields are left out. After a purge the next read fetches a fresh
token. A purge also clears a config's credential-failure cooldown. A purge
naming a config or role that does not exist says so in a warning.

The cache is per node. Reads of creds/, cache and cache/purge act on the
active node: Vault's community standbys forward every request, and
performance standbys (Vault Enterprise, OpenBao) forward these three. To
clear every node at once, write the config again. Tokens are never shown
here.
`
