//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// agentLifetime is the fake's SCM token lifetime in the agent test: short
// enough to see several tokens in two minutes, long enough that the lease
// margin (a tenth of it) and the half-life reuse rule both matter.
const agentLifetime = 60 * time.Second

// TestAgentRerendersBeforeExpiry runs Vault Agent with templates that
// render palo/creds/wildfire (a leased secret, which Agent fetches again at
// 85-95% of the lease) and the same token from a role without a lease
// (which Agent fetches again after the ttl the data carries). The fake
// vendor's token lifetime is cut to a minute. Every rendered token must be
// valid at the fake vendor when it appears, and each new token must appear
// while the one it replaces is still valid.
func TestAgentRerendersBeforeExpiry(t *testing.T) {
	t.Parallel()
	p := vaulttest.NewPalo(t, vaulttest.PaloOptions{
		FakeVendor: vaulttest.FakeVendorOptions{
			Lifetimes: map[string]time.Duration{fakevendor.ProviderSCM: agentLifetime},
		},
	})
	v := p.Vault
	v.MustCLI(t, "write", p.Path("roles", "wildfire-nolease"), "config=scm-prod", "lease=false")

	// The agent runs with a token that may read these two roles only, as
	// an application's would.
	policy := `path "` + p.Path("creds", "wildfire") + `" { capabilities = ["read"] }
path "` + p.Path("creds", "wildfire-nolease") + `" { capabilities = ["read"] }`
	r := v.CLIWith(t, vaulttest.CLIOptions{Stdin: policy}, "policy", "write", "wildfire-reader", "-")
	if !r.OK() {
		t.Fatal(r)
	}
	agentToken := strings.TrimSpace(v.MustCLI(t, "token", "create", "-policy=wildfire-reader", "-field=token"))

	dir := t.TempDir()
	files := map[string]string{
		"leased":   filepath.Join(dir, "wildfire.txt"),
		"no lease": filepath.Join(dir, "wildfire-nolease.txt"),
	}
	tmpl := func(role string) string {
		return `{{ with secret "` + p.Path("creds", role) + `" }}{{ .Data.access_token }} {{ .Data.expires_at }}{{ end }}`
	}
	agent := v.StartAgent(t, vaulttest.AgentOptions{
		Token:    agentToken,
		LogLevel: "trace",
		Templates: []vaulttest.AgentTemplate{
			{Contents: tmpl("wildfire"), Destination: files["leased"]},
			{Contents: tmpl("wildfire-nolease"), Destination: files["no lease"]},
		},
	})

	// Watch both files until each has shown three distinct tokens: the
	// first render and two re-renders, each of a fresh token.
	const wantTokens = 3
	seen := map[string][]string{} // distinct tokens in order, per file
	observe := func(name, file string) {
		b, err := os.ReadFile(file) //nolint:gosec // the test's own file
		if err != nil {
			return // not rendered yet
		}
		tok, _, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
		prev := seen[name]
		if tok == "" || (len(prev) > 0 && prev[len(prev)-1] == tok) {
			return
		}
		check := p.Vendor.Check(t, tok)
		if !check.Valid {
			t.Fatalf("%s: the agent rendered a token that is not valid at the fake vendor: %+v", name, check)
		}
		left := "" // how long the token it replaces had left, for the log
		if len(prev) > 0 {
			c := p.Vendor.Check(t, prev[len(prev)-1])
			if !c.Valid {
				t.Fatalf("%s: the previous token had expired (at %s) before the agent rendered the next", name, c.Info.ExpiresAt)
			}
			left = fmt.Sprintf(" with %s left on the previous one", time.Until(c.Info.ExpiresAt).Round(time.Second))
		}
		seen[name] = append(prev, tok)
		t.Logf("%s: token %d rendered%s; it expires %s", name, len(seen[name]), left, check.Info.ExpiresAt.Format(time.RFC3339))
	}
	vaulttest.Eventually(t, agentWait, 100*time.Millisecond, "the agent's renders", func() error {
		if agent.Exited() {
			t.Fatalf("the agent exited (%v):\n%s", agent.ExitError(), agent.LogTail(40))
		}
		for name, file := range files {
			observe(name, file)
		}
		for name := range files {
			if n := len(seen[name]); n < wantTokens {
				return fmt.Errorf("%s: %d distinct tokens rendered, want %d", name, n, wantTokens)
			}
		}
		return nil
	})
}
