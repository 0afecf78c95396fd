package backend

import (
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

// TestCompositeValuesAreRefusedWithoutQuotingThem sends a list or an object
// where a field takes one value. The framework's own conversion error
// would quote the value, secret included; the 400 names the field only.
func TestCompositeValuesAreRefusedWithoutQuotingThem(t *testing.T) {
	t.Parallel()
	const secret = "composite-secret-4711"
	e := newTestEnv(t)
	e.mustOK(logical.UpdateOperation, "config/scm", e.demoConfig("paloalto_scm"))
	cases := map[string]struct {
		path  string
		data  map[string]any
		field string
	}{
		"client_secret given twice": {"config/scm", map[string]any{"client_secret": []any{secret, secret + "2"}}, "client_secret"},
		"client_secret as an object": {"config/new", map[string]any{
			"provider": "oauth2", "client_id": "x", "client_secret": map[string]any{"v": secret},
		}, "client_secret"},
		"access_secret as a list": {"config/casb", map[string]any{"provider": "oracle_casb", "access_secret": []string{secret}}, "access_secret"},
		"proxy_url with a password, twice": {"config/scm", map[string]any{
			"proxy_url": []any{"http://u:" + secret + "@127.0.0.1:3128", "http://127.0.0.1:3128"},
		}, "proxy_url"},
		"role scope as a list":      {"roles/r", map[string]any{"config": "scm", "scope": []any{secret}}, "scope"},
		"cache purge config a list": {"cache/purge", map[string]any{"config": []any{secret}}, "config"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			msg := e.mustBadRequest(logical.UpdateOperation, tc.path, tc.data, tc.field, "expected a single")
			if strings.Contains(msg, secret) {
				t.Errorf("the error quotes the value: %s", msg)
			}
		})
	}
	// A scalar of the wrong type keeps the framework's message, which
	// quotes it: every secret field takes a string, which any scalar
	// converts to, so no secret reaches that message.
	e.mustBadRequest(logical.UpdateOperation, "config/scm", map[string]any{"request_timeout": "soon"}, "request_timeout", "soon")
	if strings.Contains(e.logs.String(), secret) {
		t.Error("the log holds the secret")
	}
}

// TestUnknownFieldsAreNamed sends a field a path does not know: the 400
// names it and what the path takes, or that it takes none.
func TestUnknownFieldsAreNamed(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustOK(logical.UpdateOperation, "config/scm", e.demoConfig("paloalto_scm"))
	cases := map[string]struct {
		path string
		want []string
	}{
		"a path with fields":    {"cache/purge", []string{"unknown field(s): foo", "this path takes: config, role"}},
		"a path without fields": {"config/scm/rotate-root", []string{"unknown field(s): foo", "this path takes no fields"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			msg := e.mustBadRequest(logical.UpdateOperation, tc.path, map[string]any{"foo": "bar"}, tc.want...)
			if strings.HasSuffix(msg, ": ") {
				t.Errorf("the message ends in an empty list: %q", msg)
			}
		})
	}
}
