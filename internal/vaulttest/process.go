package vaulttest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds on process waits.
const (
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	StopTimeout = 15 * time.Second
	// logTailLines is how much of a log is printed when a test fails.
	logTailLines = 60
)

// Process is a child process started by this package: its id, its log
// file, and a way to stop it. Its methods are safe for concurrent use.
type Process struct {
	// Name says what the process is in messages ("vault", "fakevendor").
	Name string
	// LogPath is the file that receives the process's stdout and stderr.
	LogPath string

	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and was reaped
	// stopTimeout is how long Stop waits after SIGTERM (StopTimeout).
	stopTimeout time.Duration

	mu      sync.Mutex
	waitErr error
}

// StartProcess starts bin with args and env in dir, its stdout and stderr
// going to logPath, in a process group of its own. The process is stopped
// (Stop) in t.Cleanup; if the test failed, the tail of its log is printed
// first.
func StartProcess(t testing.TB, name, bin string, args, env []string, dir, logPath string) *Process {
	t.Helper()
	p, err := startProcess(name, bin, args, env, dir, logPath)
	if err != nil {
		t.Fatalf("vaulttest: %v", err)
	}
	stopAtCleanup(t, p)
	return p
}

// stopAtCleanup stops p when the test ends, after printing the end of its
// log if the test failed.
func stopAtCleanup(t testing.TB, p *Process) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("vaulttest: last lines of the %s log (%s):\n%s", p.Name, p.LogPath, p.LogTail(logTailLines))
		}
		if err := p.Stop(); err != nil {
			t.Errorf("vaulttest: %v", err)
		}
	})
}

func startProcess(name, bin string, args, env []string, dir, logPath string) (*Process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600) //nolint:gosec // G304: a path the caller chose
	if err != nil {
		return nil, fmt.Errorf("open the %s log: %w", name, err)
	}
	defer logFile.Close() // the child holds its own copy

	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// A group of its own, so that Stop can end whatever it started
		// (Vault's plugins) by the group id, and a terminal's Ctrl-C does
		// not reach it behind the test's back.
		Setpgid: true,
		// If the test binary dies without its cleanups (a timeout panic),
		// the child is told to shut down gently.
		Pdeathsig: syscall.SIGTERM,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &Process{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{}), stopTimeout: StopTimeout}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitError is the process's exit status once it has exited (nil for a
// clean exit), and nil before.
func (p *Process) ExitError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

// exitReason describes how the process ended ("exit status 1", "signal:
// killed"), or that it has not.
func (p *Process) exitReason() string {
	switch err := p.ExitError(); {
	case !p.Exited():
		return "still running"
	case err == nil:
		return "exit status 0"
	default:
		return err.Error()
	}
}

// Signal sends sig to the process alone (not its group). It does nothing
// once the process has exited.
func (p *Process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return nil
	}
	if err := syscall.Kill(p.Pid(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s (pid %d): %w", p.Name, p.Pid(), err)
	}
	return nil
}

// Kill ends the process at once with SIGKILL, as a crash would, and waits
// (bounded) until it is gone. What it started is left running, as after a
// real crash, until Stop or the test's cleanup ends the group.
func (p *Process) Kill() error {
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	return p.waitDone(StopTimeout)
}

// Stop ends the process gently (SIGTERM), waits up to StopTimeout, then
// sends SIGKILL to its whole process group, which also ends anything it
// started and left behind. Stopping a stopped process is harmless.
func (p *Process) Stop() error {
	var errs []error
	if !p.Exited() {
		if err := p.Signal(syscall.SIGTERM); err != nil {
			errs = append(errs, err)
		}
		if p.waitDone(p.stopTimeout) != nil {
			errs = append(errs, fmt.Errorf("%s (pid %d) did not stop within %s of SIGTERM; killing it", p.Name, p.Pid(), p.stopTimeout))
		}
	}
	// The group id is the leader's pid. Linux does not reuse a pid while a
	// group of that id exists, so this reaches only what this process
	// started; ESRCH means nothing is left.
	if err := syscall.Kill(-p.Pid(), syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		errs = append(errs, fmt.Errorf("kill the process group of %s (pid %d): %w", p.Name, p.Pid(), err))
	}
	if err := p.waitDone(StopTimeout); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// waitDone waits up to d for the process to exit.
func (p *Process) waitDone(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		return fmt.Errorf("%s (pid %d) still running after %s", p.Name, p.Pid(), d)
	}
}

// Log returns the whole log so far.
func (p *Process) Log() string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.LogPath, err)
	}
	return string(b)
}

// LogTail returns the last n lines of the log.
func (p *Process) LogTail(n int) string { return tail(p.Log(), n) }

// tail returns the last n lines of s.
func tail(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ChildEnv is the environment for a child process: the test's own, without
// any VAULT_* setting that could point it at another Vault, with HOME set to
// home so that no token helper file or cache lands in the real home, and
// with extra appended (later entries win).
func ChildEnv(home string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "VAULT_") || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+home)
	return append(env, extra...)
}

// waitFor calls cond every interval until it returns true, the context ends
// or the timeout passes; it returns cond's last error (or a timeout error)
// when cond never held.
func waitFor(ctx context.Context, timeout, interval time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("gave up after %s: %w", timeout, last)
			}
			return fmt.Errorf("gave up after %s", timeout)
		case <-tick.C:
		}
	}
}

// Eventually calls cond every interval until it returns nil or timeout
// passes, and then fails the test with cond's last error and msg.
func Eventually(t testing.TB, timeout, interval time.Duration, msg string, cond func() error) {
	t.Helper()
	err := waitFor(context.Background(), timeout, interval, func() (bool, error) {
		err := cond()
		return err == nil, err
	})
	if err != nil {
		t.Fatalf("%s: %v", msg, err)
	}
}

// writeFile writes a private file (mode 0600) and fails the test on error.
func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatalf("vaulttest: %v", err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("vaulttest: %v", err)
	}
}
