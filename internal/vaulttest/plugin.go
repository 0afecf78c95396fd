package vaulttest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/bootstrap/configure"
)

// Plugin is a plugin binary to register in a server's catalog, as a
// secrets engine.
type Plugin struct {
	// Name is the catalog name (PluginName by default).
	Name string
	// Binary is the built plugin to install.
	Binary string
	// Version is the catalog version; it must match the version the binary
	// reports, or Vault refuses it. Empty registers an unversioned plugin.
	Version string
	// Command is the file name in the plugin directory (the base name of
	// Binary by default). Two builds registered as two versions need two
	// names.
	Command string
}

// PaloPlugin is this project's plugin as built for the test.
func (b Binaries) PaloPlugin() Plugin {
	return Plugin{Name: PluginName, Binary: b.Plugin, Version: b.PluginVersion, Command: PluginName}
}

// options are the configure options that install p into s.
func (p Plugin) options(s *Server) configure.Options {
	return configure.Options{
		PluginBin: p.Binary, PluginDir: s.PluginDir, PluginCommand: p.Command, PluginName: p.Name,
		Version: p.Version, Unversioned: p.Version == "",
	}
}

// RegisterPlugin installs p's binary in the server's plugin directory and
// registers it with its sha256 and version, with the configure package as
// palo-configure does. It returns the SHA-256 it registered, hex-encoded.
func (s *Server) RegisterPlugin(t testing.TB, p Plugin) string {
	t.Helper()
	sum, err := configure.Register(context.Background(), s.Client(t), p.options(s), logWriter{t})
	if err != nil {
		t.Fatalf("vaulttest: register plugin %s: %v", p.Name, err)
	}
	return sum
}

// logWriter writes each line it is given to the test's log.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// SHA256File returns the hex SHA-256 of a file.
func SHA256File(path string) (string, error) {
	f, err := os.Open(path) //nolint:gosec // a path chosen by the test
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// PluginPids returns the ids of the live processes that this server started
// from the file command in its plugin directory (there is one per plugin
// once a mount of it was used: plugins built with ServeMultiplex serve every
// mount from one process).
func (s *Server) PluginPids(command string) ([]int, error) {
	return childPids(s.Pid(), command)
}

// WaitPluginPid waits (bounded by timeout) until exactly one live process
// of command is a child of this server, and returns its id. Use the mount
// first: Vault starts a plugin process on demand.
func (s *Server) WaitPluginPid(t testing.TB, command string, timeout time.Duration) int {
	t.Helper()
	var pid int
	Eventually(t, timeout, 50*time.Millisecond, "vaulttest: the "+command+" plugin process of Vault pid "+strconv.Itoa(s.Pid()), func() error {
		pids, err := s.PluginPids(command)
		if err != nil {
			return err
		}
		if len(pids) != 1 {
			return fmt.Errorf("%d processes (%v), want 1", len(pids), pids)
		}
		pid = pids[0]
		return nil
	})
	return pid
}

// childPids scans /proc for live (not zombie) processes whose parent is
// parent and whose executable's base name is command.
func childPids(parent int, command string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // it exited meanwhile
		}
		ppid, state, ok := parseStat(string(stat))
		if !ok || ppid != parent || state == "Z" || state == "X" {
			continue
		}
		if exe := processExe(pid); filepath.Base(exe) == command {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// parseStat extracts the parent pid and state from /proc/<pid>/stat, whose
// second field (the command name in parentheses) may itself contain spaces
// and parentheses.
func parseStat(stat string) (ppid int, state string, ok bool) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, "", false
	}
	fields := strings.Fields(stat[end+1:])
	if len(fields) < 2 {
		return 0, "", false
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return 0, "", false
	}
	return ppid, fields[0], true
}

// processExe is the path of a process's executable, from /proc/<pid>/exe or
// else the first word of its command line.
func processExe(pid int) string {
	if exe, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "exe")); err == nil {
		return strings.TrimSuffix(exe, " (deleted)")
	}
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return ""
	}
	arg0, _, _ := strings.Cut(string(cmdline), "\x00")
	return arg0
}
