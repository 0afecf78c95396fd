//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testkit"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// rotatedPrefix starts every secret the fake vendor hands out in a reset.
const rotatedPrefix = "fake-scm-secret-"

// clientIDOf returns the client id of the account of provider.
func clientIDOf(accounts []fakevendor.Account, provider string) string {
	for _, a := range accounts {
		if a.Provider == provider {
			return a.ClientID
		}
	}
	return ""
}

// scanTimeout bounds one API request of the secret scan.
const scanTimeout = 45 * time.Second

// scanned is one thing a person or a program could see: a CLI command's
// output or an API response body.
type scanned struct {
	what string
	text string
}

// scanAPI sends raw HTTP requests to Vault and keeps every response body.
// It is safe for concurrent use and never fails the test itself, so it
// may be used from any goroutine.
type scanAPI struct {
	addr, token string
	client      *http.Client

	mu     sync.Mutex
	bodies []scanned
}

// do sends one request (body, if not nil, as JSON) and returns the status
// and body; status 0 means the request got no answer (err says why).
func (a *scanAPI) do(method, path string, body any) (int, []byte, error) {
	var in io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		in = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), scanTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.addr+"/v1/"+path, in)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Vault-Token", a.token)
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, nil, err
	}
	a.mu.Lock()
	a.bodies = append(a.bodies, scanned{what: method + " /v1/" + path, text: string(out)})
	a.mu.Unlock()
	return resp.StatusCode, out, nil
}

// must sends one request from the test goroutine and fails the test
// unless the answer has status want.
func (a *scanAPI) must(t *testing.T, want int, method, path string, body any) []byte {
	t.Helper()
	status, out, err := a.do(method, path, body)
	if err != nil || status != want {
		t.Fatalf("%s %s: HTTP %d (%v), want %d: %s", method, path, status, err, want, redactBody(out))
	}
	return out
}

// redactBody shortens a body for a failure message; bodies are scanned
// for secrets separately.
func redactBody(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}

// TestSecretScanEverywhere gives every provider's account a secret that
// starts with a random canary and holds characters that every encoding
// changes (+ / = & % " < > '), then does, through a real Vault logging at
// trace level with a file audit device, everything that could echo a
// secret: refused writes (the vendor refusing the secret, a secret with
// white space or a control character, a secret given twice, a secret of
// the wrong JSON type, bad input next to a good secret), good writes,
// reads of configs, roles, creds, the cache, the metrics and help, the OpenAPI document,
// and reads that fail in every way the vendor can fail (wrong secret and
// its replay, truncated, non-JSON and token-less bodies, an outage served
// stale, the vendor gone) both through the CLI and the HTTP API. It then
// scans every CLI output, every API response body, the Vault server log
// (which carries the plugin's), the audit log and the fake vendor's log:
// no secret, in any form, and not even the canary, appears anywhere.
func TestSecretScanEverywhere(t *testing.T) {
	t.Parallel()
	sc := &secretScan{canary: "Cnry" + rand.Text()[:16], accounts: fakevendor.DemoAccounts(), secretOf: map[string]string{}}
	for i := range sc.accounts {
		a := &sc.accounts[i]
		s := sc.canary + `+/=&%"<>'-` + a.Provider
		if a.Provider == fakevendor.ProviderOracleCASB {
			a.AccessSecret = s
		} else {
			a.ClientSecret = s
		}
		sc.secretOf[a.Provider] = s
		sc.forms = append(sc.forms, testkit.SecretForms(a.ClientID, s)...)
	}
	bins := vaulttest.LoadBinaries(t)
	sc.fv = vaulttest.StartFakeVendor(t, bins.FakeVendor, vaulttest.FakeVendorOptions{Accounts: sc.accounts})
	sc.v = vaulttest.StartDev(t, bins.Vault, vaulttest.DevOptions{LogLevel: "trace"})
	sc.v.MountPalo(t, bins, "palo")
	sc.auditLog = filepath.Join(t.TempDir(), "audit.log")
	sc.v.MustCLI(t, "audit", "enable", "file", "file_path="+sc.auditLog)
	sc.api = &scanAPI{addr: sc.v.Addr, token: sc.v.RootToken, client: &http.Client{Timeout: scanTimeout}}
	t.Cleanup(sc.api.client.CloseIdleConnections)
	sc.setups = vaulttest.VendorSetups(t, sc.fv, sc.accounts)

	runSteps(t,
		step{"writes and reads of every provider", func(t *testing.T) {
			for _, s := range sc.setups {
				t.Run(s.Provider, func(t *testing.T) { sc.writesAndReads(t, s) })
			}
		}},
		step{"rotation of the paloalto_scm secret", sc.rotation},
		step{"vendor failures that are not retried", sc.vendorFailures},
		step{"vendor echoes of the secret in every encoding", sc.vendorEchoes},
		step{"an outage with a cached token", sc.outageWithCachedToken},
		step{"documentation", sc.documentation},
		step{"every secret was used", sc.secretsUsed},
		step{"the vendor gone", sc.vendorGone},
		step{"no secret anywhere", sc.scanEverything},
	)
}

