//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// The cluster tests run the plugin on a 3-node Vault cluster on integrated
// storage (Raft), run by scripts/cluster.sh (see vaulttest.StartCluster).
// In Vault's open source edition only the active node runs the plugin; a
// standby forwards every request to it, so a standby's address serves the
// active node's configs, roles and cached tokens.

const (
	// clusterMount is where scripts/cluster.sh mounts the engine.
	clusterMount = "palo"
	// clusterReadWait bounds how long reads may fail after the active node
	// is lost: the election, the new active node loading its mounts and
	// starting the plugin. Seconds in practice; minutes of headroom.
	clusterReadWait = 3 * time.Minute
)

// clusterEnv is a cluster with the plugin mounted and one config and role
// per fake vendor account, written through the active node.
type clusterEnv struct {
	bins    vaulttest.Binaries
	vendor  *vaulttest.FakeVendor
	cluster *vaulttest.Cluster
	setups  []vaulttest.VendorSetup
}

func newClusterEnv(t *testing.T, fv vaulttest.FakeVendorOptions) *clusterEnv {
	t.Helper()
	e := &clusterEnv{bins: vaulttest.LoadBinaries(t)}
	e.vendor = vaulttest.StartFakeVendor(t, e.bins.FakeVendor, fv)
	e.cluster = vaulttest.StartCluster(t, e.bins)
	active, _ := e.cluster.WaitActive(t)
	e.setups = vaulttest.VendorSetups(t, e.vendor, fv.Accounts)
	for _, s := range e.setups {
		active.WriteSetup(t, clusterMount, e.vendor, s)
	}
	return e
}

// mountState is what the mount holds as the API returns it: every config
// and role, by name.
type mountState struct {
	Configs map[string]map[string]any
	Roles   map[string]map[string]any
}

// readMountState lists and reads every config and role of mount through
// server v.
func readMountState(t *testing.T, v *vaulttest.Server, mount string) mountState {
	t.Helper()
	c := v.Client(t)
	st := mountState{Configs: map[string]map[string]any{}, Roles: map[string]map[string]any{}}
	for kind, into := range map[string]map[string]map[string]any{"config": st.Configs, "roles": st.Roles} {
		list, err := c.Logical().List(mount + "/" + kind)
		if err != nil || list == nil {
			t.Fatalf("%s: LIST %s/%s: %v (secret %v)", v.Addr, mount, kind, err, list)
		}
		names, _ := list.Data["keys"].([]any)
		for _, name := range names {
			path := fmt.Sprintf("%s/%s/%v", mount, kind, name)
			s, err := c.Logical().Read(path)
			if err != nil || s == nil {
				t.Fatalf("%s: read %s: %v (secret %v)", v.Addr, path, err, s)
			}
			into[fmt.Sprint(name)] = s.Data
		}
	}
	return st
}

// requireState fails the test unless node n serves exactly want.
func requireState(t *testing.T, n *vaulttest.Node, want mountState) {
	t.Helper()
	if got := readMountState(t, n.Server, clusterMount); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s serves a different mount state:\ngot  %v\nwant %v", n.Name, got, want)
	}
}

// credRead is one read of creds/<role>: when it was sent and answered, and
// what it returned.
type credRead struct {
	node       string
	role       string
	sent, got  time.Time
	token      string
	lease      time.Duration
	err        error
	afterEvent bool // sent after the event the test waits out (a kill)
}

// readCred reads creds/<role> through client once.
func readCred(ctx context.Context, client *api.Client, node, role string) credRead {
	r := credRead{node: node, role: role, sent: time.Now()}
	s, err := client.Logical().ReadWithContext(ctx, clusterMount+"/creds/"+role)
	r.got = time.Now()
	switch {
	case err != nil:
		r.err = err
	case s == nil:
		r.err = errors.New("no secret")
	default:
		r.token, _ = s.Data["access_token"].(string)
		r.lease = time.Duration(s.LeaseDuration) * time.Second
		if r.token == "" {
			r.err = fmt.Errorf("no access_token in %v", keys(s.Data))
		}
	}
	return r
}

// mustReadCred reads creds/<role> through node n, fails the test if the
// read fails, and checks the token with the fake vendor (see checkReads).
func (e *clusterEnv) mustReadCred(t *testing.T, n *vaulttest.Node, role string) credRead {
	t.Helper()
	r := readCred(context.Background(), n.Client(t), n.Name, role)
	if r.err != nil {
		t.Fatalf("%s: read %s/creds/%s: %v", n.Name, clusterMount, role, r.err)
	}
	e.checkReads(t, []credRead{r})
	return r
}

