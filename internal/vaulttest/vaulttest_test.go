package vaulttest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTail(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		in   string
		n    int
		want string
	}{
		"fewer lines than asked": {"a\nb\n", 5, "a\nb"},
		"the last lines":         {"a\nb\nc\nd\n", 2, "c\nd"},
		"no trailing newline":    {"a\nb\nc", 1, "c"},
		"empty":                  {"", 3, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := tail(tc.in, tc.n); got != tc.want {
				t.Fatalf("tail(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
		})
	}
}

func TestRedactArgs(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		in, want string
	}{
		"client secret":         {"client_secret=hunter2", "client_secret=<redacted>"},
		"access secret":         {"access_secret=hunter2", "access_secret=<redacted>"},
		"a token flag":          {"-token=s.abc", "-token=<redacted>"},
		"a file reference":      {"client_secret=@/tmp/secret", "client_secret=@/tmp/secret"},
		"stdin":                 {"client_secret=-", "client_secret=<redacted>"},
		"not a secret":          {"client_id=abc", "client_id=abc"},
		"a path":                {"palo/config/scm-prod", "palo/config/scm-prod"},
		"a value with equals":   {"client_secret=a=b", "client_secret=<redacted>"},
		"a secret-looking path": {"secret/data/x", "secret/data/x"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := RedactArgs([]string{tc.in})[0]; got != tc.want {
				t.Fatalf("RedactArgs(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		in        string
		ppid      int
		state     string
		wantParse bool
	}{
		"plain":                      {"123 (vault) S 45 123 123 0 -1", 45, "S", true},
		"a command with spaces":      {"123 (my plugin) R 7 1 1", 7, "R", true},
		"a command with parentheses": {"123 (a) (b)) Z 9 1 1", 9, "Z", true},
		"truncated":                  {"123 (vault)", 0, "", false},
		"garbage":                    {"nonsense", 0, "", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ppid, state, ok := parseStat(tc.in)
			if ok != tc.wantParse || ppid != tc.ppid || state != tc.state {
				t.Fatalf("parseStat(%q) = %d, %q, %t; want %d, %q, %t", tc.in, ppid, state, ok, tc.ppid, tc.state, tc.wantParse)
			}
		})
	}
}

// TestFreePorts: the ports FreePorts returns can be bound, and a port some
// listener holds is never counted free. Another process (a test package
// running beside this one) may take a returned port before the test binds
// it, as callers of FreePorts expect; so each of three tries gets fresh
// ports, and the test fails only if no try can bind what it was given.
func TestFreePorts(t *testing.T) {
	t.Parallel()
	var bindErrs []error
	for range 3 {
		first, err := FreePorts(2)
		if err != nil {
			t.Fatal(err)
		}
		if err := bindAll(first, 2); err != nil {
			bindErrs = append(bindErrs, err)
			continue
		}
		bindErrs = nil
		break
	}
	if bindErrs != nil {
		t.Fatalf("no ports FreePorts returned could be bound: %v", bindErrs)
	}

	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = held.Close() }()
	port := held.Addr().(*net.TCPAddr).Port
	handedOut.Lock() // portsFree reads the ports handed out so far
	defer handedOut.Unlock()
	if portsFree(port, 1) {
		t.Fatalf("portsFree(%d, 1) = true while a listener holds the port", port)
	}
	if port > 1 && portsFree(port-1, 2) {
		t.Fatalf("portsFree(%d, 2) = true while a listener holds port %d", port-1, port)
	}
}

// bindAll listens on ports first..first+n-1 of 127.0.0.1 and closes them.
func bindAll(first, n int) error {
	for port := first; port < first+n; port++ {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return fmt.Errorf("port %d: %w", port, err)
		}
		_ = l.Close()
	}
	return nil
}

