package vaulttest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Cluster bounds.
const (
	// clusterNodes is the number of nodes of a Cluster.
	clusterNodes = 3
	// clusterTimeout bounds a wait on a running cluster, such as an
	// election after the active node was lost: seconds in practice, the
	// rest is headroom for a loaded 2-core machine.
	clusterTimeout = 3 * time.Minute
	// scriptTimeout bounds one run of scripts/cluster.sh, whose own waits
	// are bounded too (a start takes about 30 seconds when all is well).
	scriptTimeout = 10 * time.Minute
	// formAttempts bounds how many times StartCluster runs `start`.
	formAttempts = 2
)

// Cluster is a Vault cluster of three nodes on integrated storage
// (Raft) on loopback, run by scripts/cluster.sh: the script writes the
// configurations, starts the nodes, initialises and unseals them, waits
// until the cluster is healthy, registers the plugin and mounts it at
// palo/, restarts nodes and stops them. The harness only chooses the ports
// and asks the nodes for their state. Every node's Server carries the
// cluster's root token, so the CLI and API helpers work against any node: a
// standby forwards requests to the active node.
type Cluster struct {
	// Nodes are the nodes in order: Nodes[0] is node1, the one initialised.
	Nodes []*Node
	// Dir is the cluster folder (CLUSTER_DIR of the script).
	Dir string
	// RootToken is the root token the script wrote to Dir/env.
	RootToken string

	env []string // the script's environment
}

// Node is one node of a Cluster. Its vault process is the script's child,
// not the test's: Pid, Exited, Kill and Restart act through the pid file the
// script keeps.
type Node struct {
	*Server
	// Name is the node's Raft node id: node1, node2, ...
	Name string

	cluster *Cluster
	number  int // N of scripts/cluster.sh restart N
}

// clusterScript is the path of scripts/cluster.sh in this repository.
func clusterScript() string {
	return filepath.Join(repoRoot(), "scripts", "cluster.sh")
}

// StartCluster runs `scripts/cluster.sh start` on free loopback ports with
// the binaries under test and the nodes logging at debug level. If the
// cluster does not form, the script's diagnosis and the end of each node's
// log are logged, the nodes are stopped, and it is started once more from
// nothing, on fresh ports. The cluster is stopped with `scripts/cluster.sh
// stop` when the test ends, or when the test binary dies without running
// its cleanups; if the test failed, the end of each node's log is printed
// first.
func StartCluster(t testing.TB, b Binaries) *Cluster {
	t.Helper()
	dir := t.TempDir()
	c := &Cluster{Dir: filepath.Join(dir, "cluster")}
	for i := 1; i <= clusterNodes; i++ {
		name := "node" + strconv.Itoa(i)
		c.Nodes = append(c.Nodes, &Node{
			Server:  &Server{Bin: b.Vault, Dir: filepath.Join(dir, name)},
			Name:    name,
			cluster: c,
			number:  i,
		})
	}
	settings := []string{
		"CLUSTER_DIR=" + c.Dir,
		"CLUSTER_NODES=" + strconv.Itoa(clusterNodes),
		"CLUSTER_LOG_LEVEL=debug",
		"VAULT_BIN=" + b.Vault,
		"PLUGIN_BIN=" + b.Plugin,
		"PLUGIN_VERSION=" + b.PluginVersion,
		"CONFIGURE_BIN=" + b.Configure,
	}
	if fi, err := os.Stat(b.Configure); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("vaulttest: CONFIGURE_BIN: no executable at %s, which scripts/cluster.sh runs to register and mount the plugin; `make build` builds it", b.Configure)
	}
	c.stopWhenDone(t, filepath.Join(dir, "stop.log"), ChildEnv(dir, settings...))

	for attempt := 1; ; attempt++ {
		port, err := FreePorts(2 * clusterNodes) // an API and a cluster port per node
		if err != nil {
			t.Fatalf("vaulttest: %v", err)
		}
		c.env = ChildEnv(dir, append(settings, "CLUSTER_BASE_PORT="+strconv.Itoa(port))...)
		out, err := c.script("start")
		if err == nil {
			c.load(t)
			return c
		}
		if attempt == formAttempts {
			t.Fatalf("vaulttest: scripts/cluster.sh start, attempt %d of %d: %v\n%s", attempt, formAttempts, err, out)
		}
		// Forming a Raft cluster on a loaded machine can fail for reasons of
		// Vault's own (a port taken between choosing and binding it, a node
		// autopilot does not promote in time): the failure is logged in
		// full and the cluster is started again on fresh ports.
		t.Logf("vaulttest: scripts/cluster.sh start, attempt %d of %d, starting it again: %v\n%s", attempt, formAttempts, err, out)
		c.logTails(t)
		if out, err := c.script("stop"); err != nil {
			t.Fatalf("vaulttest: scripts/cluster.sh stop: %v\n%s", err, out)
		}
	}
}