// checkReads checks every successful read against the fake vendor: the
// token was minted there, it had not expired when the reader got it, and
// its lease ended before the token did (counted from when the read was
// sent, which is before Vault computed the lease). It returns the fake's
// record of each token.
func (e *clusterEnv) checkReads(t *testing.T, reads []credRead) map[string]fakevendor.TokenInfo {
	t.Helper()
	infos := map[string]fakevendor.TokenInfo{}
	for _, r := range reads {
		if r.err != nil {
			continue
		}
		info, seen := infos[r.token]
		if !seen {
			res := e.vendor.Check(t, r.token)
			if !res.Minted || res.Info == nil {
				t.Fatalf("%s: creds/%s returned a token the fake vendor never minted", r.node, r.role)
			}
			info = *res.Info
			infos[r.token] = info
		}
		if !info.ExpiresAt.After(r.got) {
			t.Fatalf("%s: creds/%s returned a token that had expired (at %s) when the reader got it (at %s)",
				r.node, r.role, info.ExpiresAt.Format(time.RFC3339Nano), r.got.Format(time.RFC3339Nano))
		}
		if r.lease <= 0 || r.sent.Add(r.lease).After(info.ExpiresAt) {
			t.Fatalf("%s: creds/%s: a lease of %s from %s outlives the token, which expires at %s",
				r.node, r.role, r.lease, r.sent.Format(time.RFC3339Nano), info.ExpiresAt.Format(time.RFC3339Nano))
		}
	}
	return infos
}

// TestClusterStandbysServeTheActiveNodesState writes configs and roles
// through the active node and reads them back, and reads tokens, through
// every standby; writes a role through a standby; and changes a config on
// the active node between reads through each node in turn: the very next
// read uses the new config, whichever node serves it.
func TestClusterStandbysServeTheActiveNodesState(t *testing.T) {
	t.Parallel()
	e := newClusterEnv(t, vaulttest.FakeVendorOptions{})
	active, standbys := e.cluster.WaitActive(t)
	if len(standbys) != 2 {
		t.Fatalf("%d standbys, want 2", len(standbys))
	}
	want := readMountState(t, active.Server, clusterMount)
	if len(want.Configs) != len(e.setups) || len(want.Roles) != len(e.setups) {
		t.Fatalf("the active node holds %d configs and %d roles, want %d of each", len(want.Configs), len(want.Roles), len(e.setups))
	}

	t.Run("standbys read what the active node wrote", func(t *testing.T) {
		for _, n := range standbys {
			requireState(t, n, want)
		}
		for _, s := range e.setups {
			fromActive := e.mustReadCred(t, active, s.Role)
			for _, n := range standbys {
				r := e.mustReadCred(t, n, s.Role)
				// One plugin, on the active node, serves every node, so
				// every node hands out its one cached token.
				if r.token != fromActive.token {
					t.Fatalf("%s: creds/%s returned another token than the active node's cached one", n.Name, s.Role)
				}
			}
		}
	})

	t.Run("a write through a standby", func(t *testing.T) {
		scm := e.setup(t, fakevendor.ProviderSCM)
		child := scm.Account.TSGIDs[1]
		standbys[0].MustCLI(t, "write", clusterMount+"/roles/child", "config="+scm.Config, "tsg_id="+child)
		for _, n := range e.cluster.Nodes {
			role := readJSON(t, n.Server, "", clusterMount+"/roles/child")
			if got := str(t, role.Data, "tsg_id"); got != child {
				t.Fatalf("%s: roles/child has tsg_id %q, want %q", n.Name, got, child)
			}
			r := e.mustReadCred(t, n, "child")
			if info := e.checkReads(t, []credRead{r})[r.token]; info.Scope != "tsg_id:"+child {
				t.Fatalf("%s: creds/child minted for scope %q, want tsg_id:%s", n.Name, info.Scope, child)
			}
		}
	})

	t.Run("a config change is used by the very next read on any node", func(t *testing.T) {
		scm := e.setup(t, fakevendor.ProviderSCM)
		rotated := scm.Account
		rotated.ClientID = "rotated-sa@1234567890.iam.panserviceaccount.com"
		rotated.ClientSecret = "rotated-scm-secret-not-real"
		e.vendor.AddAccount(t, rotated)
		tsg0, tsg1 := scm.Account.TSGIDs[0], scm.Account.TSGIDs[1]
		steps := []struct {
			name    string
			args    []string // the fields written to the config
			account string   // the account the next token must come from
			tsg     string   // and its TSG
		}{
			{"child TSG", []string{"tsg_id=" + tsg1}, scm.Account.ClientID, tsg1},
			{"rotated client", []string{"client_id=" + rotated.ClientID, "client_secret=" + rotated.ClientSecret}, rotated.ClientID, tsg1},
			{"parent TSG", []string{"tsg_id=" + tsg0}, rotated.ClientID, tsg0},
			{"original client", []string{"client_id=" + scm.Account.ClientID, "client_secret=" + scm.Account.ClientSecret}, scm.Account.ClientID, tsg0},
			{"child TSG again", []string{"tsg_id=" + tsg1}, scm.Account.ClientID, tsg1},
			{"parent TSG again", []string{"tsg_id=" + tsg0}, scm.Account.ClientID, tsg0},
		}
		previous := e.mustReadCred(t, active, scm.Role).token
		for i, step := range steps {
			reader := e.cluster.Nodes[i%len(e.cluster.Nodes)]
			active.MustCLI(t, append([]string{"write", clusterMount + "/config/" + scm.Config}, step.args...)...)
			r := e.mustReadCred(t, reader, scm.Role)
			info := e.checkReads(t, []credRead{r})[r.token]
			if r.token == previous || info.Account != step.account || info.Scope != "tsg_id:"+step.tsg {
				t.Fatalf("%s: the first read through %s after the change returned a token of account %q scope %q (new token: %t); want account %q scope tsg_id:%s",
					step.name, reader.Name, info.Account, info.Scope, r.token != previous, step.account, step.tsg)
			}
			previous = r.token
		}
	})
}

