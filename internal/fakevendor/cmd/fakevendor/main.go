// Command fakevendor serves the fake vendor token endpoints (package
// fakevendor) on loopback, for end-to-end tests, the demo and benchmarks.
//
// It listens on -addr (127.0.0.1:0 by default; any address that is not
// loopback is refused, since the admin API under /_fake/ has no
// authentication), over HTTPS with a CA generated at start-up unless
// -tls=false. Once listening it writes the CA certificate to -ca-out, then
// the base URL to -addr-out, and prints the base URL on stdout. It logs one
// line per token request on stderr (provider, client id, status; never a
// secret) and exits cleanly on SIGINT or SIGTERM.
//
// Usage:
//
//	fakevendor [-addr 127.0.0.1:0] [-tls=true] [-ca-out ca.pem] [-addr-out url.txt]
//	           [-accounts accounts.json] [-lifetime paloalto_scm=60s ...]
//	           [-scm-invalid-client-status 401] [-oracle-unknown-key-status 200]
//	           [-jwks-ca ca.pem]
//
// The accounts file is a JSON list of fakevendor.Account (oauth2 accounts
// may use private_key_jwt with jwks or jwks_uri); without it the demo
// accounts (fakevendor.DemoAccounts) and the second service account in the
// demo SCM TSG (fakevendor.DemoSCMSibling) are served. -jwks-ca adds a PEM
// CA bundle to the system roots trusted when fetching a jwks_uri.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return // the usage was printed
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakevendor:", err)
		os.Exit(1)
	}
}

// config is the parsed command line.
type config struct {
	addr                   string
	tls                    bool
	caOut                  string
	addrOut                string
	accountsFile           string
	lifetimes              map[string]time.Duration
	scmInvalidClientStatus int
	oracleUnknownKeyStatus int
	jwksCA                 string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	c := config{lifetimes: map[string]time.Duration{}}
	fs := flag.NewFlagSet("fakevendor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:0", "loopback `host:port` to listen on (port 0 picks a free one)")
	fs.BoolVar(&c.tls, "tls", true, "serve HTTPS with a CA generated at start-up")
	fs.StringVar(&c.caOut, "ca-out", "", "write the CA certificate (PEM) to this `file`")
	fs.StringVar(&c.addrOut, "addr-out", "", "write the base URL to this `file` once listening")
	fs.StringVar(&c.accountsFile, "accounts", "", "JSON `file` with a list of accounts (default: the demo accounts)")
	fs.Func("lifetime", "token lifetime as `provider=duration`, for example paloalto_scm=60s (repeatable)", func(v string) error {
		p, d, ok := strings.Cut(v, "=")
		if !ok {
			return errors.New("want provider=duration")
		}
		dur, err := time.ParseDuration(d)
		if err != nil {
			return fmt.Errorf("bad duration %q", d)
		}
		c.lifetimes[p] = dur
		return nil
	})
	fs.IntVar(&c.scmInvalidClientStatus, "scm-invalid-client-status", http.StatusUnauthorized,
		"`status` of SCM invalid_client errors: 401 or 400")
	fs.IntVar(&c.oracleUnknownKeyStatus, "oracle-unknown-key-status", http.StatusOK,
		"`status` for an unknown Oracle CASB access key: 200 (the documented runtime-response body), 400, 401, 403, 404 or 500")
	fs.StringVar(&c.jwksCA, "jwks-ca", "", "PEM `file` of CA certificates trusted, besides the system's, when fetching a jwks_uri")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if err := fakevendor.ValidateSCMInvalidClientStatus(c.scmInvalidClientStatus); err != nil {
		return c, err
	}
	if err := fakevendor.ValidateOracleUnknownKeyStatus(c.oracleUnknownKeyStatus); err != nil {
		return c, err
	}
	return c, checkLoopback(c.addr)
}

// checkLoopback refuses an address whose host is not a loopback IP or
// "localhost": the admin API has no authentication.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-addr %q: refusing to listen on an address that is not loopback", addr)
}

