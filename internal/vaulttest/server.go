package vaulttest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// Default bounds for a Vault server.
const (
	// DefaultStartTimeout bounds how long a server may take to answer its
	// health check. A dev server is ready in about a second; the rest is
	// headroom for a loaded 2-core machine.
	DefaultStartTimeout = 60 * time.Second
	// startAttempts bounds the retries when a port was taken between
	// FreePorts and the server binding it.
	startAttempts = 4
)

// startTimeout is d, or DefaultStartTimeout when d is not positive: the
// wait for readiness of a process the Start functions run.
func startTimeout(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultStartTimeout
	}
	return d
}

// Server is one running Vault server: a dev server from StartDev (with its
// Process), or a node of a Cluster, whose process scripts/cluster.sh runs.
type Server struct {
	*Process

	// Bin is the vault binary, also used for the CLI and Agent.
	Bin string
	// Addr is the API address, such as http://127.0.0.1:41234.
	Addr string
	// RootToken is a token with the root policy.
	RootToken string
	// PluginDir is the server's plugin directory.
	PluginDir string
	// Dir is a private working folder for this server: its log, plugin
	// directory, and the HOME of the CLI and Agent processes run against it.
	Dir string
}

// DevOptions configure StartDev. The zero value is a good default.
type DevOptions struct {
	// RootToken is the dev root token id; a random one by default.
	RootToken string
	// LogLevel is the server's -log-level: "debug" by default; "trace"
	// also logs every plugin request.
	LogLevel string
	// Args are extra arguments for `vault server`.
	Args []string
	// Env are extra environment variables (KEY=value) for the server.
	Env []string
	// StartTimeout bounds the wait for readiness (DefaultStartTimeout).
	StartTimeout time.Duration
}

// StartDev starts `vault server -dev` on a free loopback port, with an
// empty plugin directory (so that nothing is registered behind the test's
// back: see RegisterPlugin), and waits until it is unsealed and active. The
// server is stopped in t.Cleanup; if the test failed, the end of its log is
// printed.
func StartDev(t testing.TB, vaultBin string, o DevOptions) *Server {
	t.Helper()
	if o.RootToken == "" {
		o.RootToken = "root-" + rand.Text()
	}
	if o.LogLevel == "" {
		o.LogLevel = "debug"
	}
	o.StartTimeout = startTimeout(o.StartTimeout)
	dir := t.TempDir()
	s := &Server{Bin: vaultBin, RootToken: o.RootToken, Dir: dir, PluginDir: filepath.Join(dir, "plugins")}
	if err := os.Mkdir(s.PluginDir, 0o700); err != nil {
		t.Fatalf("vaulttest: %v", err)
	}

	s.Process = startOnFreePorts(t, "the Vault dev server", 2, func(port, attempt int) (*Process, error) {
		// The API on port, and the cluster listener on the next one.
		listen := "127.0.0.1:" + strconv.Itoa(port)
		s.Addr = "http://" + listen
		args := append([]string{
			"server", "-dev",
			"-dev-root-token-id=" + o.RootToken,
			"-dev-listen-address=" + listen,
			"-dev-plugin-dir=" + s.PluginDir,
			"-log-level=" + o.LogLevel,
		}, o.Args...)
		logPath := filepath.Join(dir, fmt.Sprintf("vault-%d.log", attempt))
		return startProcess("vault", vaultBin, args, ChildEnv(dir, o.Env...), dir, logPath)
	}, func(p *Process) error {
		s.Process = p
		return s.waitHealthy(o.StartTimeout)
	})
	return s
}

// startOnFreePorts starts a server on n consecutive free loopback ports:
// start starts it with the first port, ready waits until it serves. A
// server that did not get ready because another process took a port
// first is stopped and started again on other ports, startAttempts times
// in all. The server is stopped in t.Cleanup; if it never gets ready, the
// test fails with the end of its log.
func startOnFreePorts(t testing.TB, what string, n int, start func(port, attempt int) (*Process, error), ready func(*Process) error) *Process {
	t.Helper()
	var p *Process
	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		port, err := FreePorts(n)
		if err != nil {
			t.Fatalf("vaulttest: %v", err)
		}
		if p, err = start(port, attempt); err != nil {
			t.Fatalf("vaulttest: %v", err)
		}
		if lastErr = ready(p); lastErr == nil {
			stopAtCleanup(t, p)
			return p
		}
		_ = p.Stop()
		if !strings.Contains(p.Log(), "address already in use") {
			break
		}
	}
	t.Fatalf("vaulttest: %s did not become ready: %v\nlast lines of its log (%s):\n%s",
		what, lastErr, p.LogPath, p.LogTail(logTailLines))
	return nil
}

// waitHealthy polls sys/health until it answers 200 (initialised, unsealed,
// active), the process exits, or timeout passes.
func (s *Server) waitHealthy(timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	return waitFor(context.Background(), timeout, 100*time.Millisecond, func() (bool, error) {
		if s.Exited() {
			return false, fmt.Errorf("vault exited: %s", s.exitReason())
		}
		code, err := healthCode(client, s.Addr)
		if err != nil {
			return false, err
		}
		if code != http.StatusOK {
			return false, fmt.Errorf("sys/health answered %d", code)
		}
		return true, nil
	})
}

// WaitHealthy waits (bounded by timeout) until the server answers its health
// check with 200: initialised, unsealed and active.
func (s *Server) WaitHealthy(t testing.TB, timeout time.Duration) {
	t.Helper()
	if err := s.waitHealthy(timeout); err != nil {
		t.Fatalf("vaulttest: Vault at %s is not healthy: %v", s.Addr, err)
	}
}

// healthCode returns the status of GET /v1/sys/health.
func healthCode(client *http.Client, addr string) (int, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, addr+"/v1/sys/health", nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// Client returns a Go API client for the server with the root token.
func (s *Server) Client(t testing.TB) *api.Client {
	t.Helper()
	return s.ClientWithToken(t, s.RootToken)
}

// ClientWithToken returns a Go API client for the server with token (none
// if empty).
func (s *Server) ClientWithToken(t testing.TB, token string) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = s.Addr
	cfg.Timeout = 60 * time.Second
	cfg.MaxRetries = 0
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatalf("vaulttest: API client: %v", err)
	}
	c.SetToken(token)
	c.ClearNamespace() // in case VAULT_NAMESPACE is set around the test
	return c
}
