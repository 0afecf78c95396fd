package fakevendor

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestServer is a Server listening on loopback for a Go test, closed by
// t.Cleanup. Its Server's methods (SetFaults, Check, Stats, ...) are
// promoted.
type TestServer struct {
	*Server
	// URL is the base URL, such as http://127.0.0.1:41234.
	URL string
	// TLS is the generated CA and server certificate; nil for plain HTTP.
	TLS *TLSBundle

	client *http.Client
}

// NewTestServer serves a new Server with accounts over plain HTTP on
// 127.0.0.1. It fails the test if an account is invalid.
func NewTestServer(t testing.TB, accounts ...Account) *TestServer {
	t.Helper()
	return Serve(t, newWithAccounts(t, accounts))
}

// NewTLSTestServer is NewTestServer over HTTPS, with a CA and server
// certificate generated for the test (see GenerateTLS). TestServer.TLS holds
// the CA to trust, for example in a ca_cert field.
func NewTLSTestServer(t testing.TB, accounts ...Account) *TestServer {
	t.Helper()
	return ServeTLS(t, newWithAccounts(t, accounts))
}

func newWithAccounts(t testing.TB, accounts []Account) *Server {
	t.Helper()
	s := New()
	for _, a := range accounts {
		if err := s.AddAccount(a); err != nil {
			t.Fatalf("fakevendor: add %v: %v", a, err)
		}
	}
	return s
}

// Serve serves s (built with New and any options, such as WithClock) over
// plain HTTP on loopback until the test ends.
func Serve(t testing.TB, s *Server) *TestServer {
	t.Helper()
	hs := newUnstarted(t, s)
	hs.Start()
	return &TestServer{Server: s, URL: hs.URL, client: hs.Client()}
}

// ServeTLS serves s over HTTPS on loopback until the test ends.
func ServeTLS(t testing.TB, s *Server) *TestServer {
	t.Helper()
	bundle, err := GenerateTLS()
	if err != nil {
		t.Fatalf("fakevendor: %v", err)
	}
	hs := newUnstarted(t, s)
	hs.TLS = bundle.ServerConfig()
	hs.StartTLS()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: bundle.ClientConfig()}}
	t.Cleanup(client.CloseIdleConnections)
	return &TestServer{Server: s, URL: hs.URL, TLS: bundle, client: client}
}

// newUnstarted returns an unstarted httptest server for s, closed when the
// test ends. Closing first cancels every request context, so responses held
// by Faults.Delay end instead of blocking the close.
func newUnstarted(t testing.TB, s *Server) *httptest.Server {
	hs := httptest.NewUnstartedServer(s)
	base, cancel := context.WithCancel(context.Background())
	hs.Config.BaseContext = func(net.Listener) context.Context { return base }
	t.Cleanup(func() {
		cancel()
		hs.Close()
	})
	return hs
}

// TokenURL returns the documented token URL of provider on this server, or
// "" for an unknown provider.
func (ts *TestServer) TokenURL(provider string) string {
	p := TokenPath(provider)
	if p == "" {
		return ""
	}
	return ts.URL + p
}

// Client returns an HTTP client for the server; over TLS it trusts the
// generated CA and nothing else.
func (ts *TestServer) Client() *http.Client { return ts.client }

// CACertPEM returns the PEM of the CA to trust, or nil for plain HTTP.
func (ts *TestServer) CACertPEM() []byte {
	if ts.TLS == nil {
		return nil
	}
	return ts.TLS.CACertPEM
}
