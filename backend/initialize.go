package backend

import (
	"context"

	"github.com/hashicorp/vault/sdk/logical"
)

// initialize runs once when the mount is set up. It is where storage
// migrations belong: entries carry schema_version, and every version this
// plugin has written so far (1) is read as is, so there is nothing to
// migrate yet. A future migration must run only where writes are allowed
// (b.WriteSafeReplicationState) and be idempotent.
func (b *paloBackend) initialize(_ context.Context, _ *logical.InitializationRequest) error {
	if !b.WriteSafeReplicationState() {
		return nil
	}
	b.Logger().Debug("storage schema is current", "schema_version", schemaVersion)
	return nil
}
