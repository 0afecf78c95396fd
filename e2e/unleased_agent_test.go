//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// unleasedLifetime is the fake's SCM token lifetime in the unleased Agent
// test: short enough for three tokens in about two minutes. The lease
// margin is then 6 s (a tenth), the half-life reuse rule (30 s) gives way
// to the 31 s floor, and each token is handed out for its first 29 s.
const unleasedLifetime = 60 * time.Second

// unleasedRenders is how many distinct tokens the agent must render: the
// first and two re-renders.
const unleasedRenders = 3

// TestUnleasedRoleAgentRerenders runs Vault Agent on a role with
// lease=false. Without a lease, Agent (consul-template's leaseCheckWait)
// schedules the next read from the data: with rotation_period present it
// sleeps ttl+1 seconds. The engine sets ttl to the lease it would have
// given less one second, so the re-read lands while the token still has the
// lease margin left. The test proves, from Agent's own log, that it slept
// exactly ttl+1 after each read, and from the fake vendor that every
// rendered token was valid when it appeared and that each new token
// appeared before the one it replaced expired.
func TestUnleasedRoleAgentRerenders(t *testing.T) {
	t.Parallel()
	p := vaulttest.NewPalo(t, vaulttest.PaloOptions{
		FakeVendor: vaulttest.FakeVendorOptions{
			Accounts:  scmOnly(),
			Lifetimes: map[string]time.Duration{fakevendor.ProviderSCM: unleasedLifetime},
		},
	})
	v := p.Vault
	creds := p.Path("creds", "wildfire-unleased")
	v.MustCLI(t, "write", p.Path("roles", "wildfire-unleased"), "config=scm-prod", "lease=false")

	// What Agent will see: no lease, ttl and rotation_period in the data.
	s := readJSON(t, v, "", creds)
	if s.LeaseID != "" || s.LeaseDuration != 0 || s.Renewable {
		t.Fatalf("lease=false returned a lease: id %q, %ds, renewable %t", s.LeaseID, s.LeaseDuration, s.Renewable)
	}
	if ttl, period, left := num(t, s.Data, "ttl"), num(t, s.Data, "rotation_period"), num(t, s.Data, "expires_in"); ttl < 1 || ttl+1 >= left || period < left {
		t.Fatalf("ttl %d, rotation_period %d, expires_in %d: want 1 <= ttl, ttl+1 < expires_in <= rotation_period", ttl, period, left)
	}

	policy := `path "` + creds + `" { capabilities = ["read"] }`
	if r := v.CLIWith(t, vaulttest.CLIOptions{Stdin: policy}, "policy", "write", "unleased-reader", "-"); !r.OK() {
		t.Fatal(r)
	}
	agentToken := strings.TrimSpace(v.MustCLI(t, "token", "create", "-policy=unleased-reader", "-field=token"))
	file := filepath.Join(t.TempDir(), "token.txt")
	agent := v.StartAgent(t, vaulttest.AgentOptions{
		Token:    agentToken,
		LogLevel: "trace", // the schedule is logged at debug and trace
		Templates: []vaulttest.AgentTemplate{{
			Contents:    `{{ with secret "` + creds + `" }}{{ .Data.access_token }} {{ .Data.ttl }}{{ end }}`,
			Destination: file,
		}},
	})

	type render struct {
		token string
		ttl   int64
	}
	var renders []render
	observe := func() {
		b, err := os.ReadFile(file) //nolint:gosec // the test's own file
		if err != nil {
			return // not rendered yet
		}
		fields := strings.Fields(string(b))
		if len(fields) != 2 {
			return // being written
		}
		tok := fields[0]
		if len(renders) > 0 && renders[len(renders)-1].token == tok {
			return
		}
		ttl, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			t.Fatalf("the agent rendered %q: the ttl is not a number", b)
		}
		now := p.Vendor.Check(t, tok)
		if !now.Valid {
			t.Fatalf("render %d: the agent rendered a token the fake vendor does not hold valid: %+v", len(renders)+1, now)
		}
		left := ""
		if len(renders) > 0 {
			prev := p.Vendor.Check(t, renders[len(renders)-1].token)
			if !prev.Valid {
				t.Fatalf("render %d: the token it replaced had already expired (at %s)", len(renders)+1, prev.Info.ExpiresAt.Format(time.RFC3339))
			}
			left = fmt.Sprintf("; the token it replaced had %s left", time.Until(prev.Info.ExpiresAt).Round(time.Second))
		}
		renders = append(renders, render{token: tok, ttl: ttl})
		t.Logf("render %d: a new token, ttl %ds, expires %s%s", len(renders), ttl, now.Info.ExpiresAt.Format(time.RFC3339), left)
	}
	// Each token is rendered for about lifetime - margin; three renders
	// take about two lifetimes.
	vaulttest.Eventually(t, 2*unleasedRenders*unleasedLifetime+time.Minute, 100*time.Millisecond, "the agent's renders", func() error {
		if agent.Exited() {
			t.Fatalf("the agent exited: %v\n%s", agent.ExitError(), agent.LogTail(40))
		}
		observe()
		if len(renders) < unleasedRenders {
			return fmt.Errorf("%d distinct tokens rendered, want %d", len(renders), unleasedRenders)
		}
		return nil
	})

	// Agent's log shows the schedule it followed for each read whose token
	// it rendered: rotation_period was found, the ttl was taken as the
	// lease duration, and the sleep was ttl+1 seconds.
	log := agent.Log()
	t.Logf("the agent's schedule:\n%s", grepLines(log, "Found rotation_period", "set sleep for"))
	for i, r := range renders[:len(renders)-1] {
		found := regexp.MustCompile(`Found rotation_period and set lease duration to ` + strconv.FormatInt(r.ttl, 10) + ` seconds`)
		sleep := regexp.MustCompile(regexp.QuoteMeta(creds) + `\): non-renewable secret, set sleep for ` + strconv.FormatInt(r.ttl+1, 10) + `s\b`)
		if !found.MatchString(log) || !sleep.MatchString(log) {
			t.Errorf("render %d had ttl %d, but the agent's log does not show it sleeping %ds after rotation_period was found:\n%s",
				i+1, r.ttl, r.ttl+1, grepLines(log, "rotation_period", "set sleep for"))
		}
	}
}

// grepLines returns the lines of s that contain any of subs.
func grepLines(s string, subs ...string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		for _, sub := range subs {
			if strings.Contains(line, sub) {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
