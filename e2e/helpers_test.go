//go:build e2e

// Package e2e tests the plugin end to end: a real Vault server with the
// plugin registered, the real vault CLI and Vault Agent, and the fake vendor
// command over TLS, all on loopback (see internal/vaulttest). Run it with
// `make e2e`.
package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// readJSON runs `vault read <path>` with JSON output as token (root if
// empty) and returns the secret, failing the test if the read fails.
func readJSON(t *testing.T, v *vaulttest.Server, token, path string) *api.Secret {
	t.Helper()
	var s api.Secret
	v.CLIJSON(t, vaulttest.CLIOptions{Token: token}, &s, "read", path)
	return &s
}

// str returns data[key] as a string, failing the test if it is not one.
func str(t *testing.T, data map[string]any, key string) string {
	t.Helper()
	s, ok := data[key].(string)
	if !ok {
		t.Fatalf("data[%q] = %#v, want a string; data keys: %v", key, data[key], keys(data))
	}
	return s
}

// num returns data[key] as an integer, failing the test if it is not a
// number (JSON numbers decode as float64, or json.Number through the API
// client).
func num(t *testing.T, data map[string]any, key string) int64 {
	t.Helper()
	switch n := data[key].(type) {
	case float64:
		return int64(n)
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			t.Fatalf("data[%q] = %v: %v", key, n, err)
		}
		return i
	}
	t.Fatalf("data[%q] = %#v, want a number; data keys: %v", key, data[key], keys(data))
	return 0
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// token reads creds at path through the CLI and returns the secret and its
// access token, after checking that the token is one the fake vendor
// minted and that it is valid now.
func token(t *testing.T, p *vaulttest.Palo, tok, path string) (*api.Secret, string) {
	t.Helper()
	s := readJSON(t, p.Vault, tok, path)
	at := str(t, s.Data, "access_token")
	if c := p.Vendor.Check(t, at); !c.Valid {
		t.Fatalf("%s returned a token the fake vendor does not hold valid: %+v", path, c)
	}
	return s, at
}

// mustFail runs a CLI command that must fail with an HTTP status from
// Vault, and returns its result. (`vault read` and `vault list` report a
// 404 as "No value found at ..." without the status.)
func mustFail(t *testing.T, v *vaulttest.Server, token string, status int, args ...string) vaulttest.Result {
	t.Helper()
	r := v.CLIAs(t, token, args...)
	if r.OK() {
		t.Fatalf("expected a failure with status %d, got success:\n%s", status, r)
	}
	want := fmt.Sprintf("Code: %d", status)
	if status == http.StatusNotFound && (args[0] == "read" || args[0] == "list") {
		want = "No value found at "
	}
	if !strings.Contains(r.Stderr, want) {
		t.Fatalf("expected %q in the error:\n%s", want, r)
	}
	return r
}

// mounts returns the secrets engines mounted, by path ("palo/").
func mounts(t *testing.T, v *vaulttest.Server) map[string]struct {
	Type string `json:"type"`
} {
	t.Helper()
	var m map[string]struct {
		Type string `json:"type"`
	}
	v.CLIJSON(t, vaulttest.CLIOptions{}, &m, "secrets", "list")
	return m
}

// agentWait bounds the waits on Vault Agent.
const agentWait = 3 * time.Minute

// step is one named step of a scenario.
type step struct {
	name string
	run  func(t *testing.T)
}

// runSteps runs steps in order, each as a subtest, and stops after the
// first that fails: each step builds on the ones before it.
func runSteps(t *testing.T, steps ...step) {
	t.Helper()
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return
		}
	}
}

// roundTrip sends req with the default client and returns the answer's
// status, headers and whole body, failing the test if there is no answer.
func roundTrip(t *testing.T, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

// readToken reads creds at path through the API and returns what went
// wrong, if anything: an error, or an answer without a token.
func readToken(client *api.Client, path string) error {
	s, err := client.Logical().Read(path)
	switch {
	case err != nil:
		return err
	case s == nil || s.Data["access_token"] == nil:
		return fmt.Errorf("%s: an answer without access_token", path)
	}
	return nil
}
