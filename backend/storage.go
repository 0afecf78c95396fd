package backend

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/vault/sdk/logical"
)

// getJSON reads and decodes one storage entry. Unknown fields are ignored,
// so an older plugin can still read what a newer one wrote (rollback).
func getJSON(ctx context.Context, s logical.Storage, key string, v any) (bool, error) {
	raw, err := s.Get(ctx, key)
	if err != nil {
		return false, fmt.Errorf("reading %s from storage: %w", key, err)
	}
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw.Value, v); err != nil {
		return false, fmt.Errorf("decoding %s from storage: %w", key, err)
	}
	return true, nil
}

// putJSON encodes and writes one storage entry.
func putJSON(ctx context.Context, s logical.Storage, key string, v any) error {
	entry, err := logical.StorageEntryJSON(key, v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", key, err)
	}
	if err := s.Put(ctx, entry); err != nil {
		return fmt.Errorf("writing %s to storage: %w", key, err)
	}
	return nil
}
