package vaulttest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// DefaultCLITimeout bounds one vault CLI command.
const DefaultCLITimeout = 60 * time.Second

// Result is the outcome of one vault CLI command.
type Result struct {
	// Args are the command's arguments (after "vault").
	Args []string
	// Stdout and Stderr are what the command printed.
	Stdout, Stderr string
	// Code is the exit code: 0 for success; the vault CLI exits 2 when the
	// server refused the request and 1 on local errors.
	Code int
}

// OK reports whether the command exited 0.
func (r Result) OK() bool { return r.Code == 0 }

// Output is stdout and stderr together.
func (r Result) Output() string { return r.Stdout + r.Stderr }

// String describes the command and its outcome for a failure message, with
// the values of secret arguments (key=value where the key ends in "secret"
// or "token") masked.
func (r Result) String() string {
	return fmt.Sprintf("`vault %s` exited %d\nstdout:\n%s\nstderr:\n%s",
		strings.Join(RedactArgs(r.Args), " "), r.Code, r.Stdout, r.Stderr)
}

// secretArg matches key=value arguments whose key names a secret.
var secretArg = regexp.MustCompile(`^(-?[A-Za-z0-9_.-]*(?:secret|token|password))=(.+)$`)

// RedactArgs returns args with the values of secret key=value arguments
// replaced, for messages. File references (key=@file) are kept.
func RedactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if m := secretArg.FindStringSubmatch(a); m != nil && !strings.HasPrefix(m[2], "@") {
			a = m[1] + "=<redacted>"
		}
		out[i] = a
	}
	return out
}

// CLIOptions configure one CLI command.
type CLIOptions struct {
	// Token is VAULT_TOKEN; the server's root token when empty, unless
	// NoToken is set.
	Token   string
	NoToken bool
	// Stdin is fed to the command (for key=- arguments).
	Stdin string
	// Env are extra environment variables (KEY=value), such as
	// VAULT_FORMAT=json.
	Env []string
	// Timeout bounds the command (DefaultCLITimeout).
	Timeout time.Duration
}

// CLI runs `vault args...` against the server with the root token and
// returns its outcome; a non-zero exit is not a test failure (see MustCLI).
// The test fails only if the command cannot be run or times out.
func (s *Server) CLI(t testing.TB, args ...string) Result {
	t.Helper()
	return s.CLIWith(t, CLIOptions{}, args...)
}

// CLIAs runs `vault args...` with token as VAULT_TOKEN.
func (s *Server) CLIAs(t testing.TB, token string, args ...string) Result {
	t.Helper()
	return s.CLIWith(t, CLIOptions{Token: token, NoToken: token == ""}, args...)
}

// CLIWith runs `vault args...` against the server with options o.
func (s *Server) CLIWith(t testing.TB, o CLIOptions, args ...string) Result {
	t.Helper()
	token := o.Token
	if token == "" && !o.NoToken {
		token = s.RootToken
	}
	env := []string{"VAULT_ADDR=" + s.Addr}
	if token != "" {
		env = append(env, "VAULT_TOKEN="+token)
	}
	return runVault(t, s.Bin, s.Dir, append(env, o.Env...), o.Stdin, o.Timeout, args)
}

// runVault runs the vault binary with args; see CLIWith.
func runVault(t testing.TB, bin, home string, env []string, stdin string, timeout time.Duration, args []string) Result {
	t.Helper()
	if timeout <= 0 {
		timeout = DefaultCLITimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	// VAULT_CLI_NO_COLOR keeps escape codes out of the output that tests
	// search.
	cmd.Env = ChildEnv(home, append([]string{"VAULT_CLI_NO_COLOR=1"}, env...)...)
	cmd.Dir = home
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	r := Result{Args: args, Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("vaulttest: `vault %s` did not finish within %s\n%s",
			strings.Join(RedactArgs(args), " "), timeout, r)
	case errors.As(err, &exitErr):
		r.Code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("vaulttest: cannot run `vault %s`: %v", strings.Join(RedactArgs(args), " "), err)
	}
	return r
}

// MustCLI runs `vault args...` with the root token and returns its stdout;
// it fails the test, with the command's output, if the command does not
// exit 0. (The end of the server log follows in the cleanup.)
func (s *Server) MustCLI(t testing.TB, args ...string) string {
	t.Helper()
	r := s.CLI(t, args...)
	if !r.OK() {
		t.Fatal(r)
	}
	return r.Stdout
}

// CLIJSON runs `vault args...` with options o and VAULT_FORMAT=json, and
// decodes its stdout into out. It fails the test if the command fails or
// prints no JSON.
func (s *Server) CLIJSON(t testing.TB, o CLIOptions, out any, args ...string) Result {
	t.Helper()
	o.Env = append([]string{"VAULT_FORMAT=json"}, o.Env...)
	r := s.CLIWith(t, o, args...)
	if !r.OK() {
		t.Fatal(r)
	}
	if err := json.Unmarshal([]byte(r.Stdout), out); err != nil {
		t.Fatalf("vaulttest: `vault %s` printed no JSON: %v\n%s", strings.Join(RedactArgs(args), " "), err, r)
	}
	return r
}
