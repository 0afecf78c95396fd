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
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// DefaultClusterTimeout bounds each wait on a cluster: a node answering, a
// node joining and unsealing, every node becoming a Raft voter, an election.
// A cluster of three settles in about 30 seconds (autopilot promotes a new
// node to voter after 10 seconds of health); the rest is headroom for a
// loaded 2-core machine.
const DefaultClusterTimeout = 3 * time.Minute

// ClusterOptions configure StartCluster. The zero value is a good default.
type ClusterOptions struct {
	// Nodes is the number of nodes (3 by default).
	Nodes int
	// LogLevel is each node's -log-level ("debug" by default).
	LogLevel string
	// Timeout bounds each wait (DefaultClusterTimeout).
	Timeout time.Duration
}

// Cluster is a Vault cluster on integrated storage (Raft) on loopback: the
// nodes that scripts/cluster.sh describes, each a Server run from the
// configuration file that script writes, so the tests and the script cannot
// drift apart. All nodes share one plugin directory, and every node's
// Server carries the cluster's root token, so the CLI and API helpers work
// against any node: a standby forwards requests to the active node.
type Cluster struct {
	// Nodes are the nodes in order: Nodes[0] is node1, the one initialised.
	Nodes []*Node
	// Dir is the cluster folder (CLUSTER_DIR of the script).
	Dir string
	// PluginDir is the plugin directory of every node.
	PluginDir string
	// RootToken is the root token from `vault operator init`.
	RootToken string
	// UnsealKey is the single unseal key (base64).
	UnsealKey string

	timeout time.Duration
}

// Node is one node of a Cluster.
type Node struct {
	*Server
	// Name is the node's Raft node id: node1, node2, ...
	Name string
	// ConfigPath is the node's configuration file, written by
	// scripts/cluster.sh.
	ConfigPath string

	cluster  *Cluster
	logLevel string
}

// ClusterScript is the path of scripts/cluster.sh in this repository.
func ClusterScript() string {
	return filepath.Join(repoRoot(), "scripts", "cluster.sh")
}

// StartCluster writes the node configurations with `scripts/cluster.sh
// configure` on free loopback ports, starts every node, initialises node1
// with one key share, unseals every node (the others join node1 through
// retry_join), and waits until the cluster is stable (see WaitStable). If
// the cluster does not form, the failure and the end of each node's log are
// logged and it is formed once more from nothing, on fresh ports. Every
// node is stopped in t.Cleanup; if the test failed, the end of each node's
// log is printed.
func StartCluster(t testing.TB, vaultBin string, o ClusterOptions) *Cluster {
	t.Helper()
	if o.Nodes <= 0 {
		o.Nodes = 3
	}
	if o.LogLevel == "" {
		o.LogLevel = "debug"
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultClusterTimeout
	}
	dir := t.TempDir()
	c := &Cluster{Dir: filepath.Join(dir, "cluster"), PluginDir: filepath.Join(dir, "cluster", "plugins"), timeout: o.Timeout}
	for i := 1; i <= o.Nodes; i++ {
		name := "node" + strconv.Itoa(i)
		nodeDir := filepath.Join(c.Dir, name)
		n := &Node{
			Server:     &Server{Bin: vaultBin, Dir: nodeDir, PluginDir: c.PluginDir},
			Name:       name,
			ConfigPath: filepath.Join(nodeDir, "vault.hcl"),
			cluster:    c,
			logLevel:   o.LogLevel,
		}
		c.Nodes = append(c.Nodes, n)
		t.Cleanup(func() { n.cleanup(t) })
	}

	for attempt := 1; ; attempt++ {
		c.startAll(t)
		err := c.form(t)
		if err == nil {
			return c
		}
		if attempt == formAttempts {
			t.Fatalf("vaulttest: the cluster did not form (attempt %d of %d): %v", attempt, formAttempts, err)
		}
		// Forming a Raft cluster on a loaded machine can fail for reasons of
		// Vault's own; the failure is logged in full and the nodes start
		// again from nothing, on fresh ports.
		t.Logf("vaulttest: the cluster did not form (attempt %d of %d), starting it again: %v", attempt, formAttempts, err)
		for _, n := range c.Nodes {
			t.Logf("vaulttest: last lines of the %s log (%s):\n%s", n.Name, n.LogPath, n.LogTail(logTailLines))
			_ = n.Process.Stop()
		}
	}
}

// formAttempts bounds how many times StartCluster starts the nodes and
// forms the cluster.
const formAttempts = 2

// form initialises the cluster, unseals every node and waits until it is
// stable.
func (c *Cluster) form(t testing.TB) error {
	t.Helper()
	if err := c.initialize(t); err != nil {
		return err
	}
	_, err := c.stable(t)
	return err
}

// startAll configures and starts every node, choosing new ports and
// starting again (a bounded number of times) if another process took one of
// the ports meanwhile.
func (c *Cluster) startAll(t testing.TB) {
	t.Helper()
	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		port, err := FreePorts(2 * len(c.Nodes)) // an API and a cluster port per node
		if err != nil {
			t.Fatalf("vaulttest: %v", err)
		}
		// A fresh folder each attempt: a node that ran leaves Raft files.
		if err := os.RemoveAll(c.Dir); err != nil {
			t.Fatalf("vaulttest: %v", err)
		}
		c.configure(t, port)
		for _, n := range c.Nodes {
			n.startProcess(t)
		}
		lastErr = c.waitAnswering()
		if lastErr == nil {
			return
		}
		portTaken := false
		for _, n := range c.Nodes {
			_ = n.Process.Stop()
			portTaken = portTaken || strings.Contains(n.Log(), "address already in use")
		}
		if !portTaken {
			break
		}
	}
	t.Fatalf("vaulttest: the cluster's nodes did not start: %v", lastErr)
}

// configure runs `scripts/cluster.sh configure`, which writes every node's
// configuration file under c.Dir, and reads each node's API address from
// the file it wrote.
func (c *Cluster) configure(t testing.TB, basePort int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultCLITimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", ClusterScript(), "configure")
	cmd.Env = childEnv(c.Dir,
		"CLUSTER_DIR="+c.Dir,
		"CLUSTER_NODES="+strconv.Itoa(len(c.Nodes)),
		"CLUSTER_BASE_PORT="+strconv.Itoa(basePort),
	)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vaulttest: %s configure: %v\n%s", ClusterScript(), err, out)
	}
	for _, n := range c.Nodes {
		hcl, err := os.ReadFile(n.ConfigPath)
		if err != nil {
			t.Fatalf("vaulttest: %s configure wrote no %s: %v", ClusterScript(), n.ConfigPath, err)
		}
		m := apiAddrLine.FindSubmatch(hcl)
		if m == nil {
			t.Fatalf("vaulttest: no api_addr in %s:\n%s", n.ConfigPath, hcl)
		}
		n.Addr = string(m[1])
	}
}

// apiAddrLine finds the api_addr setting of a node's configuration.
var apiAddrLine = regexp.MustCompile(`(?m)^\s*api_addr\s*=\s*"([^"]+)"`)

// waitAnswering waits until every node answers its health check, whatever
// its state (uninitialised at first).
func (c *Cluster) waitAnswering() error {
	for _, n := range c.Nodes {
		if err := n.waitAnswering(); err != nil {
			return fmt.Errorf("%s: %w", n.Name, err)
		}
	}
	return nil
}

// initialize initialises the cluster on node1 with one key share, as
// `vault operator init -key-shares=1 -key-threshold=1` does, and unseals
// every node.
func (c *Cluster) initialize(t testing.TB) error {
	t.Helper()
	first := c.Nodes[0]
	resp, err := first.ClientWithToken(t, "").Sys().Init(&api.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		return fmt.Errorf("initialise the cluster on %s: %w", first.Name, err)
	}
	if len(resp.KeysB64) != 1 || resp.RootToken == "" {
		return fmt.Errorf("init returned %d unseal keys and a root token of %d bytes, want 1 key and a token",
			len(resp.KeysB64), len(resp.RootToken))
	}
	c.UnsealKey, c.RootToken = resp.KeysB64[0], resp.RootToken
	for _, n := range c.Nodes {
		n.RootToken = c.RootToken
	}
	for _, n := range c.Nodes {
		if err := n.unsealErr(t); err != nil {
			return err
		}
	}
	return nil
}

