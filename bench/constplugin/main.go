// Command constplugin is the floor the benchmarks compare the engine with: a
// Vault secrets plugin that does nothing but return a constant secret. It is
// built and mounted by the benchmark harness only; it is not shipped.
//
// Paths:
//
//	leased    a constant token as a non-renewable leased secret (leaseTTL),
//	          shaped like a creds read of the engine
//	unleased  the same data without a lease
package main

import (
	"context"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/sdk/plugin"
)

// leaseTTL is close to the lease the engine gives a fresh 15-minute token,
// so both keep about as many leases pending in Vault.
const leaseTTL = 14 * time.Minute

const secretType = "const_token"

func main() {
	if err := plugin.ServeMultiplex(&plugin.ServeOpts{BackendFactoryFunc: factory}); err != nil {
		hclog.New(&hclog.LoggerOptions{}).Error("constplugin shutting down", "error", err)
		os.Exit(1)
	}
}

func factory(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	var b *framework.Backend
	b = &framework.Backend{
		BackendType: logical.TypeLogical,
		Help:        "Returns a constant secret, with or without a lease (benchmark floor).",
		Paths: []*framework.Path{
			{
				Pattern: "leased",
				Operations: map[logical.Operation]framework.OperationHandler{
					logical.ReadOperation: &framework.PathOperation{Callback: func(context.Context, *logical.Request, *framework.FieldData) (*logical.Response, error) {
						resp := b.Secret(secretType).Response(constData(), map[string]any{"role": "const"})
						resp.Secret.TTL = leaseTTL
						resp.Secret.MaxTTL = leaseTTL
						resp.Secret.Renewable = false
						return resp, nil
					}},
				},
			},
			{
				Pattern: "unleased",
				Operations: map[logical.Operation]framework.OperationHandler{
					logical.ReadOperation: &framework.PathOperation{Callback: func(context.Context, *logical.Request, *framework.FieldData) (*logical.Response, error) {
						return &logical.Response{Data: constData()}, nil
					}},
				},
			},
		},
		Secrets: []*framework.Secret{{
			Type:   secretType,
			Fields: map[string]*framework.FieldSchema{"access_token": {Type: framework.TypeString}},
			// Revoking is a no-op, as in the engine.
			Revoke: func(context.Context, *logical.Request, *framework.FieldData) (*logical.Response, error) {
				return nil, nil
			},
		}},
	}
	if err := b.Setup(ctx, conf); err != nil {
		return nil, err
	}
	return b, nil
}

// constData is about the size and shape of the engine's creds data for an
// SCM token.
func constData() map[string]any {
	return map[string]any{
		"access_token": constToken,
		"token_type":   "Bearer",
		"expires_at":   "2030-01-01T00:00:00Z",
		"expires_in":   int64(899),
		"scope":        "tsg_id:1234567890",
		"tsg_id":       "1234567890",
	}
}

// constToken is a fixed string the length of a fake vendor token.
//
//nolint:gosec // G101: not a credential
const constToken = "fake-scm-ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOPQRSTUVWXYZ"
