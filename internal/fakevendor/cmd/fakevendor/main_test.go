package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testkit"
)

func TestParseFlags(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		args    []string
		wantErr string // "" for success
		check   func(t *testing.T, c config)
	}{
		"defaults": {nil, "", func(t *testing.T, c config) {
			if c.addr != "127.0.0.1:0" || !c.tls || c.scmInvalidClientStatus != 401 || c.oracleUnknownKeyStatus != 200 {
				t.Errorf("config = %+v", c)
			}
		}},
		"localhost":     {[]string{"-addr", "localhost:8200"}, "", nil},
		"IPv6 loopback": {[]string{"-addr", "[::1]:0"}, "", nil},
		"127.0.0.2":     {[]string{"-addr", "127.0.0.2:0"}, "", nil},
		"lifetimes": {[]string{"-lifetime", "paloalto_scm=1s", "-lifetime", "oracle_casb=87600h"}, "", func(t *testing.T, c config) {
			if c.lifetimes["paloalto_scm"] != time.Second || c.lifetimes["oracle_casb"] != 87600*time.Hour {
				t.Errorf("lifetimes = %v", c.lifetimes)
			}
		}},
		"all interfaces":     {[]string{"-addr", ":8080"}, "not loopback", nil},
		"0.0.0.0":            {[]string{"-addr", "0.0.0.0:0"}, "not loopback", nil},
		"private address":    {[]string{"-addr", "10.1.2.3:80"}, "not loopback", nil},
		"IPv6 any":           {[]string{"-addr", "[::]:0"}, "not loopback", nil},
		"host name":          {[]string{"-addr", "example.com:80"}, "not loopback", nil},
		"no port":            {[]string{"-addr", "127.0.0.1"}, "missing port", nil},
		"lifetime without =": {[]string{"-lifetime", "1s"}, "provider=duration", nil},
		"lifetime bad":       {[]string{"-lifetime", "paloalto_scm=soon"}, "bad duration", nil},
		"SCM status 403":     {[]string{"-scm-invalid-client-status", "403"}, "not 400 or 401", nil},
		"Oracle status 418":  {[]string{"-oracle-unknown-key-status", "418"}, "418", nil},
		"extra argument":     {[]string{"serve"}, "unexpected arguments", nil},
		"unknown flag":       {[]string{"-port", "1"}, "not defined", nil},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := parseFlags(tc.args, io.Discard)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestFormatRecord(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		rec  fakevendor.RequestRecord
		want string
	}{
		"success": {
			fakevendor.RequestRecord{Provider: "paloalto_scm", ClientID: "sa@1.iam", Method: "POST", Path: "/am/oauth2/access_token", Status: 200, TokenIssued: true},
			`token provider=paloalto_scm client_id="sa@1.iam" method=POST path="/am/oauth2/access_token" status=200 fault=- delayed=false issued=true`,
		},
		"reset": {
			fakevendor.RequestRecord{Provider: "oauth2", Method: "POST", Path: "/oauth2/token", Fault: "reset"},
			`token provider=oauth2 client_id="" method=POST path="/oauth2/token" status=none fault=reset delayed=false issued=false`,
		},
		"hostile client id": {
			fakevendor.RequestRecord{Provider: "oauth2", ClientID: "x\nfakevendor: token provider=forged", Method: "POST", Path: "/oauth2/token", Status: 401},
			`token provider=oauth2 client_id="x\nfakevendor: token provider=forged" method=POST path="/oauth2/token" status=401 fault=- delayed=false issued=false`,
		},
	} {
		if got := formatRecord(tc.rec); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, tc.want)
		}
	}
}

// started is a running command.
type started struct {
	url    string
	stderr *testkit.SyncBuffer
	stop   func() error // cancels the command and returns run's error
}

// start runs the command with args until the test ends, and returns once it
// printed its URL.
func start(t *testing.T, args ...string) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	stderr := &testkit.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, outW, stderr)
		outW.CloseWithError(errors.New("run returned"))
		done <- err
	}()
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(outR).ReadString('\n')
		lines <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, outR)
	}()
	var url string
	select {
	case url = <-lines:
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("no URL printed; stderr: %s", stderr)
	}
	if url == "" {
		cancel()
		t.Fatalf("run ended: %v; stderr: %s", <-done, stderr)
	}
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(10 * time.Second):
				runErr = errors.New("run did not return after cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return &started{url: url, stderr: stderr, stop: stop}
}