// Node returns the node named name (node1, node2, ...).
func (c *Cluster) Node(t testing.TB, name string) *Node {
	t.Helper()
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("vaulttest: no cluster node %q", name)
	return nil
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

// WaitStable waits (bounded) until every node runs and is unsealed, exactly
// one is active and the others are standbys, and autopilot reports the
// cluster healthy with every node a voter, so that one node may now fail
// without losing the quorum. It returns the active node.
func (c *Cluster) WaitStable(t testing.TB) *Node {
	t.Helper()
	active, err := c.stable(t)
	if err != nil {
		t.Fatalf("vaulttest: %v", err)
	}
	return active
}

// stable is WaitStable returning its failure.
func (c *Cluster) stable(t testing.TB) (*Node, error) {
	t.Helper()
	var active *Node
	err := waitFor(context.Background(), c.timeout, 250*time.Millisecond, func() (bool, error) {
		var err error
		active, err = c.activeAmong(c.Nodes)
		if err != nil {
			return false, err
		}
		state, err := active.ClientWithToken(t, c.RootToken).Sys().RaftAutopilotState()
		if err != nil {
			return false, fmt.Errorf("autopilot state from %s: %w", active.Name, err)
		}
		if state == nil {
			return false, fmt.Errorf("%s has no autopilot state", active.Name)
		}
		if !state.Healthy || len(state.Voters) != len(c.Nodes) {
			return false, fmt.Errorf("autopilot: healthy %t, voters %v, non-voters %v", state.Healthy, state.Voters, state.NonVoters)
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("the cluster did not settle: %w", err)
	}
	return active, nil
}

// WaitActive waits (bounded) until the running nodes have exactly one
// active node and the rest are standbys, and returns the active node and
// the standbys. After the active node was killed, this is the wait for a
// standby to take over.
func (c *Cluster) WaitActive(t testing.TB) (active *Node, standbys []*Node) {
	t.Helper()
	Eventually(t, c.timeout, 250*time.Millisecond, "vaulttest: no single active node", func() error {
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

// Kill ends the node's vault process at once with SIGKILL, as a crash
// would, and waits (bounded) until it is gone. Its plugin processes are left
// to the next Start or the test's cleanup, as after a real crash.
func (n *Node) Kill(t testing.TB) {
	t.Helper()
	if err := n.Process.Kill(); err != nil {
		t.Fatalf("vaulttest: kill %s: %v", n.Name, err)
	}
}

// Stop stops the node gently (SIGTERM: an active node steps down first),
// and ends whatever it left running.
func (n *Node) Stop(t testing.TB) {
	t.Helper()
	if err := n.Process.Stop(); err != nil {
		t.Fatalf("vaulttest: stop %s: %v", n.Name, err)
	}
}

// Start starts a stopped or killed node again from its configuration and
// Raft data, unseals it, and waits (bounded) until it answers as active or
// standby.
func (n *Node) Start(t testing.TB) {
	t.Helper()
	if !n.Exited() {
		t.Fatalf("vaulttest: %s is running (pid %d); stop it first", n.Name, n.Pid())
	}
	_ = n.Process.Stop() // ends any plugin a killed node left behind
	n.startProcess(t)
	if err := n.waitAnswering(); err != nil {
		t.Fatalf("vaulttest: %s did not start: %v", n.Name, err)
	}
	n.unseal(t)
}

// Restart stops the node gently, starts it again and unseals it: one step
// of a rolling restart. Wait for WaitStable before restarting the next.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	n.Stop(t)
	n.Start(t)
}

// waitAnswering waits (bounded) until the node answers its health check,
// whatever its state. It gives up at once if the node exits.
func (n *Node) waitAnswering() error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := n.Done()
	go func() {
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := waitFor(ctx, n.cluster.timeout, 100*time.Millisecond, func() (bool, error) {
		_, err := n.Health()
		return err == nil, err
	})
	if n.Exited() {
		return errors.New(n.exitReason())
	}
	return err
}

// startProcess starts the node's vault server from its configuration file,
// appending to its log.
func (n *Node) startProcess(t testing.TB) {
	t.Helper()
	args := []string{"server", "-config=" + n.ConfigPath, "-log-level=" + n.logLevel}
	p, err := startProcess("vault "+n.Name, n.Bin, args, childEnv(n.Dir), n.Dir, filepath.Join(n.Dir, "vault.log"))
	if err != nil {
		t.Fatalf("vaulttest: %v", err)
	}
	n.Process = p
}

// unseal unseals the node with the cluster's key and waits (bounded) until
// it answers as active or standby. A node without Raft data must first join
// the cluster, which retry_join does every few seconds; until it has, the
// unseal is refused and is tried again.
func (n *Node) unseal(t testing.TB) {
	t.Helper()
	if err := n.unsealErr(t); err != nil {
		t.Fatalf("vaulttest: %v", err)
	}
}

// unsealErr is unseal returning its failure.
func (n *Node) unsealErr(t testing.TB) error {
	t.Helper()
	client := n.ClientWithToken(t, "")
	err := waitFor(context.Background(), n.cluster.timeout, 250*time.Millisecond, func() (bool, error) {
		if n.Exited() {
			return false, errors.New(n.exitReason())
		}
		code, err := n.Health()
		if err != nil {
			return false, err
		}
		if code == http.StatusOK || code == http.StatusTooManyRequests {
			return true, nil
		}
		if _, err := client.Sys().Unseal(n.cluster.UnsealKey); err != nil {
			return false, fmt.Errorf("unseal: %w", err)
		}
		return false, fmt.Errorf("sys/health answers %d (%s)", code, healthMeaning(code))
	})
	if err != nil {
		return fmt.Errorf("%s did not unseal: %w", n.Name, err)
	}
	return nil
}

// exitReason describes how the node's vault process exited.
func (n *Node) exitReason() string {
	if err := n.ExitError(); err != nil {
		return "vault exited: " + err.Error()
	}
	return "vault exited with status 0"
}

// cleanup stops the node at the end of the test, after printing the end of
// its log if the test failed.
func (n *Node) cleanup(t testing.TB) {
	if n.Process == nil {
		return
	}
	if t.Failed() {
		t.Logf("vaulttest: last lines of the %s log (%s):\n%s", n.Name, n.LogPath, n.LogTail(logTailLines))
	}
	if err := n.Process.Stop(); err != nil {
		t.Errorf("vaulttest: %v", err)
	}
}
