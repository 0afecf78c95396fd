package backend

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

// errStorage is the failure failingStorage injects.
var errStorage = errors.New("injected storage failure")

// failingStorage is a storage whose verb (get, put, list or delete) fails;
// the other verbs reach the storage underneath.
type failingStorage struct {
	logical.Storage
	verb string
}

func (s *failingStorage) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	if s.verb == "get" {
		return nil, errStorage
	}
	return s.Storage.Get(ctx, key)
}

func (s *failingStorage) Put(ctx context.Context, e *logical.StorageEntry) error {
	if s.verb == "put" {
		return errStorage
	}
	return s.Storage.Put(ctx, e)
}

func (s *failingStorage) List(ctx context.Context, prefix string) ([]string, error) {
	if s.verb == "list" {
		return nil, errStorage
	}
	return s.Storage.List(ctx, prefix)
}

func (s *failingStorage) Delete(ctx context.Context, key string) error {
	if s.verb == "delete" {
		return errStorage
	}
	return s.Storage.Delete(ctx, key)
}

// storedState is every key of s with its value.
func storedState(t *testing.T, s logical.Storage) map[string]string {
	t.Helper()
	keys, err := logical.CollectKeys(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	state := make(map[string]string, len(keys))
	for _, k := range keys {
		e, err := s.Get(t.Context(), k)
		if err != nil || e == nil {
			t.Fatalf("get %s: %v", k, err)
		}
		state[k] = string(e.Value)
	}
	return state
}

// TestStorageFailures fails each storage verb in turn under every
// operation that touches storage: an operation that uses the failing verb
// answers an error that wraps the storage's and leaves every stored entry
// as it was; one that does not use it succeeds.
func TestStorageFailures(t *testing.T) {
	t.Parallel()
	newRole := map[string]any{"config": "scm", "ttl": "5m"}
	cases := map[string]struct {
		op   logical.Operation
		path string
		data map[string]any
		uses []string // the verbs the operation needs
		// refused: without a storage failure the answer is a 400.
		refused bool
	}{
		"list configs":           {op: logical.ListOperation, path: "config/", uses: []string{"list"}},
		"read config":            {op: logical.ReadOperation, path: "config/scm", uses: []string{"get"}},
		"create config":          {op: logical.UpdateOperation, path: "config/new", uses: []string{"get", "put"}},
		"update config":          {op: logical.UpdateOperation, path: "config/scm", data: map[string]any{"request_timeout": "9s"}, uses: []string{"get", "put"}},
		"delete config":          {op: logical.DeleteOperation, path: "config/spare", uses: []string{"get", "list", "delete"}},
		"delete config in use":   {op: logical.DeleteOperation, path: "config/scm", uses: []string{"get", "list"}, refused: true},
		"list roles":             {op: logical.ListOperation, path: "roles/", uses: []string{"list"}},
		"read role":              {op: logical.ReadOperation, path: "roles/wf", uses: []string{"get"}},
		"create role":            {op: logical.UpdateOperation, path: "roles/new", data: newRole, uses: []string{"get", "put"}},
		"update role":            {op: logical.UpdateOperation, path: "roles/wf", data: map[string]any{"ttl": "7m"}, uses: []string{"get", "put"}},
		"delete role":            {op: logical.DeleteOperation, path: "roles/wf", uses: []string{"delete"}},
		"read creds":             {op: logical.ReadOperation, path: "creds/wf", uses: []string{"get"}},
		"purge an unknown name":  {op: logical.UpdateOperation, path: "cache/purge", data: map[string]any{"config": "nope"}, uses: []string{"get"}},
		"read the cache listing": {op: logical.ReadOperation, path: "cache"},
	}
	for name, tc := range cases {
		for _, verb := range []string{"get", "put", "list", "delete"} {
			t.Run(name+"/"+verb, func(t *testing.T) {
				t.Parallel()
				e := newSCMEnv(t)
				e.mustOK(logical.UpdateOperation, "config/spare", e.demoConfig("paloalto_scm"))
				data := tc.data
				if tc.path == "config/new" {
					data = e.demoConfig("oauth2")
				}
				// The read path keeps configs and roles in memory: start
				// from storage, as after a restart.
				for _, key := range []string{"config/scm", "config/spare", "roles/wf"} {
					e.b.invalidate(t.Context(), key)
				}
				before := storedState(t, e.storage)

				e.failing = &failingStorage{Storage: e.storage, verb: verb}
				o := e.route(tc.op, tc.path, data)
				resp, err := o.resp, o.err
				e.failing = nil

				if !slices.Contains(tc.uses, verb) {
					if err != nil || resp.IsError() != tc.refused {
						t.Fatalf("%s does not %s, yet answered %v %v", name, verb, err, resp.Error())
					}
					return
				}
				if !errors.Is(err, errStorage) {
					t.Errorf("err = %v (response %v), want the storage failure", err, resp)
				}
				if after := storedState(t, e.storage); !maps.Equal(before, after) {
					t.Errorf("stored state changed:\n before %v\n after  %v", keysOf(before), keysOf(after))
				}
				// The next read sees the stored state, not a half-done write.
				for _, path := range []string{"config/scm", "roles/wf"} {
					resp := e.mustOK(logical.ReadOperation, path, nil)
					if path == "config/scm" && resp.Data["request_timeout"] != int64(30) {
						t.Errorf("config read after the failure: request_timeout %v", resp.Data["request_timeout"])
					}
					if path == "roles/wf" && resp.Data["ttl"] != int64(0) {
						t.Errorf("role read after the failure: ttl %v", resp.Data["ttl"])
					}
				}
				e.mustOK(logical.ReadOperation, "creds/wf", nil)
			})
		}
	}
}

func keysOf(m map[string]string) string {
	return fmt.Sprint(slices.Sorted(maps.Keys(m)))
}