// secretScan is the state TestSecretScanEverywhere's steps share: the
// servers, the secrets and every form of them, and everything seen so far.
type secretScan struct {
	canary   string
	accounts []fakevendor.Account
	secretOf map[string]string // provider: its account's secret
	forms    []string          // every form of every secret used
	fv       *vaulttest.FakeVendor
	v        *vaulttest.Server
	auditLog string
	api      *scanAPI
	setups   []vaulttest.VendorSetup
	outputs  []scanned // every CLI command's output
}

var (
	scanPlain = vaulttest.CLIOptions{}
	scanJSON  = vaulttest.CLIOptions{Env: []string{"VAULT_FORMAT=json"}}
	// scanSCM names the Strata Cloud Manager config and role.
	scanSCM = vaulttest.StandardNames[fakevendor.ProviderSCM]
)

// cli runs `vault args...`, keeps its output for the scan, and fails the
// test unless its success is wantOK.
func (sc *secretScan) cli(t *testing.T, wantOK bool, o vaulttest.CLIOptions, args ...string) vaulttest.Result {
	t.Helper()
	r := sc.v.CLIWith(t, o, args...)
	sc.outputs = append(sc.outputs, scanned{what: "`vault " + strings.Join(vaulttest.RedactArgs(args), " ") + "`", text: r.Output()})
	if r.OK() != wantOK {
		t.Fatalf("want success %t: `vault %s` exited %d", wantOK, strings.Join(vaulttest.RedactArgs(args), " "), r.Code)
	}
	return r
}

// writesAndReads does, for one provider's setup, everything that could
// echo its secret: refused writes each carrying it, good writes and the
// reads around them, a password in proxy_url, and the wrong secret stored
// unverified.
func (sc *secretScan) writesAndReads(t *testing.T, s vaulttest.VendorSetup) {
	cli, api, plain, jsonOut := sc.cli, sc.api, scanPlain, scanJSON
	key := "client_secret"
	if s.Provider == fakevendor.ProviderOracleCASB {
		key = "access_secret"
	}
	secret := sc.secretOf[s.Provider]
	wrong := sc.canary + "-wrong-" + s.Provider
	sc.forms = append(sc.forms, testkit.SecretForms(s.Account.ClientID, wrong)...)
	var args []string // the config's fields without the secret
	for _, a := range s.ConfigArgs(sc.fv) {
		if !strings.HasPrefix(a, key+"=") {
			args = append(args, a)
		}
	}
	fields := map[string]any{"ca_cert": string(sc.fv.CAPEM)}
	for k, val := range s.Fields {
		fields[k] = val
	}
	with := func(extra map[string]any) map[string]any {
		out := map[string]any{}
		for k, val := range fields {
			out[k] = val
		}
		for k, val := range extra {
			out[k] = val
		}
		return out
	}
	config := "palo/config/" + s.Config
	write := func(extra ...string) []string { return append(append([]string{"write", config}, args...), extra...) }

	// Refused writes, each carrying a secret.
	cli(t, false, plain, write(key+"="+wrong)...)                          // the vendor refuses it
	cli(t, false, plain, write(key+"="+wrong, key+"="+secret)...)          // given twice: a list
	cli(t, false, plain, write(key+"= "+secret)...)                        // leading white space
	cli(t, false, plain, write(key+"="+secret+"\x07")...)                  // a control character
	cli(t, false, plain, write(key+"="+secret, "request_timeout=soon")...) // bad input next to it
	cli(t, false, plain, write(key+"="+secret, "no_such_field=1")...)      // an unknown field
	api.must(t, 400, http.MethodPut, config, with(map[string]any{key: []any{secret, wrong}}))
	api.must(t, 400, http.MethodPut, config, with(map[string]any{key: map[string]any{"value": secret}}))
	api.must(t, 400, http.MethodPut, config, with(map[string]any{key: wrong}))
	//nolint:gosec // G101: the test's canary secret, not a credential
	api.must(t, 400, http.MethodPut, config, with(map[string]any{key: secret, "token_url": "http://vendor.example/token"}))
	proxy := (&url.URL{Scheme: "http", User: url.UserPassword("proxyuser", secret), Host: "127.0.0.1:9"}).String()
	api.must(t, 400, http.MethodPut, config, with(map[string]any{key: secret, "proxy_url": []any{proxy}}))

	// The right secret, and everything that reads around it.
	cli(t, true, plain, write(key+"="+secret)...)
	cli(t, true, plain, "write", "palo/roles/"+s.Role, "config="+s.Config)
	cli(t, true, plain, "read", config)
	cli(t, true, jsonOut, "read", config)
	api.must(t, 200, http.MethodGet, config, nil)
	api.must(t, 200, http.MethodGet, "palo/roles/"+s.Role, nil)
	cli(t, true, plain, "read", "palo/creds/"+s.Role)
	cli(t, true, jsonOut, "read", "palo/creds/"+s.Role)
	api.must(t, 200, http.MethodGet, "palo/creds/"+s.Role, nil)
	// A password in proxy_url is a secret too. A new proxy needs the
	// secret in the same write; without it, the write is refused.
	cli(t, false, plain, "write", config, "proxy_url="+proxy, "verify_connection=false")
	cli(t, true, plain, "write", config, key+"="+secret, "proxy_url="+proxy, "verify_connection=false")
	cli(t, true, jsonOut, "read", config)
	api.must(t, 200, http.MethodGet, config, nil)
	cli(t, true, plain, "write", config, key+"="+secret, "proxy_url=", "verify_connection=true")

	// The wrong secret stored unverified: the read fails with the vendor's
	// 401, later reads replay it; the right secret mends it.
	cli(t, true, plain, write(key+"="+wrong, "verify_connection=false")...)
	cli(t, false, plain, "read", "palo/creds/"+s.Role)
	api.must(t, 500, http.MethodGet, "palo/creds/"+s.Role, nil)
	cli(t, true, jsonOut, "read", "palo/cache")
	cli(t, true, plain, write(key+"="+secret, "verify_connection=true")...)
}