// TestClusterFailover kills the active node by its pid while a reader per
// node reads tokens: a standby takes over, every config and role is there,
// reads succeed again through every surviving node within a bounded wait,
// and no reader ever received an expired token. Tokens live 40 seconds and
// are handed out only while half their lifetime remains, so they are
// replaced every 20 seconds or so: the readers go on until they have crossed
// a refresh on the new active node. The killed node is then started
// again (scripts/cluster.sh restart) and rejoins as a standby with the same
// state.
func TestClusterFailover(t *testing.T) {
	t.Parallel()
	e := newClusterEnv(t, vaulttest.FakeVendorOptions{
		Lifetimes: map[string]time.Duration{fakevendor.ProviderSCM: 40 * time.Second},
	})
	scm := e.setup(t, fakevendor.ProviderSCM)
	old := e.cluster.WaitStable(t)
	want := readMountState(t, old.Server, clusterMount)

	readers := startReaders(t, e.cluster.Nodes, scm.Role)
	readers.waitTokens(t, e.cluster.Nodes, false, 1)

	readers.mark()
	old.Kill(t)
	active, standbys := e.cluster.WaitActive(t)
	t.Logf("%s was killed; %s is active now", old.Name, active.Name)
	survivors := append([]*vaulttest.Node{active}, standbys...)
	// Reads succeed again through every surviving node, and go on across
	// at least one token refresh on the new active node.
	readers.waitTokens(t, survivors, true, 2)
	reads := readers.stop()

	e.checkReads(t, reads)
	ok, failed := map[string]int{}, map[string]int{}
	for _, r := range reads {
		if r.err != nil {
			failed[r.node]++
		} else {
			ok[r.node]++
		}
	}
	t.Logf("reads around the failover: %v succeeded, %v failed (the killed node's, and the others' until a new node was active)", ok, failed)

	for _, n := range survivors {
		requireState(t, n, want)
		for _, s := range e.setups {
			e.mustReadCred(t, n, s.Role)
		}
	}

	old.Restart(t)
	e.cluster.WaitStable(t)
	if code, err := old.Health(); err != nil || code != 429 {
		t.Fatalf("the restarted %s answers sys/health with %d (%v), want 429: a standby", old.Name, code, err)
	}
	requireState(t, old, want)
	e.mustReadCred(t, old, scm.Role)
}

// TestClusterRollingRestart restarts every node in turn, the standbys first
// and the active node last, as an operator would, waiting after each until
// it has rejoined and the cluster is healthy again: after every step each
// node serves every config and role, and tokens.
func TestClusterRollingRestart(t *testing.T) {
	t.Parallel()
	e := newClusterEnv(t, vaulttest.FakeVendorOptions{})
	active, standbys := e.cluster.WaitActive(t)
	want := readMountState(t, active.Server, clusterMount)
	for _, n := range append(standbys, active) {
		n.Restart(t)
		now := e.cluster.WaitStable(t)
		t.Logf("restarted %s; %s is active", n.Name, now.Name)
		for _, m := range e.cluster.Nodes {
			requireState(t, m, want)
			for _, s := range e.setups {
				e.mustReadCred(t, m, s.Role)
			}
		}
	}
	var mounts map[string]struct {
		RunningPluginVersion string `json:"running_plugin_version"`
	}
	active.CLIJSON(t, vaulttest.CLIOptions{}, &mounts, "secrets", "list", "-detailed")
	if got := mounts[clusterMount+"/"].RunningPluginVersion; got != e.bins.PluginVersion {
		t.Fatalf("after the rolling restart %s/ runs plugin version %q, want %q", clusterMount, got, e.bins.PluginVersion)
	}
}

