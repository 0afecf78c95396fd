package backend

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
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

// jsonWithValues encodes base (a struct) as one JSON object that also holds
// the given values of fields as keys of their own, as configs and roles
// have always stored their provider fields. A field with an older name
// (an Alias) is stored under that name too when its value has an older
// form, so that a rolled-back engine reads it.
func jsonWithValues(base any, v provider.Values, fields []provider.Field) ([]byte, error) {
	b, err := json.Marshal(base)
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, err
	}
	for _, f := range fields {
		val := v[f.Name]
		if val == "" {
			continue
		}
		obj[f.Name] = val
		if f.Alias != nil {
			for old, cur := range f.Alias.Values {
				if cur == val {
					obj[f.Alias.Name] = old
				}
			}
		}
	}
	return json.Marshal(obj)
}

// valuesFromJSON reads the values of fields from a JSON object that
// jsonWithValues wrote, or that an earlier version wrote under a field's
// older name.
func valuesFromJSON(b []byte, fields []provider.Field) (provider.Values, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	v := provider.Values{}
	for _, f := range fields {
		var s string
		if json.Unmarshal(raw[f.Name], &s) == nil && s != "" {
			v[f.Name] = s
			continue
		}
		if f.Alias != nil && json.Unmarshal(raw[f.Alias.Name], &s) == nil {
			if cur, ok := f.Alias.Resolve(s); ok {
				v[f.Name] = cur
			}
		}
	}
	return v, nil
}
