package fakevendor

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestGenerateTLS(t *testing.T) {
	t.Parallel()
	b, err := GenerateTLS()
	if err != nil {
		t.Fatal(err)
	}
	block, rest := pem.Decode(b.CACertPEM)
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("CA PEM is not one certificate: %q", b.CACertPEM)
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !ca.IsCA || !ca.Equal(b.CACert) {
		t.Fatalf("CA certificate: %v, IsCA %t", err, ca != nil && ca.IsCA)
	}
	if strings.Contains(string(b.CACertPEM), "PRIVATE KEY") {
		t.Error("the CA PEM holds a private key")
	}
	leaf := b.ServerCert.Leaf
	key, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		t.Errorf("server key is %T, want ECDSA P-256", leaf.PublicKey)
	}
	if !slices.Contains(leaf.DNSNames, "localhost") || len(leaf.IPAddresses) != 2 {
		t.Errorf("SANs: %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
	for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
		_, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: b.CertPool()})
		if err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: b.CertPool()}); err == nil {
		t.Error("the certificate is valid for example.com")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "localhost"}); err == nil {
		t.Error("the certificate verifies without the generated CA")
	}
}

func TestGenerateTLSHosts(t *testing.T) {
	t.Parallel()
	b, err := GenerateTLS("fake.test", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	leaf := b.ServerCert.Leaf
	if !slices.Equal(leaf.DNSNames, []string{"fake.test"}) || len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal(net.ParseIP("10.0.0.1")) {
		t.Errorf("SANs: %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
	// Two bundles never share a CA.
	other, err := GenerateTLS()
	if err != nil {
		t.Fatal(err)
	}
	if other.CACert.Equal(b.CACert) {
		t.Error("two calls returned the same CA")
	}
}

func TestTLSTestServer(t *testing.T) {
	t.Parallel()
	ts := NewTLSTestServer(t, DemoAccounts()...)
	if !strings.HasPrefix(ts.URL, "https://127.0.0.1:") {
		t.Fatalf("URL = %s", ts.URL)
	}
	if ts.TokenURL(ProviderSCM) != ts.URL+"/am/oauth2/access_token" || ts.TokenURL("okta") != "" {
		t.Errorf("TokenURL: %q", ts.TokenURL(ProviderSCM))
	}

	// A client trusting the CA PEM (as a ca_cert field would) gets a token.
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ts.CACertPEM()) {
		t.Fatal("CA PEM not accepted")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	defer client.CloseIdleConnections()
	rq := goodRequest(t, ProviderSCM)
	r, _ := http.NewRequest(http.MethodPost, ts.TokenURL(ProviderSCM), strings.NewReader(rq.body))
	r.Header.Set("Content-Type", rq.contentType)
	r.SetBasicAuth(rq.basicUser, rq.basicPass)
	resp, err := client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("status %d, TLS %+v", resp.StatusCode, resp.TLS)
	}

	// A client with the system roots only is refused.
	plain := &http.Client{Transport: &http.Transport{}}
	defer plain.CloseIdleConnections()
	if resp, err := plain.Get(ts.URL + "/_fake/now"); err == nil {
		_ = resp.Body.Close()
		t.Error("a client without the CA connected")
	}

	// TLS 1.1 is refused.
	tls11 := &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11} //nolint:gosec // G402: the test proves the server refuses it
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: tls11}}
	defer old.CloseIdleConnections()
	if resp, err := old.Get(ts.URL + "/_fake/now"); err == nil {
		_ = resp.Body.Close()
		t.Error("a TLS 1.1 client connected")
	}
}

// Over TLS, the reset fault still drops the connection.
func TestTLSReset(t *testing.T) {
	t.Parallel()
	ts := NewTLSTestServer(t, DemoAccounts()...)
	if err := ts.SetFaults(Faults{ResetNext: 1}); err != nil {
		t.Fatal(err)
	}
	if res, err := tryDo(ts, goodRequest(t, ProviderOAuth2)); err == nil {
		t.Fatalf("status %d, want a reset", res.status)
	}
	if res := do(t, ts, goodRequest(t, ProviderOAuth2)); res.status != http.StatusOK {
		t.Errorf("after the reset: status %d", res.status)
	}
}

func TestPlainTestServer(t *testing.T) {
	t.Parallel()
	ts := NewTestServer(t, DemoAccounts()...)
	if !strings.HasPrefix(ts.URL, "http://127.0.0.1:") || ts.CACertPEM() != nil || ts.TLS != nil {
		t.Errorf("URL %s, TLS %v", ts.URL, ts.TLS)
	}
	for _, p := range Providers() {
		if res := do(t, ts, goodRequest(t, p)); res.status != successStatus(p) {
			t.Errorf("%s: status %d, body %s", p, res.status, res.raw)
		}
	}
}