// TestClusterScript runs scripts/cluster.sh as an operator would: start
// (three nodes, initialised, unsealed, every node a voter, the plugin
// registered and mounted; vaulttest.StartCluster runs it), status, a
// restart of one node, and stop, which ends every node by its pid and
// deletes the cluster folder.
func TestClusterScript(t *testing.T) {
	t.Parallel()
	bins := vaulttest.LoadBinaries(t)
	c := vaulttest.StartCluster(t, bins)
	status := c.MustScript(t, "status")
	if strings.Count(status, " active\n") != 1 || strings.Count(status, " standby\n") != 2 || len(voterLine.FindAllString(status, -1)) != 3 {
		t.Fatalf("status shows no active node, two standbys and three voters:\n%s", status)
	}
	for _, n := range c.Nodes {
		var mounts map[string]struct {
			RunningPluginVersion string `json:"running_plugin_version"`
		}
		n.CLIJSON(t, vaulttest.CLIOptions{}, &mounts, "secrets", "list", "-detailed")
		if got := mounts[clusterMount+"/"].RunningPluginVersion; got != bins.PluginVersion {
			t.Fatalf("%s: %s/ runs plugin version %q, want %q", n.Name, clusterMount, got, bins.PluginVersion)
		}
	}

	c.MustScript(t, "restart", "2")
	if status := c.MustScript(t, "status"); strings.Count(status, "pid ") != 3 {
		t.Fatalf("after restart 2, not every node runs:\n%s", status)
	}
	var pids []int
	for _, n := range c.Nodes {
		if n.Pid() <= 0 {
			t.Fatalf("%s has no pid file", n.Name)
		}
		pids = append(pids, n.Pid())
	}

	c.MustScript(t, "stop")
	if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stop left %s behind (%v)", c.Dir, err)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("node pid %d still exists after stop (%v)", pid, err)
		}
	}
}

// voterLine matches a line of `vault operator raft list-peers` for a voter.
var voterLine = regexp.MustCompile(`(?m)^node\d+ +127\.0\.0\.1:\d+ +(leader|follower) +true$`)

// setup returns the setup of provider.
func (e *clusterEnv) setup(t *testing.T, provider string) vaulttest.VendorSetup {
	t.Helper()
	for _, s := range e.setups {
		if s.Provider == provider {
			return s
		}
	}
	t.Fatalf("no setup for %s", provider)
	return vaulttest.VendorSetup{}
}

// readers are background readers of one role, one per node, each reading
// through its node's address every 100ms until stopped.
type readers struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	reads  []credRead
	marked bool
}

func startReaders(t *testing.T, nodes []*vaulttest.Node, role string) *readers {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rs := &readers{cancel: cancel}
	for _, n := range nodes {
		client, name := n.Client(t), n.Name
		rs.wg.Go(func() {
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				rs.mu.Lock()
				after := rs.marked
				rs.mu.Unlock()
				r := readCred(ctx, client, name, role)
				if ctx.Err() != nil {
					return // stopped mid-read: not a result
				}
				r.afterEvent = after
				rs.mu.Lock()
				rs.reads = append(rs.reads, r)
				rs.mu.Unlock()
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		})
	}
	t.Cleanup(func() { rs.stop() })
	return rs
}

// mark records that the event happens now: reads sent from now on are
// after it.
func (rs *readers) mark() {
	rs.mu.Lock()
	rs.marked = true
	rs.mu.Unlock()
}

// waitTokens waits (bounded) until the reader of every node of nodes has
// received at least n distinct tokens in reads sent before the mark (after
// false) or after it (after true).
func (rs *readers) waitTokens(t *testing.T, nodes []*vaulttest.Node, after bool, n int) {
	t.Helper()
	vaulttest.Eventually(t, clusterReadWait, 100*time.Millisecond, "tokens read through every node", func() error {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		tokens := map[string]map[string]bool{}
		last := map[string]string{}
		for _, r := range rs.reads {
			if r.afterEvent != after {
				continue
			}
			if r.err != nil {
				last[r.node] = r.err.Error()
				continue
			}
			if tokens[r.node] == nil {
				tokens[r.node] = map[string]bool{}
			}
			tokens[r.node][r.token] = true
		}
		for _, node := range nodes {
			if got := len(tokens[node.Name]); got < n {
				return fmt.Errorf("%d distinct tokens through %s so far, want %d (last error: %q)", got, node.Name, n, last[node.Name])
			}
		}
		return nil
	})
}

// stop stops the readers and returns every read they made.
func (rs *readers) stop() []credRead {
	rs.cancel()
	rs.wg.Wait()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.reads
}