func post(t *testing.T, client *http.Client, u, contentType, body string, basic ...string) (int, map[string]any) {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	if len(basic) == 2 {
		r.SetBasicAuth(basic[0], basic[1])
	}
	resp, err := client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestRunTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	caFile, addrFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "addr")
	cmd := start(t, "-ca-out", caFile, "-addr-out", addrFile, "-lifetime", "paloalto_scm=1s")

	if !strings.HasPrefix(cmd.url, "https://127.0.0.1:") {
		t.Fatalf("URL = %q", cmd.url)
	}
	addr, err := os.ReadFile(addrFile) //nolint:gosec // G304: the test's own temporary file
	if err != nil || strings.TrimSpace(string(addr)) != cmd.url {
		t.Errorf("-addr-out holds %q (%v), want %q", addr, err, cmd.url)
	}
	caPEM, err := os.ReadFile(caFile) //nolint:gosec // G304: the test's own temporary file
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("-ca-out is not a PEM certificate: %q", caPEM)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	defer client.CloseIdleConnections()

	scm, _ := fakevendor.DemoAccount(fakevendor.ProviderSCM)
	status, body := post(t, client, cmd.url+"/am/oauth2/access_token", "application/x-www-form-urlencoded",
		"grant_type=client_credentials&scope=tsg_id:1234567891", scm.ClientID, scm.ClientSecret)
	if status != http.StatusOK || body["expires_in"] != float64(1) {
		t.Errorf("SCM: status %d, body %v", status, body)
	}
	// The admin API is there too.
	resp, err := client.Get(cmd.url + "/_fake/stats")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("admin: status %d", resp.StatusCode)
	}
	if err := cmd.stop(); err != nil {
		t.Errorf("run = %v, want a clean exit", err)
	}
	if !strings.Contains(cmd.stderr.String(), `token provider=paloalto_scm client_id="wildfire-sa@1234567890.iam.panserviceaccount.com"`) {
		t.Errorf("no log line for the request; stderr:\n%s", cmd.stderr)
	}
}

// Requests that carry secrets in every place a client may put them, right
// or wrong, leave no secret in the command's log.
func TestRunLogsNoSecret(t *testing.T) {
	t.Parallel()
	cmd := start(t, "-tls=false")
	if !strings.HasPrefix(cmd.url, "http://127.0.0.1:") {
		t.Fatalf("URL = %q", cmd.url)
	}
	client := &http.Client{}
	form := "application/x-www-form-urlencoded"
	var secrets []string
	for _, a := range fakevendor.DemoAccounts() {
		secret := a.ClientSecret + a.AccessSecret
		secrets = append(secrets, secret)
		u := cmd.url + fakevendor.TokenPath(a.Provider)
		q := url.Values{"grant_type": {"client_credentials"}, "client_id": {a.ClientID}, "client_secret": {secret}, "scope": {"api_access"}}
		post(t, client, u, form, "grant_type=client_credentials&scope=api_access&scope=tsg_id:1234567890", a.ID(), secret)
		post(t, client, u, form, q.Encode())
		post(t, client, u, form, q.Encode(), a.ID(), secret)
		post(t, client, u, "application/json", `{"accessKey":"`+a.ID()+`","accessSecret":"`+secret+`"}`)
		post(t, client, u+"?client_secret="+url.QueryEscape(secret), form, q.Encode())
		post(t, client, u, form, "grant_type=client_credentials", a.ID(), secret+"-wrong")
	}
	// And a good request per provider, so successes are logged too.
	for _, a := range fakevendor.DemoAccounts() {
		u := cmd.url + fakevendor.TokenPath(a.Provider)
		switch a.Provider {
		case fakevendor.ProviderOracleCASB:
			post(t, client, u, "application/json", `{"accessKey":"`+a.AccessKey+`","accessSecret":"`+a.AccessSecret+`"}`)
		case fakevendor.ProviderBrightPattern:
			post(t, client, u, form, url.Values{"grant_type": {"client_credentials"}, "client_id": {a.ClientID}, "client_secret": {a.ClientSecret}, "scope": {a.TenantHost}}.Encode())
		default:
			post(t, client, u, form, "grant_type=client_credentials&scope=api_access", a.ClientID, a.ClientSecret)
		}
	}
	if err := cmd.stop(); err != nil {
		t.Errorf("run = %v", err)
	}
	log := cmd.stderr.String()
	if n := strings.Count(log, "token provider="); n != 35 {
		t.Errorf("%d token log lines, want 35:\n%s", n, log)
	}
	if !strings.Contains(log, "status=201 fault=- delayed=false issued=true") {
		t.Errorf("no Oracle success logged:\n%s", log)
	}
	for _, s := range secrets {
		if strings.Contains(log, s) {
			t.Errorf("the log contains the secret %q:\n%s", s, log)
		}
	}
}

func TestRunAccountsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "accounts.json")
	accounts := `[{"provider":"oauth2","client_id":"file-client","client_secret":"file-secret","auth_method":"client_secret_post"}]`
	if err := os.WriteFile(file, []byte(accounts), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := start(t, "-tls=false", "-accounts", file)
	client := &http.Client{}
	u := cmd.url + "/oauth2/token"
	form := "application/x-www-form-urlencoded"
	if status, _ := post(t, client, u, form, "grant_type=client_credentials&client_id=file-client&client_secret=file-secret"); status != 200 {
		t.Errorf("file account: status %d", status)
	}
	demo, _ := fakevendor.DemoAccount(fakevendor.ProviderOAuth2)
	if status, _ := post(t, client, u, form, "grant_type=client_credentials", demo.ClientID, demo.ClientSecret); status != 401 {
		t.Errorf("demo account served beside a file: status %d", status)
	}
}

func TestRunRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, tc := range map[string]struct {
		args    []string
		wantErr string
	}{
		"non-loopback":     {[]string{"-addr", "0.0.0.0:0"}, "not loopback"},
		"missing accounts": {[]string{"-accounts", filepath.Join(dir, "none.json")}, "no such file"},
		"invalid account": {
			[]string{"-accounts", write("bad.json", `[{"provider":"paloalto_scm","client_id":"x","client_secret":"leaky-secret"}]`)},
			"tsg_id",
		},
		"malformed accounts": {
			[]string{"-accounts", write("malformed.json", `[{"provider":"oauth2","client_secret":"leaky-secret"`)},
			"not a JSON list",
		},
		"unknown field": {
			[]string{"-accounts", write("unknown.json", `[{"provider":"oauth2","secret":"leaky-secret"}]`)},
			"unknown field",
		},
		"bad lifetime provider": {[]string{"-lifetime", "okta=1s"}, "unknown provider"},
		"ca-out without tls":    {[]string{"-tls=false", "-ca-out", filepath.Join(dir, "ca.pem")}, "needs -tls"},
		"jwks-ca missing":       {[]string{"-jwks-ca", filepath.Join(dir, "none.pem")}, "-jwks-ca: open"},
		"jwks-ca not PEM":       {[]string{"-jwks-ca", write("ca.txt", "not a certificate")}, "no PEM certificate"},
		"help":                  {[]string{"-h"}, flag.ErrHelp.Error()},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("run = %v, want an error containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "leaky-secret") || strings.Contains(stderr.String(), "leaky-secret") {
				t.Errorf("the error or log leaks the secret: %v / %s", err, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("printed %q", stdout.String())
			}
		})
	}
}

// The default accounts are the demo accounts and the SCM sibling; -jwks-ca
// makes the fake trust a jwks_uri host's CA.
func TestNewServerDefaultsAndJWKSCA(t *testing.T) {
	t.Parallel()
	host := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"keys":[]}`)) }))
	defer host.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: host.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parseFlags([]string{"-jwks-ca", caFile}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := newServer(c, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	accts := srv.IAMAccounts()
	if len(accts) != 2 || accts[0].ID != fakevendor.DemoSCMSiblingID {
		t.Errorf("IAM accounts = %+v", accts)
	}
	client, err := jwksClient(caFile)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(host.URL)
	if err != nil {
		t.Fatalf("the -jwks-ca client does not trust the host: %v", err)
	}
	_ = resp.Body.Close()
	if client, _ := jwksClient(""); client != nil {
		if resp, err := client.Get(host.URL); err == nil {
			_ = resp.Body.Close()
			t.Error("the default client trusts a test CA")
		}
	}
}
