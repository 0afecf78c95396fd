package vaulttest

import (
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
)

// Plugin is a plugin binary to register in a server's catalog.
type Plugin struct {
	// Name is the catalog name (PluginName by default).
	Name string
	// Type is "secret" (the default), "auth" or "database".
	Type string
	// Binary is the built plugin to install.
	Binary string
	// Version is passed to -version; it must match the version the binary
	// reports, or Vault refuses it. Empty registers an unversioned plugin.
	Version string
	// Command is the file name in the plugin directory (the base name of
	// Binary by default). Two builds registered as two versions need two
	// names.
	Command string
}

// PaloPlugin is this project's plugin as built for the test.
func (b Binaries) PaloPlugin() Plugin {
	return Plugin{Name: PluginName, Type: "secret", Binary: b.Plugin, Version: b.PluginVersion, Command: PluginName}
}

func (p Plugin) withDefaults() Plugin {
	if p.Name == "" {
		p.Name = PluginName
	}
	if p.Type == "" {
		p.Type = "secret"
	}
	if p.Command == "" {
		p.Command = filepath.Base(p.Binary)
	}
	return p
}

// RegisterPlugin installs p's binary in the server's plugin directory and
// registers it with `vault plugin register -sha256=... -version=...`, as an
// operator would. It returns the SHA-256 it registered, hex-encoded.
func (s *Server) RegisterPlugin(t testing.TB, p Plugin) string {
	t.Helper()
	p = p.withDefaults()
	dst := filepath.Join(s.PluginDir, p.Command)
	sum, err := installFile(p.Binary, dst)
	if err != nil {
		t.Fatalf("vaulttest: install plugin %s: %v", p.Name, err)
	}
	args := []string{"plugin", "register", "-sha256=" + sum, "-command=" + p.Command}
	if p.Version != "" {
		args = append(args, "-version="+p.Version)
	}
	s.MustCLI(t, append(args, p.Type, p.Name)...)
	return sum
}

// installFile copies src to dst (executable by its owner only) and returns
// the SHA-256 of what it wrote. A copy rather than a link: Vault refuses
// symbolic links out of its plugin directory, and a rebuild of src must not
// change a registered plugin behind Vault's back.
func installFile(src, dst string) (string, error) {
	in, err := os.Open(src) //nolint:gosec // the binary under test, named by the test environment
	if err != nil {
		return "", err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o700) //nolint:gosec // G302: Vault must execute it
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(out, h), in); err != nil {
		_ = out.Close()
		return "", err
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
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
