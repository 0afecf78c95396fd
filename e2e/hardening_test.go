//go:build e2e

package e2e

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testkit"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// The scenarios of a security review, through a real Vault: a config write
// that would redirect a stored secret, a secret written while a rotation
// runs, a plugin reload during a slow reset, a reset that would hit another
// account, and reset answers in forms the vendor does not document.

// rotatableSCM writes p's paloalto_scm config with the fake vendor's IAM
// API as its iam_url, the secret (a new iam_url needs it in the same
// write) and extra, so that the engine can rotate the secret. It returns
// the setup and the config's path.
func rotatableSCM(t *testing.T, p *vaulttest.Palo, extra ...string) (vaulttest.VendorSetup, string) {
	t.Helper()
	scm := p.Setup(t, fakevendor.ProviderSCM)
	config := p.Path("config", scm.Config)
	p.Vault.MustCLI(t, append([]string{"write", config, "iam_url=" + p.Vendor.URL, "client_secret=" + scm.Account.ClientSecret}, extra...)...)
	return scm, config
}

// TestConfigWriteCannotRedirectTheSecret: a write that changes token_url,
// iam_url, proxy_url or ca_cert without the secret is refused with a 400
// naming the field and why, for every provider; a listener on the new
// address then sees nothing through reads, a purge and a rotation.
func TestConfigWriteCannotRedirectTheSecret(t *testing.T) {
	t.Parallel()
	p := vaulttest.NewPalo(t, vaulttest.PaloOptions{})
	l := testkit.NewRecorder(t)
	// Another CA bundle: the vendor's CA twice.
	bundle := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(bundle, append(append([]byte{}, p.Vendor.CAPEM...), p.Vendor.CAPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Setups {
		config := p.Path("config", s.Config)
		key := "client_secret"
		if s.Provider == fakevendor.ProviderOracleCASB {
			key = "access_secret"
		}
		changes := map[string]string{"token_url": l.URL + "/token", "proxy_url": l.URL, "ca_cert": "@" + bundle}
		if s.Provider == fakevendor.ProviderSCM {
			changes["iam_url"] = l.URL
		}
		for field, value := range changes {
			r := mustFail(t, p.Vault, "", 400, "write", config, field+"="+value, "verify_connection=false")
			for _, w := range []string{field, key, "same write", "address of their choosing"} {
				if !strings.Contains(r.Stderr, w) {
					t.Errorf("%s %s: the refusal does not say %q:\n%s", s.Provider, field, w, r.Stderr)
				}
			}
		}
		p.Vault.MustCLI(t, "write", p.Path("cache", "purge"), "config="+s.Config)
		token(t, p, "", p.Path("creds", s.Role))
	}
	_, config := rotatableSCM(t, p)
	p.Vault.MustCLI(t, "write", "-f", config+"/rotate-root")
	if seen := l.Requests(); len(seen) != 0 {
		t.Errorf("the listener on the new address was sent %d requests: %q", len(seen), seen)
	}
}

// TestSecretWrittenDuringARotationThroughVault: the first reset is slow
// and its answer, and the next two, are lost. While it is in flight, a
// write of the old secret and a delete are refused; after it, the old
// secret (reset meanwhile) is verified and refused; once the IAM API
// answers again, rotate-root recovers and reads get tokens of the vendor's
// current secret.
func TestSecretWrittenDuringARotationThroughVault(t *testing.T) {
	t.Parallel()
	p := vaulttest.NewPalo(t, vaulttest.PaloOptions{})
	scm, config := rotatableSCM(t, p)
	old := scm.Account.ClientSecret
	p.Vendor.SetIAMFaults(t, fakevendor.IAMFaults{SlowResetNext: 1, AnswerDelay: 3 * time.Second, LoseResetNext: provider.ResetAttempts})

	done := make(chan vaulttest.Result, 1)
	go func() { done <- p.Vault.CLI(t, "write", "-f", config+"/rotate-root") }()
	vaulttest.Eventually(t, 10*time.Second, 50*time.Millisecond, "the first reset at the vendor", func() error {
		if p.Vendor.IAMResets(t, scm.Account.ClientID) == 0 {
			return errors.New("no reset yet")
		}
		return nil
	})
	for _, args := range [][]string{{"write", config, "client_secret=" + old}, {"delete", config}} {
		if r := mustFail(t, p.Vault, "", 400, args...); !strings.Contains(r.Stderr, "rotation of its credential is running") {
			t.Errorf("`vault %s` during the rotation: %s", args[0], r.Stderr)
		}
	}
	if r := <-done; r.OK() || !strings.Contains(r.Stderr, "unknown") {
		t.Fatalf("the rotation with its answers lost: %s", r)
	}
	r := mustFail(t, p.Vault, "", 400, "write", config, "client_secret="+old, "verify_connection=false")
	for _, w := range []string{"rotation begun", "HTTP 401", "Nothing was changed"} {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("the old secret written after the lost answers: the refusal does not say %q:\n%s", w, r.Stderr)
		}
	}
	// While the reset's outcome is unknown, the account it is for cannot
	// be changed without the secret.
	r = mustFail(t, p.Vault, "", 400, "write", config, "client_id=intruder@"+scm.Account.TSGIDs[0]+".iam.panserviceaccount.com", "verify_connection=false")
	if !strings.Contains(r.Stderr, "client_id") || !strings.Contains(r.Stderr, "outcome is unknown") {
		t.Errorf("a client_id change while the reset is pending: %s", r.Stderr)
	}
	p.Vendor.SetIAMFaults(t, fakevendor.IAMFaults{})
	p.Vault.MustCLI(t, "write", "-f", config+"/rotate-root")
	p.Vault.MustCLI(t, "write", p.Path("cache", "purge"), "config="+scm.Config)
	token(t, p, "", p.Path("creds", scm.Role))
	// A role of a child TSG still gets tokens of its own TSG after the
	// rotation.
	child := scm.Role + "-child"
	p.Vault.MustCLI(t, "write", p.Path("roles", child), "config="+scm.Config, "tsg_id="+scm.Account.TSGIDs[1])
	if _, tok := token(t, p, "", p.Path("creds", child)); p.Vendor.Check(t, tok).Info.Scope != "tsg_id:"+scm.Account.TSGIDs[1] {
		t.Errorf("creds/%s after the rotation: a token for %q, want tsg_id:%s", child, p.Vendor.Check(t, tok).Info.Scope, scm.Account.TSGIDs[1])
	}
}

// TestPluginReloadDuringASlowReset: Vault lets a reload wait for the
// requests in flight, so a rotate-root whose caller is still waiting holds
// it off; once the caller has gone, the reload stops the run at once
// (Cleanup cancels and waits for it), and the next instance of the mount
// rotates at once (the claim was dropped), resuming the pending reset.
func TestPluginReloadDuringASlowReset(t *testing.T) {
	t.Parallel()
	p := vaulttest.NewPalo(t, vaulttest.PaloOptions{})
	scm, config := rotatableSCM(t, p)
	p.Vendor.SetIAMFaults(t, fakevendor.IAMFaults{ResetDelay: 2 * time.Minute})
	impatient := p.Vault.Client(t)
	impatient.SetClientTimeout(3 * time.Second)
	if _, err := impatient.Logical().Write(config+"/rotate-root", nil); err == nil {
		t.Fatal("the rotation over a two-minute reset answered within three seconds")
	}
	start := time.Now()
	p.Vault.MustCLI(t, "write", "sys/plugins/reload/backend", "mounts="+p.Mount+"/")
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the reload took %s: the run went on", d)
	}
	p.Vendor.SetIAMFaults(t, fakevendor.IAMFaults{})
	p.Vault.MustCLI(t, "write", "-f", config+"/rotate-root")
	if n := p.Vendor.IAMResets(t, scm.Account.ClientID); n != 1 {
		t.Errorf("the vendor made %d resets, want 1", n)
	}
	p.Vault.MustCLI(t, "write", p.Path("cache", "purge"), "config="+scm.Config)
	token(t, p, "", p.Path("creds", scm.Role))
}