// TestFreePortsAvoidEphemeralAndRepeats: ports come from outside the
// kernel's ephemeral range (where outgoing connections take their source
// ports) and are never handed out twice in one process, even to callers
// asking at the same time.
func TestFreePortsAvoidEphemeralAndRepeats(t *testing.T) {
	t.Parallel()
	eLow, eHigh := ephemeralRange()
	const callers, each = 8, 6
	low, high := portWindow(each)
	// Only a machine whose ephemeral range leaves no room around it gets the
	// whole range, ephemeral ports included.
	avoidsEphemeral := low != lowestPort || high != highestPort
	firsts := make(chan int, callers)
	errs := make(chan error, callers)
	for range callers {
		go func() {
			first, err := FreePorts(each)
			if err != nil {
				errs <- err
				return
			}
			firsts <- first
		}()
	}
	seen := map[int]bool{}
	for range callers {
		select {
		case err := <-errs:
			t.Fatal(err)
		case first := <-firsts:
			for p := first; p < first+each; p++ {
				if avoidsEphemeral && p >= eLow && p <= eHigh {
					t.Errorf("port %d is in the ephemeral range %d-%d", p, eLow, eHigh)
				}
				if p < low || p > high {
					t.Errorf("port %d is outside %d-%d", p, low, high)
				}
				if seen[p] {
					t.Errorf("port %d was handed out twice", p)
				}
				seen[p] = true
			}
		}
	}
	// Random picks among thousands of ports rarely repeat anyway, so the
	// registry is checked directly: a port handed out earlier, which
	// nothing listens on, is refused.
	checked := false
	for p := range seen {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue // another process took it meanwhile; try another
		}
		_ = l.Close()
		handedOut.Lock()
		free := portsFree(p, 1)
		handedOut.Unlock()
		if free {
			t.Errorf("port %d was handed out, yet portsFree offers it again", p)
		}
		checked = true
		break
	}
	if !checked {
		t.Error("no handed-out port could be bound to check the registry")
	}
	if _, err := FreePorts(0); err == nil {
		t.Error("FreePorts(0) returned no error")
	}
}

// startShellWithChild starts /bin/sh -c script, where script starts a child
// and writes its pid to "$CHILD_PID_FILE", and returns the shell's process
// and the child's pid. The shell's process group is stopped when the test
// ends.
func startShellWithChild(t *testing.T, script string) (*Process, int) {
	t.Helper()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	env := append(os.Environ(), "CHILD_PID_FILE="+pidFile)
	p, err := startProcess("shell", "/bin/sh", []string{"-c", script}, env, dir, filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop() })
	var child int
	Eventually(t, 10*time.Second, 20*time.Millisecond, "the child's pid", func() error {
		b, err := os.ReadFile(pidFile) //nolint:gosec // the test's own file
		if err != nil {
			return err
		}
		child, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err
	})
	return p, child
}

// TestStopEndsTheProcessGroup starts a shell that leaves a child behind and
// ignores SIGTERM: Stop must still end both.
func TestStopEndsTheProcessGroup(t *testing.T) {
	t.Parallel()
	p, child := startShellWithChild(t, `trap '' TERM; sleep 300 & echo $! > "$CHILD_PID_FILE"; echo started; wait`)
	p.stopTimeout = 200 * time.Millisecond
	if p.Exited() {
		t.Fatal("the shell exited early")
	}
	if err := p.Stop(); err == nil || !strings.Contains(err.Error(), "did not stop") {
		t.Fatalf("Stop of a process that ignores SIGTERM: %v; want a note that it had to be killed", err)
	}
	if !p.Exited() {
		t.Fatal("the shell still runs after Stop")
	}
	Eventually(t, 10*time.Second, 20*time.Millisecond, "the child's end", func() error {
		if alive(child) {
			return errors.New("the child still runs")
		}
		return nil
	})
	if !strings.Contains(p.LogTail(5), "started") {
		t.Fatalf("the log does not hold the shell's output: %q", p.Log())
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("a second Stop: %v", err)
	}
}

// TestChildPids checks that childPids finds a child by its executable's
// name, and skips it once it is gone.
func TestChildPids(t *testing.T) {
	t.Parallel()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command")
	}
	cmd := exec.Command(sleep, "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	pids, err := childPids(os.Getpid(), filepath.Base(sleep))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pids, cmd.Process.Pid) {
		t.Fatalf("childPids found %v, not the sleep at %d", pids, cmd.Process.Pid)
	}
	if pids, _ := childPids(os.Getpid(), "no-such-command"); len(pids) != 0 {
		t.Fatalf("childPids found %v for a command that does not run", pids)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	pids, _ = childPids(os.Getpid(), filepath.Base(sleep))
	if slices.Contains(pids, cmd.Process.Pid) {
		t.Fatalf("childPids still finds the killed sleep at %d", cmd.Process.Pid)
	}
}

// TestKillLeavesChildrenUntilStop checks that Kill ends the process alone,
// as a crash would, and that Stop afterwards ends what it left behind.
func TestKillLeavesChildrenUntilStop(t *testing.T) {
	t.Parallel()
	p, child := startShellWithChild(t, `sleep 300 & echo $! > "$CHILD_PID_FILE"; wait`)
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if !p.Exited() {
		t.Fatal("the shell still runs after Kill")
	}
	if !alive(child) {
		t.Fatal("the child is gone after Kill of its parent; Kill must act like a crash")
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 10*time.Second, 20*time.Millisecond, "the child's end", func() error {
		if alive(child) {
			return errors.New("the child still runs")
		}
		return nil
	})
}
