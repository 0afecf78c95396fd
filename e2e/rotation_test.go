//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testkit"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// rfc3339 parses a time the engine returned, failing the test otherwise.
func rfc3339(t *testing.T, what, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil || at.Location() != time.UTC {
		t.Fatalf("%s = %q, want an RFC 3339 UTC time", what, s)
	}
	return at
}

// TestRotateRootThroughTheCLI rotates the paloalto_scm secret with `vault
// write -f .../rotate-root` while readers read: the old secret is refused at
// the vendor afterwards, no read fails, the cached token is still served,
// the schedule's next_vault_rotation follows, and other providers are
// refused with a 400 saying why.
func TestRotateRootThroughTheCLI(t *testing.T) {
	t.Parallel()
	p := vaulttest.NewPalo(t, vaulttest.PaloOptions{})
	scm, config := rotatableSCM(t, p, "rotation_period=2h")
	acct := scm.Account

	before := readJSON(t, p.Vault, "", config)
	if str(t, before.Data, "last_vault_rotation") != "" || str(t, before.Data, "iam_url") != p.Vendor.URL || num(t, before.Data, "rotation_period") != 7200 {
		t.Fatalf("config before the rotation: %v", before.Data)
	}
	next := rfc3339(t, "next_vault_rotation", str(t, before.Data, "next_vault_rotation"))
	if d := time.Until(next); d < 2*time.Hour-time.Minute || d > 2*time.Hour {
		t.Errorf("next_vault_rotation is %s away, want 2h after the write", d)
	}
	_, cached := token(t, p, "", p.Path("creds", scm.Role))

	// Readers through the API while the rotation runs; the reset answers
	// slowly, after the vendor has already replaced the secret.
	p.Vendor.SetIAMFaults(t, fakevendor.IAMFaults{AnswerDelay: 2 * time.Second})
	client := p.Vault.Client(t)
	readers := testkit.StartReaders(10, 50*time.Millisecond, func() error { return readToken(client, p.Path("creds", scm.Role)) })
	var rotated struct {
		Data     map[string]any `json:"data"`
		Warnings []string       `json:"warnings"`
	}
	p.Vault.CLIJSON(t, vaulttest.CLIOptions{}, &rotated, "write", "-f", config+"/rotate-root")
	time.Sleep(time.Second)
	readers.Stop(t, "the rotation")
	if got := str(t, rotated.Data, "service_account_id"); got != fakevendor.ServiceAccountID(acct) {
		t.Errorf("service_account_id = %s, want the one whose client_id matches (%s)", got, fakevendor.ServiceAccountID(acct))
	}
	last := rfc3339(t, "last_vault_rotation", str(t, rotated.Data, "last_vault_rotation"))
	if p.Vendor.IAMResets(t, acct.ClientID) != 1 {
		t.Errorf("the vendor made %d resets, want 1", p.Vendor.IAMResets(t, acct.ClientID))
	}
	if st := p.Vendor.SCMTokenStatus(t, acct.ClientID, acct.ClientSecret, acct.TSGIDs[0]); st != 401 {
		t.Errorf("the old secret at the vendor after the rotation: HTTP %d, want 401", st)
	}

	// The cached token is still served; a fresh one comes from the new secret.
	if s, tok := token(t, p, "", p.Path("creds", scm.Role)); tok != cached {
		t.Errorf("the rotation dropped the cached token (lease %d)", s.LeaseDuration)
	}
	p.Vault.MustCLI(t, "write", p.Path("cache", "purge"), "config="+scm.Config)
	if _, tok := token(t, p, "", p.Path("creds", scm.Role)); tok == cached {
		t.Error("the read after the purge returned the purged token")
	}
	after := readJSON(t, p.Vault, "", config)
	if str(t, after.Data, "last_vault_rotation") != str(t, rotated.Data, "last_vault_rotation") || str(t, after.Data, "last_rotation_error") != "" {
		t.Errorf("config after the rotation: %v", after.Data)
	}
	if got := rfc3339(t, "next_vault_rotation", str(t, after.Data, "next_vault_rotation")); !got.Equal(last.Add(2 * time.Hour)) {
		t.Errorf("next_vault_rotation = %s, want last_vault_rotation + 2h = %s", got, last.Add(2*time.Hour))
	}

	// A refused reset is a vendor failure (500) naming the config, the
	// step, the status and the vendor's message; the secret keeps working.
	p.Vendor.SetIAMFaults(t, fakevendor.IAMFaults{RefuseReset: true})
	r := mustFail(t, p.Vault, "", 500, "write", "-f", config+"/rotate-root")
	for _, w := range []string{`config "` + scm.Config + `"`, `step "reset"`, "HTTP 403", "does not allow managing service accounts"} {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("the refused rotation's error does not say %s:\n%s", w, r.Stderr)
		}
	}
	if s := readJSON(t, p.Vault, "", config); !strings.Contains(str(t, s.Data, "last_rotation_error"), "HTTP 403") {
		t.Errorf("config does not show the failure: %v", s.Data)
	}
	p.Vault.MustCLI(t, "write", p.Path("cache", "purge"), "config="+scm.Config)
	token(t, p, "", p.Path("creds", scm.Role))

	// Other providers have no API for it.
	for _, prov := range []string{fakevendor.ProviderSaaSSecurity, fakevendor.ProviderOracleCASB, fakevendor.ProviderBrightPattern, fakevendor.ProviderOAuth2} {
		s := p.Setup(t, prov)
		r := mustFail(t, p.Vault, "", 400, "write", "-f", p.Path("config", s.Config, "rotate-root"))
		if !strings.Contains(r.Stderr, "has no API to reset") || !strings.Contains(r.Stderr, "write the new one") {
			t.Errorf("%s: the refusal does not say why and what to do:\n%s", prov, r.Stderr)
		}
	}
	help := p.Vault.MustCLI(t, "path-help", config+"/rotate-root")
	if !strings.Contains(help, "rotation_period") || !strings.Contains(help, "403") {
		t.Errorf("path-help of rotate-root is thin:\n%s", help)
	}
}

