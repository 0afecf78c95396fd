package main

import (
	"context"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"
)

func TestConstantReads(t *testing.T) {
	t.Parallel()
	storage := &logical.InmemStorage{}
	b, err := factory(context.Background(), &logical.BackendConfig{
		Logger: hclog.NewNullLogger(), System: &logical.StaticSystemView{}, StorageView: storage,
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		path  string
		lease bool
	}{
		"leased":   {"leased", true},
		"unleased": {"unleased", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resp, err := b.HandleRequest(context.Background(), &logical.Request{Operation: logical.ReadOperation, Path: tc.path, Storage: storage})
			if err != nil || resp == nil {
				t.Fatalf("read %s: %v %v", tc.path, resp, err)
			}
			if resp.Data["access_token"] != constToken || resp.Data["token_type"] != "Bearer" {
				t.Errorf("data %v", resp.Data)
			}
			if got := resp.Secret != nil; got != tc.lease {
				t.Fatalf("lease %t, want %t", got, tc.lease)
			}
			if tc.lease && (resp.Secret.TTL != leaseTTL || resp.Secret.Renewable) {
				t.Errorf("lease %s renewable %t; want %s, not renewable", resp.Secret.TTL, resp.Secret.Renewable, leaseTTL)
			}
		})
	}
	// Revoking a lease succeeds and does nothing, as in the engine.
	resp, err := b.HandleRequest(context.Background(), &logical.Request{
		Operation: logical.RevokeOperation, Storage: storage,
		Secret: &logical.Secret{InternalData: map[string]any{"secret_type": secretType}},
	})
	if err != nil || resp != nil {
		t.Fatalf("revoke: %v %v", resp, err)
	}
}