// TestRotationResetAnswers: the reset checks the account, and reads
// answers the vendor does not document: a service_account_id of another
// account in the same TSG is a 400 naming both client ids, with nothing
// reset; a 200 with a secret is a success; an answer in text form is never
// quoted.
func TestRotationResetAnswers(t *testing.T) {
	t.Parallel()
	sibling := fakevendor.DemoSCMSibling()
	p := vaulttest.NewPalo(t, vaulttest.PaloOptions{})
	p.Vendor.AddAccount(t, sibling)
	scm, config := rotatableSCM(t, p, "service_account_id="+fakevendor.DemoSCMSiblingID)
	r := mustFail(t, p.Vault, "", 400, "write", "-f", config+"/rotate-root")
	for _, w := range []string{sibling.ClientID, scm.Account.ClientID, "nothing was reset"} {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("the wrong account's refusal does not say %q:\n%s", w, r.Stderr)
		}
	}
	if n := p.Vendor.IAMResets(t, sibling.ClientID) + p.Vendor.IAMResets(t, scm.Account.ClientID); n != 0 {
		t.Errorf("%d resets were made", n)
	}
	p.Vault.MustCLI(t, "write", config, "service_account_id=")

	p.Vendor.SetIAMFaults(t, fakevendor.IAMFaults{ResetStatus: http.StatusOK})
	p.Vault.MustCLI(t, "write", "-f", config+"/rotate-root")
	if n := p.Vendor.IAMResets(t, scm.Account.ClientID); n != 1 {
		t.Errorf("a 200 answer: %d resets, want 1", n)
	}

	p.Vendor.SetIAMFaults(t, fakevendor.IAMFaults{ResetAnswer: fakevendor.ResetAnswerText})
	r = mustFail(t, p.Vault, "", 500, "write", "-f", config+"/rotate-root")
	if !strings.Contains(r.Stderr, "not quoted") || strings.Contains(r.Stderr, "client_secret=") {
		t.Errorf("a text answer: %s", r.Stderr)
	}
	read := readJSON(t, p.Vault, "", config)
	if strings.Contains(str(t, read.Data, "last_rotation_error"), "client_secret=") {
		t.Error("last_rotation_error quotes the answer")
	}
	p.Vendor.SetIAMFaults(t, fakevendor.IAMFaults{})
	p.Vault.MustCLI(t, "write", "-f", config+"/rotate-root")
	p.Vault.MustCLI(t, "write", p.Path("cache", "purge"), "config="+scm.Config)
	token(t, p, "", p.Path("creds", scm.Role))
}