// rotation rotates the paloalto_scm secret: a success, a refused reset, a
// reset whose answer is lost once (and is repeated), a refusal for another
// provider. Every secret the fake hands out in a reset starts with
// rotatedPrefix, which the scan looks for as well.
func (sc *secretScan) rotation(t *testing.T) {
	cli, api, fv, plain, jsonOut := sc.cli, sc.api, sc.fv, scanPlain, scanJSON
	scmConfig := "palo/config/" + scanSCM.Config
	cli(t, false, plain, "write", scmConfig, "iam_url="+fv.URL) // a new destination without the secret
	cli(t, true, plain, "write", scmConfig, "iam_url="+fv.URL, "client_secret="+sc.secretOf[fakevendor.ProviderSCM], "rotation_period=1h")
	cli(t, true, plain, "write", "-f", scmConfig+"/rotate-root")
	cli(t, true, jsonOut, "write", "-f", scmConfig+"/rotate-root")
	fv.SetIAMFaults(t, fakevendor.IAMFaults{RefuseReset: true})
	cli(t, false, plain, "write", "-f", scmConfig+"/rotate-root")
	api.must(t, 500, http.MethodPut, scmConfig+"/rotate-root", nil)
	fv.SetIAMFaults(t, fakevendor.IAMFaults{LoseResetNext: 1})
	api.must(t, 200, http.MethodPut, scmConfig+"/rotate-root", nil)
	fv.SetIAMFaults(t, fakevendor.IAMFaults{})
	cli(t, true, jsonOut, "read", scmConfig)
	cli(t, true, plain, "read", "palo/creds/"+scanSCM.Role)
	cli(t, false, plain, "write", "-f", "palo/config/"+vaulttest.StandardNames[fakevendor.ProviderOAuth2].Config+"/rotate-root")
	cli(t, true, plain, "path-help", scmConfig+"/rotate-root")
	if n := fv.IAMResets(t, clientIDOf(sc.accounts, fakevendor.ProviderSCM)); n != 4 {
		t.Errorf("the fake made %d resets, want 4: the rotation part of the scan did not run as meant", n)
	}
}

