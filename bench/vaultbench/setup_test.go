//go:build e2e

package vaultbench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// Names of the benchmark's mounts and plugins.
const (
	paloMount     = "palo"
	profMount     = "palo-prof"
	constMount    = "const"
	kvMount       = "kv"
	constPlugin   = "bench-const"
	profPlugin    = "bench-palo-prof"
	pprofEnv      = "PALO_PPROF_ADDR"
	serverTimeout = 90 * time.Second
)

// buildBench builds a command of this module (./bench/constplugin or
// ./bench/profplugin) into dir and returns its path.
func buildBench(t testing.TB, pkg, dir string, ldflags string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	args := []string{"build", "-trimpath", "-o", out}
	if ldflags != "" {
		args = append(args, "-ldflags", ldflags)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	cmd.Dir = repoRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// repoRoot is the module root: two levels above this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(filepath.Dir(wd))
}

// registerWithEnv installs bin in the server's plugin directory as command
// and registers it, unversioned, under name with the given environment.
func registerWithEnv(t testing.TB, s *vaulttest.Server, name, bin string, env ...string) {
	t.Helper()
	dst := filepath.Join(s.PluginDir, name)
	b, err := os.ReadFile(bin) //nolint:gosec // the binary this test built
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o700); err != nil { //nolint:gosec // a plugin must be executable
		t.Fatal(err)
	}
	sum, err := vaulttest.SHA256File(dst)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"plugin", "register", "-sha256=" + sum, "-command=" + name}
	for _, e := range env {
		args = append(args, "-env="+e)
	}
	s.MustCLI(t, append(args, "secret", name)...)
}

// startRaft starts a single-node Vault on integrated storage (Raft) on
// loopback, initialises it with one key share, unseals it and waits until it
// is active. Each lease it grants is a durable Raft write. It is stopped in
// t.Cleanup.
func startRaft(t testing.TB, vaultBin string) *vaulttest.Server {
	t.Helper()
	dir := t.TempDir()
	port, err := vaulttest.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	s := &vaulttest.Server{
		Bin:       vaultBin,
		Addr:      "http://127.0.0.1:" + strconv.Itoa(port),
		PluginDir: filepath.Join(dir, "plugins"),
		Dir:       dir,
	}
	for _, d := range []string{s.PluginDir, filepath.Join(dir, "raft")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	config := fmt.Sprintf(`storage "raft" {
  path    = %q
  node_id = "bench-1"
}
listener "tcp" {
  address     = "127.0.0.1:%d"
  tls_disable = true
}
api_addr         = "http://127.0.0.1:%d"
cluster_addr     = "http://127.0.0.1:%d"
disable_mlock    = true
plugin_directory = %q
log_level        = "info"
`, filepath.Join(dir, "raft"), port, port, port+1, s.PluginDir)
	configPath := filepath.Join(dir, "vault.hcl")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	s.Process = vaulttest.StartProcess(t, "vault (raft)", vaultBin, []string{"server", "-config=" + configPath}, env, dir, filepath.Join(dir, "vault.log"))

	cfg := api.DefaultConfig()
	cfg.Address = s.Addr
	cfg.MaxRetries = 0
	client, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	vaulttest.Eventually(t, serverTimeout, 200*time.Millisecond, "the Raft server to listen", func() error {
		if s.Exited() {
			t.Fatalf("vault (raft) exited: %v\n%s", s.ExitError(), s.LogTail(40))
		}
		_, err := client.Sys().SealStatus()
		return err
	})
	init, err := client.Sys().Init(&api.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		t.Fatalf("init the Raft server: %v", err)
	}
	if _, err := client.Sys().Unseal(init.Keys[0]); err != nil {
		t.Fatalf("unseal the Raft server: %v", err)
	}
	s.RootToken = init.RootToken
	s.WaitHealthy(t, serverTimeout)
	return s
}

// serverVersion is the version the server reports in sys/health.
func serverVersion(t testing.TB, s *vaulttest.Server) string {
	t.Helper()
	h, err := s.Client(t).Sys().Health()
	if err != nil {
		t.Fatal(err)
	}
	return h.Version
}

// processRSS is the resident memory of a process in KiB, from
// /proc/<pid>/status.
func processRSS(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS of %d: %q", pid, line)
			}
			return kib
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// httpGet fetches url into file, bounded by timeout, sending token (if
// any) as X-Vault-Token. It returns an error rather than failing the test:
// it runs in its own goroutine.
func httpGet(url, token, file string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(file) //nolint:gosec // the test's own file
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