// stopWhenDone starts a watchdog that runs `scripts/cluster.sh stop` once
// its stdin, a pipe from this process, closes: in t.Cleanup, or when the
// test binary dies without its cleanups (a test timeout), so that no node
// outlives the test. It runs in a process group of its own, out of reach of
// a terminal's Ctrl-C, and logs to logPath, outside the cluster folder that
// stop deletes.
func (c *Cluster) stopWhenDone(t testing.TB, logPath string, env []string) {
	t.Helper()
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600) //nolint:gosec // G304: a file in the test's folder
	if err != nil {
		t.Fatalf("vaulttest: %v", err)
	}
	defer logFile.Close() // the watchdog holds its own copy
	cmd := exec.Command("bash", "-c", `cat >/dev/null; exec bash "$0" stop`, clusterScript())
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("vaulttest: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("vaulttest: start the cluster watchdog: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			c.logTails(t)
		}
		_ = stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("vaulttest: scripts/cluster.sh stop: %v\n%s", err, readTail(logPath))
		}
	})
}

// script runs scripts/cluster.sh with args against the cluster (bounded by
// scriptTimeout) and returns what it printed.
func (c *Cluster) script(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{clusterScript()}, args...)...)
	cmd.Env = c.env
	cmd.WaitDelay = 5 * time.Second
	// If the test binary dies, the script stops too, and the watchdog
	// stops the nodes it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// MustScript runs scripts/cluster.sh with args against the cluster and
// returns what it printed, failing the test if the script fails.
func (c *Cluster) MustScript(t testing.TB, args ...string) string {
	t.Helper()
	out, err := c.script(args...)
	if err != nil {
		t.Fatalf("vaulttest: scripts/cluster.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// load reads what the script wrote: the root token from Dir/env and each
// node's API address from its configuration.
func (c *Cluster) load(t testing.TB) {
	t.Helper()
	env, err := os.ReadFile(filepath.Join(c.Dir, "env"))
	if m := rootTokenLine.FindSubmatch(env); err != nil || m == nil {
		t.Fatalf("vaulttest: %s/env exports no VAULT_TOKEN (%v):\n%s", c.Dir, err, env)
	} else {
		c.RootToken = string(m[1])
	}
	for _, n := range c.Nodes {
		path := filepath.Join(c.Dir, n.Name, "vault.hcl")
		hcl, err := os.ReadFile(path) //nolint:gosec // G304: a file in the test's folder
		m := apiAddrLine.FindSubmatch(hcl)
		if err != nil || m == nil {
			t.Fatalf("vaulttest: no api_addr in %s (%v):\n%s", path, err, hcl)
		}
		n.Addr, n.RootToken = string(m[1]), c.RootToken
		if err := os.MkdirAll(n.Dir, 0o700); err != nil {
			t.Fatalf("vaulttest: %v", err)
		}
	}
}

var (
	// rootTokenLine finds the root token in the cluster's env file.
	rootTokenLine = regexp.MustCompile(`(?m)^export VAULT_TOKEN=(\S+)$`)
	// apiAddrLine finds the api_addr setting of a node's configuration.
	apiAddrLine = regexp.MustCompile(`(?m)^\s*api_addr\s*=\s*"([^"]+)"`)
)

// logTails logs the end of each node's log.
func (c *Cluster) logTails(t testing.TB) {
	for _, n := range c.Nodes {
		t.Logf("vaulttest: last lines of the %s log (%s):\n%s", n.Name, n.logPath(), readTail(n.logPath()))
	}
}

// readTail returns the last logTailLines lines of the file at path.
func readTail(path string) string {
	b, err := os.ReadFile(path) //nolint:gosec // G304: a log of this test
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return tail(string(b), logTailLines)
}

// Running returns the nodes whose vault process is running.
func (c *Cluster) Running() []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if !n.Exited() {
			out = append(out, n)
		}
	}
	return out
}

// WaitStable waits (bounded) until the cluster is healthy, as
// `scripts/cluster.sh wait` says (every node healthy and a Raft voter, so
// that one node may now fail without losing the quorum), and every node
// runs, exactly one is active and the others are standbys. It returns the
// active node.
func (c *Cluster) WaitStable(t testing.TB) *Node {
	t.Helper()
	c.MustScript(t, "wait")
	var active *Node
	Eventually(t, clusterTimeout, 250*time.Millisecond, "vaulttest: the cluster did not settle", func() error {
		var err error
		active, err = c.activeAmong(c.Nodes)
		return err
	})
	return active
}

// WaitActive waits (bounded) until the running nodes have exactly one
// active node and the rest are standbys, and returns the active node and
// the standbys. After the active node was killed, this is the wait for a
// standby to take over.
func (c *Cluster) WaitActive(t testing.TB) (active *Node, standbys []*Node) {
	t.Helper()
	Eventually(t, clusterTimeout, 250*time.Millisecond, "vaulttest: no single active node", func() error {
		var err error
		active, err = c.activeAmong(c.Running())
		return err
	})
	for _, n := range c.Running() {
		if n != active {
			standbys = append(standbys, n)
		}
	}
	return active, standbys
}

// activeAmong checks that every node of nodes is running and unsealed, and
// that exactly one is active, and returns it.
func (c *Cluster) activeAmong(nodes []*Node) (*Node, error) {
	var active *Node
	for _, n := range nodes {
		if n.Exited() {
			return nil, fmt.Errorf("%s is not running", n.Name)
		}
		code, err := n.Health()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.Name, err)
		}
		switch code {
		case http.StatusOK:
			if active != nil {
				return nil, fmt.Errorf("both %s and %s answer as active", active.Name, n.Name)
			}
			active = n
		case http.StatusTooManyRequests: // a standby
		default:
			return nil, fmt.Errorf("%s answers sys/health with %d (%s)", n.Name, code, healthMeaning(code))
		}
	}
	if active == nil {
		return nil, errors.New("no node is active")
	}
	return active, nil
}