// failingReads sets the vendor's faults to f (named what in the test's
// messages), purges the cache and reads every role through the CLI: every
// read fails, naming the provider.
func (sc *secretScan) failingReads(t *testing.T, what string, f fakevendor.Faults) {
	t.Helper()
	sc.fv.SetFaults(t, f)
	sc.cli(t, true, scanPlain, "write", "-f", "palo/cache/purge")
	for _, s := range sc.setups {
		r := sc.cli(t, false, scanPlain, "read", "palo/creds/"+s.Role)
		if !strings.Contains(r.Stderr, s.Provider) {
			t.Errorf("%s: the error for %s does not name the provider:\n%s", what, s.Role, r.Stderr)
		}
	}
}

// vendorFailures makes the vendor fail in ways that are not retried, for
// every provider at once: every read fails, naming the provider.
func (sc *secretScan) vendorFailures(t *testing.T) {
	for name, f := range map[string]fakevendor.Faults{
		"truncated body": {TruncateBody: true},
		"no token":       {OmitToken: true},
		"HTML with 200":  {HTMLNext: 100, HTMLStatus: 200},
		"bad request":    {FailNext: 100, FailStatus: 400},
	} {
		sc.failingReads(t, name, f)
	}
}

// vendorEchoes: a vendor error body that echoes the secret it was sent, in
// each encoding a vendor or a proxy might use. The scan looks for each of
// them (testkit.SecretForms), and every error must still name the provider.
func (sc *secretScan) vendorEchoes(t *testing.T) {
	for _, enc := range []string{
		fakevendor.EchoRaw, fakevendor.EchoPathEscape, fakevendor.EchoLowerHex, fakevendor.EchoForm, fakevendor.EchoBase64,
		fakevendor.EchoBase64URL, fakevendor.EchoBase64URLNoPad, fakevendor.EchoJSONUnicode, fakevendor.EchoHTML,
	} {
		sc.failingReads(t, enc, fakevendor.Faults{EchoSecret: enc})
		for _, s := range sc.setups {
			sc.api.must(t, 500, http.MethodGet, "palo/creds/"+s.Role, nil)
		}
	}
	sc.fv.SetFaults(t, fakevendor.Faults{})
}

// outageWithCachedToken: during an outage the reader gets the cached token
// with a warning that quotes the vendor's failure. Tokens of 20 s and a
// min_ttl of 18 s make the cached token stop qualifying 2 s after it is
// fetched, while it still has most of its life.
func (sc *secretScan) outageWithCachedToken(t *testing.T) {
	sc.fv.SetFaults(t, fakevendor.Faults{})
	sc.fv.SetLifetimes(t, map[string]time.Duration{fakevendor.ProviderSCM: 20 * time.Second})
	sc.cli(t, true, scanPlain, "write", "palo/roles/"+scanSCM.Role, "min_ttl=18s")
	sc.cli(t, true, scanPlain, "write", "palo/cache/purge", "role="+scanSCM.Role)
	sc.cli(t, true, scanPlain, "read", "palo/creds/"+scanSCM.Role)
	sc.fv.SetFaults(t, fakevendor.Faults{Outage: fakevendor.OutageHTML})
	vaulttest.Eventually(t, 15*time.Second, 200*time.Millisecond, "a stale token with a warning during the outage", func() error {
		if r := sc.cli(t, true, scanPlain, "read", "palo/creds/"+scanSCM.Role); !strings.Contains(r.Output(), "serving a cached token") {
			return fmt.Errorf("no stale warning during the outage:\n%s", r.Output())
		}
		return nil
	})
	sc.cli(t, true, scanJSON, "read", "palo/cache")
	sc.cli(t, true, scanPlain, "read", "-format=raw", "palo/metrics")
	if m := sc.api.must(t, 200, http.MethodGet, "palo/metrics", nil); !bytes.Contains(m, []byte(`result="stale"`)) {
		t.Error("the metrics have no stale reads; the scan would not be looking at them")
	}
	sc.fv.SetLifetimes(t, map[string]time.Duration{fakevendor.ProviderSCM: fakevendor.DefaultLifetime(fakevendor.ProviderSCM)})
}

// documentation reads the help of every path, the lists and the OpenAPI
// document.
func (sc *secretScan) documentation(t *testing.T) {
	for _, p := range []string{"palo/config/x", "palo/config", "palo/roles/x", "palo/roles", "palo/creds/x", "palo/cache", "palo/cache/purge", "palo/metrics"} {
		sc.cli(t, true, scanPlain, "path-help", p)
	}
	sc.cli(t, true, scanPlain, "list", "palo/config")
	sc.cli(t, true, scanPlain, "list", "palo/roles")
	sc.api.must(t, 200, http.MethodGet, "sys/internal/specs/openapi", nil)
	sc.api.must(t, 200, http.MethodGet, "sys/internal/specs/openapi?generic_mount_paths=true", nil)
	sc.api.must(t, 200, "LIST", "palo/config", nil)
}

