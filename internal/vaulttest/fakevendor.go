package vaulttest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
)

// FakeVendorOptions configure StartFakeVendor. The zero value serves the
// demo accounts (fakevendor.DemoAccounts) over TLS with the vendors'
// documented token lifetimes.
type FakeVendorOptions struct {
	// Accounts replace the demo accounts when not nil.
	Accounts []fakevendor.Account
	// Lifetimes set token lifetimes per provider at start-up.
	Lifetimes map[string]time.Duration
	// Args are extra command-line flags.
	Args []string
	// StartTimeout bounds the wait for the server to listen
	// (DefaultStartTimeout).
	StartTimeout time.Duration
}

// FakeVendor is a running fake vendor command (internal/fakevendor/cmd/
// fakevendor), served over HTTPS with a CA generated at start-up, and a
// client for its admin API.
type FakeVendor struct {
	*Process

	// URL is the base URL, such as https://127.0.0.1:41234.
	URL string
	// CAFile holds the PEM of the CA that signed the server's certificate:
	// what a config's ca_cert must trust.
	CAFile string
	// CAPEM is the content of CAFile.
	CAPEM []byte

	client *http.Client
}

// StartFakeVendor starts the fake vendor command bin on a free loopback
// port and waits until it listens. It is stopped in t.Cleanup.
func StartFakeVendor(t testing.TB, bin string, o FakeVendorOptions) *FakeVendor {
	t.Helper()
	o.StartTimeout = startTimeout(o.StartTimeout)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	addrFile := filepath.Join(dir, "url.txt")
	args := []string{"-addr", "127.0.0.1:0", "-tls", "-ca-out", caFile, "-addr-out", addrFile}
	if o.Accounts != nil {
		// The fake needs the secrets; the file is private (0600) and temporary.
		b, err := json.Marshal(o.Accounts) //nolint:gosec // G117: see above
		if err != nil {
			t.Fatalf("vaulttest: encode accounts: %v", err)
		}
		accountsFile := filepath.Join(dir, "accounts.json")
		writeFile(t, accountsFile, b)
		args = append(args, "-accounts", accountsFile)
	}
	providers := make([]string, 0, len(o.Lifetimes))
	for p := range o.Lifetimes {
		providers = append(providers, p)
	}
	sort.Strings(providers)
	for _, p := range providers {
		args = append(args, "-lifetime", p+"="+o.Lifetimes[p].String())
	}
	args = append(args, o.Args...)

	p := StartProcess(t, "fakevendor", bin, args, ChildEnv(dir), dir, filepath.Join(dir, "fakevendor.log"))
	fv := &FakeVendor{Process: p, CAFile: caFile}
	err := waitFor(context.Background(), o.StartTimeout, 50*time.Millisecond, func() (bool, error) {
		if p.Exited() {
			return false, fmt.Errorf("fakevendor exited: %s", p.exitReason())
		}
		b, err := os.ReadFile(addrFile) //nolint:gosec // our own temporary file
		if err != nil {
			return false, nil
		}
		fv.URL = strings.TrimSpace(string(b))
		return fv.URL != "", nil
	})
	if err != nil {
		t.Fatalf("vaulttest: the fake vendor did not start: %v\nits log:\n%s", err, p.LogTail(logTailLines))
	}
	fv.CAPEM, err = os.ReadFile(caFile) //nolint:gosec // our own temporary file
	if err != nil {
		t.Fatalf("vaulttest: the fake vendor's CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(fv.CAPEM) {
		t.Fatalf("vaulttest: %s holds no certificate", caFile)
	}
	fv.client = &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}
	t.Cleanup(fv.client.CloseIdleConnections)
	return fv
}

// TokenURL is the documented token URL of provider on this fake.
func (f *FakeVendor) TokenURL(provider string) string {
	return f.URL + fakevendor.TokenPath(provider)
}

// admin sends one admin API request; in (if not nil) is sent as JSON and
// the answer is decoded into out (if not nil). Any status but want fails
// the test.
func (f *FakeVendor) admin(t testing.TB, method, path string, in, out any, want int) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("vaulttest: encode %s %s: %v", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, f.URL+path, body)
	if err != nil {
		t.Fatalf("vaulttest: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatalf("vaulttest: fake vendor %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		t.Fatalf("vaulttest: fake vendor %s %s: %v", method, path, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("vaulttest: fake vendor %s %s answered %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("vaulttest: fake vendor %s %s: decode: %v", method, path, err)
		}
	}
}

// SetLifetimes sets the lifetime of tokens minted from now on, per
// provider.
func (f *FakeVendor) SetLifetimes(t testing.TB, lifetimes map[string]time.Duration) {
	t.Helper()
	in := map[string]string{}
	for p, d := range lifetimes {
		in[p] = d.String()
	}
	f.admin(t, http.MethodPut, "/_fake/lifetimes", in, nil, http.StatusOK)
}

// SetFaults replaces the fault configuration.
func (f *FakeVendor) SetFaults(t testing.TB, faults fakevendor.Faults) {
	t.Helper()
	f.admin(t, http.MethodPut, "/_fake/faults", faults, nil, http.StatusOK)
}

// Stats returns the token request counters.
func (f *FakeVendor) Stats(t testing.TB) fakevendor.Stats {
	t.Helper()
	var s fakevendor.Stats
	f.admin(t, http.MethodGet, "/_fake/stats", nil, &s, http.StatusOK)
	return s
}

// ResetStats zeroes the counters.
func (f *FakeVendor) ResetStats(t testing.TB) {
	t.Helper()
	f.admin(t, http.MethodPost, "/_fake/stats/reset", nil, nil, http.StatusNoContent)
}

// AddAccount adds or replaces an account.
func (f *FakeVendor) AddAccount(t testing.TB, a fakevendor.Account) {
	t.Helper()
	f.admin(t, http.MethodPost, "/_fake/accounts", a, nil, http.StatusCreated)
}

// Check asks the fake whether it minted token and whether the token is
// still valid at the fake's clock.
func (f *FakeVendor) Check(t testing.TB, token string) fakevendor.CheckResult {
	t.Helper()
	var res fakevendor.CheckResult
	f.admin(t, http.MethodGet, "/_fake/check?token="+url.QueryEscape(token), nil, &res, http.StatusOK)
	return res
}

// Now is the fake's clock.
func (f *FakeVendor) Now(t testing.TB) time.Time {
	t.Helper()
	var res struct {
		Now time.Time `json:"now"`
	}
	f.admin(t, http.MethodGet, "/_fake/now", nil, &res, http.StatusOK)
	return res.Now
}