func loadAccounts(file string) ([]fakevendor.Account, error) {
	if file == "" {
		return append(fakevendor.DemoAccounts(), fakevendor.DemoSCMSibling()), nil
	}
	b, err := os.ReadFile(file) //nolint:gosec // G304: the operator names the file
	if err != nil {
		return nil, err
	}
	var accounts []fakevendor.Account
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&accounts); err != nil {
		// The decoder's message names fields and types, not values.
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, fmt.Errorf("%s: field %s has the wrong type", file, typeErr.Field)
		}
		if strings.HasPrefix(err.Error(), "json: unknown field") {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		return nil, fmt.Errorf("%s: not a JSON list of accounts", file)
	}
	return accounts, nil
}

// formatRecord renders one token request as a log line. A RequestRecord
// holds no secret; the client id is quoted so a hostile one cannot forge
// log lines.
func formatRecord(r fakevendor.RequestRecord) string {
	fault := r.Fault
	if fault == "" {
		fault = "-"
	}
	status := strconv.Itoa(r.Status)
	if r.Status == 0 {
		status = "none"
	}
	return fmt.Sprintf("token provider=%s client_id=%q method=%s path=%q status=%s fault=%s delayed=%t issued=%t",
		r.Provider, r.ClientID, r.Method, r.Path, status, fault, r.Delayed, r.TokenIssued)
}

// jwksClient returns the client that fetches jwks_uri documents, trusting
// the system roots and the CAs in caFile.
func jwksClient(caFile string) (*http.Client, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile) //nolint:gosec // G304: the operator names the file
		if err != nil {
			return nil, fmt.Errorf("-jwks-ca: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("-jwks-ca: the file holds no PEM certificate")
		}
	}
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}, nil
}

func newServer(c config, logger *log.Logger) (*fakevendor.Server, error) {
	client, err := jwksClient(c.jwksCA)
	if err != nil {
		return nil, err
	}
	srv := fakevendor.New(
		fakevendor.WithRequestLog(func(r fakevendor.RequestRecord) { logger.Print(formatRecord(r)) }),
		fakevendor.WithSCMInvalidClientStatus(c.scmInvalidClientStatus),
		fakevendor.WithOracleUnknownKeyStatus(c.oracleUnknownKeyStatus),
		fakevendor.WithJWKSClient(client),
	)
	accounts, err := loadAccounts(c.accountsFile)
	if err != nil {
		return nil, err
	}
	for _, a := range accounts {
		if err := srv.AddAccount(a); err != nil {
			return nil, fmt.Errorf("account %v: %w", a, err)
		}
	}
	for p, d := range c.lifetimes {
		if err := srv.SetLifetime(p, d); err != nil {
			return nil, fmt.Errorf("-lifetime: %w", err)
		}
	}
	return srv, nil
}

// writeFileAtomic writes data to a temporary file next to name and renames
// it, so a script waiting for name never reads half of it.
func writeFileAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".fakevendor-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// run serves until ctx is done or serving fails.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := log.New(stderr, "fakevendor: ", log.LstdFlags|log.LUTC)
	srv, err := newServer(c, logger)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	tcpAddr, ok := ln.Addr().(*net.TCPAddr)
	if !ok || !tcpAddr.IP.IsLoopback() {
		return fmt.Errorf("-addr %q resolved to %s, which is not loopback", c.addr, ln.Addr())
	}
	scheme := "http"
	if c.tls {
		bundle, err := fakevendor.GenerateTLS()
		if err != nil {
			return err
		}
		if c.caOut != "" {
			if err := writeFileAtomic(c.caOut, bundle.CACertPEM); err != nil {
				return fmt.Errorf("-ca-out: %w", err)
			}
		}
		ln = tls.NewListener(ln, bundle.ServerConfig())
		scheme = "https"
	} else if c.caOut != "" {
		return errors.New("-ca-out needs -tls")
	}
	baseURL := scheme + "://" + tcpAddr.String()
	if c.addrOut != "" {
		if err := writeFileAtomic(c.addrOut, []byte(baseURL+"\n")); err != nil {
			return fmt.Errorf("-addr-out: %w", err)
		}
	}

	// Request contexts derive from base, so cancelling it ends delayed
	// responses at shutdown.
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          log.New(stderr, "fakevendor: http: ", log.LstdFlags|log.LUTC),
		// Empty, not nil: no HTTP/2, so resets are real TCP resets.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintln(stdout, baseURL)
	logger.Printf("serving %s (tls=%t)", baseURL, c.tls)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Print("shutting down")
	cancelBase()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