// secretsUsed checks the first part of what the scan looks through, which
// must be there or the scan proves nothing: every secret was used.
func (sc *secretScan) secretsUsed(t *testing.T) {
	sc.fv.SetFaults(t, fakevendor.Faults{})
	stats := sc.fv.Stats(t)
	for _, a := range sc.accounts {
		if stats.ByAccount[a.ID()].Successes == 0 {
			t.Errorf("the fake vendor issued no token to %v: its secret was never used", a)
		}
	}
}

// vendorGone stops the vendor: every provider's read fails at once, in
// parallel (each retries a refused connection), and so does a verified
// write.
func (sc *secretScan) vendorGone(t *testing.T) {
	if err := sc.fv.Stop(); err != nil {
		t.Fatal(err)
	}
	sc.cli(t, true, scanPlain, "write", "-f", "palo/cache/purge")
	var wg sync.WaitGroup
	statuses := make([]int, len(sc.setups))
	for i, s := range sc.setups {
		wg.Go(func() {
			statuses[i], _, _ = sc.api.do(http.MethodGet, "palo/creds/"+s.Role, nil)
		})
	}
	wg.Wait()
	for i, st := range statuses {
		if st != 500 {
			t.Errorf("read of %s with the vendor gone: HTTP %d, want 500", sc.setups[i].Role, st)
		}
	}
	// A write that needs no vendor call goes through; one that must
	// verify the login (a new config) fails naming the vendor's absence.
	sc.cli(t, true, scanPlain, "write", "palo/config/"+scanSCM.Config, "request_timeout=5s")
	for _, s := range sc.setups {
		if s.Provider == fakevendor.ProviderSCM {
			sc.cli(t, false, scanPlain, append([]string{"write", "palo/config/" + s.Config + "-probe"}, s.ConfigArgs(sc.fv)...)...)
		}
	}
	sc.cli(t, true, scanJSON, "read", "palo/cache")
	sc.api.must(t, 200, http.MethodGet, "palo/metrics", nil)
	for _, s := range sc.setups {
		sc.cli(t, true, scanPlain, "delete", "palo/roles/"+s.Role)
		sc.cli(t, true, scanPlain, "delete", "palo/config/"+s.Config)
	}
}

// scanEverything checks the rest of what the scan looks through (the
// plugin logged at trace level, the audit log saw the config writes, the
// OpenAPI document covers the engine), then scans every CLI output, every
// API response body, the Vault server log, the audit log and the fake
// vendor's log for the canary and every form of every secret.
func (sc *secretScan) scanEverything(t *testing.T) {
	serverLog := sc.v.Log()
	if !strings.Contains(serverLog, "vendor token request") || !strings.Contains(serverLog, "[TRACE]") {
		t.Error("the Vault server log has no plugin debug line or no trace line; the scan would prove nothing")
	}
	audit, err := os.ReadFile(sc.auditLog)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(audit, []byte(`"path":"palo/config/scm-prod"`)) {
		t.Error("the audit log has no config write; the scan would prove nothing")
	}
	sc.api.mu.Lock()
	bodies := append([]scanned(nil), sc.api.bodies...)
	sc.api.mu.Unlock()
	openAPI := false
	for _, b := range bodies {
		if strings.HasPrefix(b.what, "GET /v1/sys/internal/specs/openapi") && strings.Contains(b.text, "/palo/config/{name}") {
			openAPI = true
		}
	}
	if !openAPI {
		t.Error("the OpenAPI document does not describe palo/config/{name}; the scan would prove nothing")
	}

	everything := append(append(sc.outputs, bodies...),
		scanned{"the Vault server log", serverLog},
		scanned{"the audit log", string(audit)},
		scanned{"the fake vendor log", sc.fv.Log()})
	for _, s := range everything {
		if strings.Contains(s.text, sc.canary) {
			t.Errorf("%s holds a secret (the canary)", s.what)
			continue
		}
		if strings.Contains(s.text, rotatedPrefix) {
			t.Errorf("%s holds a secret the vendor handed out in a reset", s.what)
			continue
		}
		for _, f := range sc.forms {
			if strings.Contains(s.text, f) {
				t.Errorf("%s holds a secret in an encoded form (%d characters)", s.what, len(f))
				break
			}
		}
	}
	t.Logf("scanned %d CLI outputs, %d API response bodies and 3 logs (%d bytes of server log, %d of audit log)",
		len(sc.outputs), len(bodies), len(serverLog), len(audit))
}