// TestClusterRotateRootThroughAStandby rotates through a standby of the
// 3-node cluster: the standby forwards it to the active node, which resets
// once; every node then serves tokens minted with the new secret.
func TestClusterRotateRootThroughAStandby(t *testing.T) {
	t.Parallel()
	e := newClusterEnv(t, vaulttest.FakeVendorOptions{})
	active, standbys := e.cluster.WaitActive(t)
	var scm vaulttest.VendorSetup
	for _, s := range e.setups {
		if s.Provider == fakevendor.ProviderSCM {
			scm = s
		}
	}
	config := clusterMount + "/config/" + scm.Config
	active.MustCLI(t, "write", config, "iam_url="+e.vendor.URL, "client_secret="+scm.Account.ClientSecret)
	standbys[0].MustCLI(t, "write", "-f", config+"/rotate-root")
	if n := e.vendor.IAMResets(t, scm.Account.ClientID); n != 1 {
		t.Fatalf("the vendor made %d resets, want 1", n)
	}
	if st := e.vendor.SCMTokenStatus(t, scm.Account.ClientID, scm.Account.ClientSecret, scm.Account.TSGIDs[0]); st != 401 {
		t.Errorf("the old secret after the rotation: HTTP %d, want 401", st)
	}
	standbys[1].MustCLI(t, "write", clusterMount+"/cache/purge", "config="+scm.Config)
	for _, n := range append([]*vaulttest.Node{active}, standbys...) {
		e.mustReadCred(t, n, scm.Role)
		s, err := n.Client(t).Logical().Read(config)
		if err != nil || s == nil || s.Data["last_vault_rotation"] == "" {
			t.Errorf("%s: config read after the rotation: %v, %v", n.Name, s, err)
		}
	}
}
