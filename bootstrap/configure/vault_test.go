package configure

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/vault/api"
)

// fakeVault serves the config and role paths of a mount from memory, as
// Vault's API does, and records every write.
type fakeVault struct {
	mu     sync.Mutex
	stored map[string]map[string]any // path below /v1/ => data a read returns
	writes map[string]map[string]any // path below /v1/ => the body written
}

func (f *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	switch {
	case r.Method == "LIST" || r.URL.Query().Get("list") == "true":
		w.WriteHeader(http.StatusNotFound)
	case r.Method == http.MethodGet:
		data, ok := f.stored[path]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"data": data})
	case r.Method == http.MethodPut || r.Method == http.MethodPost:
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.writes[path] = body
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// TestConfigSecretLeftAlone checks which config writes carry the secret:
// a config the engine rotates (rotation_period in the file or in Vault, or
// a last_vault_rotation in its read) never gets one once it exists, not
// with --rotate-secrets nor when another field changes, and the report
// says so; a new one gets its first, and the others get theirs as before.
func TestConfigSecretLeftAlone(t *testing.T) {
	t.Parallel()
	stored := func(extra map[string]any) map[string]any {
		d := map[string]any{
			"provider": "paloalto_scm", "client_id": "id", "tsg_id": "1234567890", "request_timeout": 30,
			"rotation_period": 0, "last_vault_rotation": "",
		}
		for k, v := range extra {
			d[k] = v
		}
		return d
	}
	cases := map[string]struct {
		stored  map[string]any // nil: no config in Vault
		extra   map[string]any // fields of the file besides scmConfig's
		rotate  bool
		written bool   // whether the config is written at all
		secret  bool   // whether the write carries client_secret
		report  string // the report's status
	}{
		"rotated, unchanged, --rotate-secrets": {
			stored: stored(map[string]any{"rotation_period": 3600, "last_vault_rotation": "2026-01-02T03:04:05Z"}),
			extra:  map[string]any{"rotation_period": "1h"}, rotate: true,
			report: "unchanged (secret left alone: the engine rotates it (rotation_period))",
		},
		"rotated once, another field changed, --rotate-secrets": {
			stored: stored(map[string]any{"last_vault_rotation": "2026-01-02T03:04:05Z"}),
			extra:  map[string]any{"request_timeout": "20s", "verify_connection": false}, rotate: true, written: true,
			report: "updated (request_timeout, verify_connection; secret left alone: the engine rotated it (last_vault_rotation))",
		},
		"rotation_period in the file only": {
			stored: stored(nil),
			extra:  map[string]any{"rotation_period": "720h"}, rotate: true, written: true,
			report: "updated (rotation_period; secret left alone: the engine rotates it (rotation_period))",
		},
		"rotation_schedule in the file only": {
			stored: stored(nil),
			extra:  map[string]any{"rotation_schedule": "0 3 * * SAT"}, rotate: true, written: true,
			report: "updated (rotation_schedule; secret left alone: the engine rotates it (rotation_schedule))",
		},
		"rotation_period in Vault only": {
			stored: stored(map[string]any{"rotation_period": 3600}),
			extra:  map[string]any{"request_timeout": "20s"}, written: true,
			report: "updated (request_timeout; secret left alone: the engine rotates it (rotation_period))",
		},
		"a new config the engine will rotate": {
			extra: map[string]any{"rotation_period": "1h"}, written: true, secret: true,
			report: "created (its first secret; from now on the engine keeps it)",
		},
		"not rotated, --rotate-secrets": {
			stored: stored(nil), rotate: true, written: true, secret: true,
			report: "updated (--rotate-secrets)",
		},
		"not rotated, another field changed": {
			stored: stored(nil), extra: map[string]any{"request_timeout": "20s"}, written: true, secret: true,
			report: "updated (request_timeout)",
		},
		"not rotated, unchanged": {
			stored: stored(nil), report: "unchanged",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fv := &fakeVault{stored: map[string]map[string]any{}, writes: map[string]map[string]any{}}
			if tc.stored != nil {
				fv.stored["palo/config/scm-prod"] = tc.stored
			}
			srv := httptest.NewServer(fv)
			defer srv.Close()
			cfg := api.DefaultConfig()
			cfg.Address = srv.URL
			c, err := api.NewClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			c.SetToken("t")
			var out bytes.Buffer
			objs := &Objects{Configs: map[string]map[string]any{"scm-prod": scmConfig(tc.extra)}}
			if err := Apply(context.Background(), c, Options{RotateSecrets: tc.rotate}, objs, &out); err != nil {
				t.Fatal(err)
			}
			if want := "config   scm-prod"; !strings.Contains(out.String(), want+strings.Repeat(" ", 44-len("scm-prod")+1)+tc.report+"\n") {
				t.Errorf("report:\n%s\nwant the status %q", out.String(), tc.report)
			}
			w, written := fv.writes["palo/config/scm-prod"]
			if written != tc.written {
				t.Fatalf("written %v, want %v (%v)", written, tc.written, w)
			}
			if _, secret := w["client_secret"]; secret != tc.secret {
				t.Errorf("the write carries client_secret: %v, want %v", secret, tc.secret)
			}
			if written && w["client_id"] != "id" {
				t.Errorf("the write %v lacks the file's other fields", w)
			}
			if strings.Contains(out.String(), testSecret) {
				t.Error("the report quotes the secret")
			}
		})
	}
}

func TestSecretKeeper(t *testing.T) {
	t.Parallel()
	read := func(d map[string]any) *api.Secret { return &api.Secret{Data: d} }
	//nolint:gosec // G101: field names and an auth method, no credentials
	cases := map[string]struct {
		want map[string]any
		have *api.Secret
		keep string
	}{
		"nothing rotates":                        {map[string]any{"rotation_period": 0}, read(map[string]any{"rotation_period": json.Number("0"), "last_vault_rotation": ""}), ""},
		"no config yet":                          {map[string]any{}, nil, ""},
		"rotation_period in the file":            {map[string]any{"rotation_period": int64(60)}, nil, "the engine rotates it (rotation_period)"},
		"rotation_period in Vault":               {map[string]any{}, read(map[string]any{"rotation_period": json.Number("60")}), "the engine rotates it (rotation_period)"},
		"rotation_schedule in the file":          {map[string]any{"rotation_schedule": "0 3 * * SAT"}, nil, "the engine rotates it (rotation_schedule)"},
		"rotation_schedule in Vault":             {map[string]any{}, read(map[string]any{"rotation_schedule": "0 3 * * SAT"}), "the engine rotates it (rotation_schedule)"},
		"a rotation under way":                   {map[string]any{}, read(map[string]any{"rotation_pending": "the reset's answer"}), "a rotation is under way (rotation_pending)"},
		"rotated once":                           {map[string]any{}, read(map[string]any{"last_vault_rotation": "2026-01-02T03:04:05Z"}), "the engine rotated it (last_vault_rotation)"},
		"private_key_jwt in the file":            {map[string]any{"token_endpoint_auth_method": "private_key_jwt"}, nil, privateKeyJWT},
		"private_key_jwt in Vault":               {map[string]any{}, read(map[string]any{"token_endpoint_auth_method": "private_key_jwt"}), privateKeyJWT},
		"client_secret_post rotates nothing":     {map[string]any{"token_endpoint_auth_method": "client_secret_post"}, nil, ""},
		"a rotation_period that is not a number": {map[string]any{"rotation_period": "soon"}, nil, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := secretKeeper(tc.want, tc.have); got != tc.keep {
				t.Errorf("secretKeeper = %q, want %q", got, tc.keep)
			}
		})
	}
}