// healthMeaning explains a sys/health status code.
func healthMeaning(code int) string {
	switch code {
	case http.StatusOK:
		return "active"
	case http.StatusTooManyRequests:
		return "standby"
	case 473:
		return "performance standby"
	case http.StatusNotImplemented:
		return "not initialised"
	case http.StatusServiceUnavailable:
		return "sealed"
	default:
		return "unexpected"
	}
}

// Health returns the node's sys/health status code: 200 active, 429
// standby, 503 sealed, 501 not initialised.
func (n *Node) Health() (int, error) {
	return healthCode(&http.Client{Timeout: 5 * time.Second}, n.Addr)
}

// logPath is the node's log file, written by the script.
func (n *Node) logPath() string {
	return filepath.Join(n.cluster.Dir, n.Name, "vault.log")
}

// Pid is the node's vault process id, from the pid file the script keeps,
// or 0 if the script recorded none.
func (n *Node) Pid() int {
	b, err := os.ReadFile(filepath.Join(n.cluster.Dir, n.Name, "vault.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// Exited reports whether the node's vault process is gone.
func (n *Node) Exited() bool {
	pid := n.Pid()
	return pid <= 0 || !alive(pid)
}

// Kill ends the node's vault process at once with SIGKILL, as a crash
// would, and waits (bounded) until it is gone. Its plugin processes are left
// to the next Restart or the test's cleanup, as after a real crash.
func (n *Node) Kill(t testing.TB) {
	t.Helper()
	pid := n.Pid()
	if pid <= 0 {
		t.Fatalf("vaulttest: %s has no pid", n.Name)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("vaulttest: kill %s (pid %d): %v", n.Name, pid, err)
	}
	Eventually(t, StopTimeout, 50*time.Millisecond, "vaulttest: kill "+n.Name, func() error {
		if alive(pid) {
			return fmt.Errorf("pid %d still runs", pid)
		}
		return nil
	})
}

// Restart runs `scripts/cluster.sh restart N`: it stops the node gently if
// it runs (SIGTERM: an active node steps down first), ends whatever it left
// running, starts it again from its configuration and Raft data, unseals
// it, and waits until the cluster is healthy. It is one step of a rolling
// restart, and brings a killed node back.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	n.cluster.MustScript(t, "restart", strconv.Itoa(n.number))
}

// alive reports whether pid is a running process; a zombie (ended but not
// yet reaped by whoever adopted it) is not.
func alive(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	_, state, ok := parseStat(string(stat))
	return ok && state != "Z" && state != "X"
}
