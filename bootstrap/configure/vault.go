package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/vault/api"
)

// run is one run of the tool: it checks everything, then brings Vault in
// line, printing one line per object and a summary on out.
func run(ctx context.Context, o *options, out, errOut io.Writer) error {
	if os.Getenv("VAULT_ADDR") == "" {
		return errors.New("VAULT_ADDR is not set: point it at your Vault (and set VAULT_TOKEN or log in)")
	}
	if fi, err := os.Stat(o.pluginBin); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("no plugin binary at %s: build it with `make build` or pass --plugin-bin", o.pluginBin)
	}
	if o.mount == "" {
		return errors.New("--mount must not be empty")
	}
	if strings.Contains(o.pluginCommand, "/") {
		return fmt.Errorf("--plugin-command is a file name in the plugin directory, not a path: %s", o.pluginCommand)
	}

	// The file: checked, resolved and judged by the engine before anything
	// in Vault is touched.
	var d *decl
	want := &judged{}
	payloads := map[string]map[string]any{}
	if o.file != "" {
		var problems []string
		var err error
		if d, problems, err = loadDecl(o.file); err != nil {
			return err
		}
		if len(problems) == 0 {
			want, problems, err = resolveAndJudge(ctx, d, payloads)
			if err != nil {
				return fmt.Errorf("%s: %w", o.file, err)
			}
		}
		if len(problems) > 0 {
			for _, p := range problems {
				fmt.Fprintf(errOut, "configure.sh: %s: %s\n", o.file, p)
			}
			return errors.New("nothing was written")
		}
	}

	c, err := client()
	if err != nil {
		return err
	}
	r := &reporter{out: out, dryRun: o.dryRun}
	s := &steps{o: o, c: c, r: r}
	for _, step := range []func(context.Context) error{s.binary, s.plugin, s.mountEngine} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	if d != nil {
		if err := s.objects(ctx, d, want, payloads); err != nil {
			return err
		}
	}
	r.summary()
	return nil
}

// resolveAndJudge resolves every config and role of d (payloads gets each
// config's fields as written to Vault, secrets included) and has the engine
// judge them.
func resolveAndJudge(ctx context.Context, d *decl, payloads map[string]map[string]any) (*judged, []string, error) {
	roles := map[string]map[string]any{}
	for _, name := range sortedKeys(d.configs) {
		p, err := d.resolveConfig(name)
		if err != nil {
			return nil, []string{err.Error()}, nil
		}
		payloads[name] = p
	}
	for _, name := range sortedKeys(d.roles) {
		p, err := d.resolveRole(name)
		if err != nil {
			return nil, []string{err.Error()}, nil
		}
		roles[name] = p
	}
	return judge(ctx, payloads, roles)
}

// client is a Vault client from the environment, as the vault CLI sets one
// up: VAULT_ADDR, VAULT_CACERT, VAULT_NAMESPACE, ..., and VAULT_TOKEN or the
// token in ~/.vault-token.
func client() (*api.Client, error) {
	c, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		return nil, fmt.Errorf("cannot set up a Vault client: %w", err)
	}
	if c.Token() == "" {
		if home, err := os.UserHomeDir(); err == nil {
			if b, err := os.ReadFile(filepath.Join(home, ".vault-token")); err == nil { //nolint:gosec // G304: the vault CLI's token file
				c.SetToken(strings.TrimSpace(string(b)))
			}
		}
	}
	return c, nil
}

// reporter prints one line per object and counts what changed.
type reporter struct {
	out                         io.Writer
	dryRun                      bool
	created, updated, unchanged int
}

// report prints KIND NAME STATUS (DETAIL). STATUS created, updated or
// unchanged is counted; in a dry run the first two read "would create" and
// "would update". Any other status is printed as it is.
func (r *reporter) report(kind, name, status, detail string) {
	shown := status
	switch status {
	case "created":
		r.created++
		if r.dryRun {
			shown = "would create"
		}
	case "updated":
		r.updated++
		if r.dryRun {
			shown = "would update"
		}
	case "unchanged":
		r.unchanged++
	}
	if detail != "" {
		shown += " (" + detail + ")"
	}
	fmt.Fprintf(r.out, "%-8s %-44s %s\n", kind, name, shown)
}

func (r *reporter) summary() {
	switch {
	case r.created+r.updated == 0:
		fmt.Fprintf(r.out, "Nothing changed: Vault already matches (%d objects unchanged).\n", r.unchanged)
	case r.dryRun:
		fmt.Fprintf(r.out, "Dry run: %d would be created, %d would be updated, %d unchanged. Nothing was written.\n", r.created, r.updated, r.unchanged)
	default:
		fmt.Fprintf(r.out, "Done: %d created, %d updated, %d unchanged.\n", r.created, r.updated, r.unchanged)
	}
}

// steps are the steps of a run against Vault, in order.
type steps struct {
	o *options
	c *api.Client
	r *reporter

	sha                 string
	registrationChanged bool
}

// binary copies the plugin binary into the plugin directory, when one is
// given, next to its place first and then renamed, so that Vault never sees
// half a binary.
func (s *steps) binary(context.Context) error {
	sha, err := sha256File(s.o.pluginBin)
	if err != nil {
		return err
	}
	s.sha = sha
	if s.o.pluginDir == "" {
		return nil
	}
	if fi, err := os.Stat(s.o.pluginDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("no plugin directory at %s", s.o.pluginDir)
	}
	dest := filepath.Join(s.o.pluginDir, s.o.pluginCommand)
	if have, err := sha256File(dest); err == nil && have == sha {
		s.r.report("binary", dest, "unchanged", "")
		return nil
	}
	status := "created"
	if _, err := os.Stat(dest); err == nil {
		status = "updated"
	}
	if !s.o.dryRun {
		b, err := os.ReadFile(s.o.pluginBin)
		if err != nil {
			return err
		}
		tmp := fmt.Sprintf("%s.tmp.%d", dest, os.Getpid())
		if err := os.WriteFile(tmp, b, 0o755); err != nil { //nolint:gosec // G306: Vault must be able to run the plugin
			return err
		}
		if err := os.Rename(tmp, dest); err != nil {
			return err
		}
	}
	s.r.report("binary", dest, status, "")
	return nil
}

// plugin registers the binary in the catalog under its version, unless that
// version is registered with this binary already.
func (s *steps) plugin(ctx context.Context) error {
	label := s.o.pluginName + " " + s.o.version
	p, err := s.c.Sys().GetPluginWithContext(ctx, &api.GetPluginInput{Name: s.o.pluginName, Type: api.PluginTypeSecrets, Version: s.o.version})
	switch {
	case isStatus(err, http.StatusNotFound):
		s.registrationChanged = true
		s.r.report("plugin", label, "created", "sha256 "+s.sha[:12])
	case err != nil:
		return fmt.Errorf("cannot read the plugin catalog: %w", err)
	case p.SHA256 == s.sha && p.Command == s.o.pluginCommand:
		s.r.report("plugin", label, "unchanged", "")
	default:
		s.registrationChanged = true
		s.r.report("plugin", label, "updated", "sha256 "+s.sha[:12]+", command "+s.o.pluginCommand)
	}
	if !s.registrationChanged || s.o.dryRun {
		return nil
	}
	return s.c.Sys().RegisterPluginWithContext(ctx, &api.RegisterPluginInput{
		Name: s.o.pluginName, Type: api.PluginTypeSecrets, Command: s.o.pluginCommand, SHA256: s.sha, Version: s.o.version,
	})
}

// mountEngine enables the engine at the mount, or moves the mount to this
// version, or reloads it when the version's binary changed.
func (s *steps) mountEngine(ctx context.Context) error {
	mounts, err := s.c.Sys().ListMountsWithContext(ctx)
	if err != nil {
		return fmt.Errorf("cannot list the secrets engines: %w", err)
	}
	path := s.o.mount + "/"
	m := mounts[path]
	if m == nil {
		if !s.o.dryRun {
			if err := s.c.Sys().MountWithContext(ctx, s.o.mount, &api.MountInput{
				Type: s.o.pluginName, Config: api.MountConfigInput{PluginVersion: s.o.version},
			}); err != nil {
				return fmt.Errorf("enabling %s: %w", path, err)
			}
		}
		s.r.report("mount", path, "created", s.o.pluginName+" "+s.o.version)
		return nil
	}
	if m.Type != s.o.pluginName {
		return fmt.Errorf("%s is already a %q secrets engine, not %s; choose another --mount", path, m.Type, s.o.pluginName)
	}
	var detail string
	switch {
	case m.PluginVersion != s.o.version:
		if !s.o.dryRun {
			if err := s.c.Sys().TuneMountAllowNilWithContext(ctx, s.o.mount, api.TuneMountConfigInput{PluginVersion: &s.o.version}); err != nil {
				return fmt.Errorf("tuning %s to %s: %w", path, s.o.version, err)
			}
		}
		from := m.PluginVersion
		if from == "" {
			from = "unpinned"
		}
		detail = from + " -> " + s.o.version + ", reloaded"
	case s.registrationChanged:
		detail = "reloaded with the new " + s.o.version + " binary"
	default:
		s.r.report("mount", path, "unchanged", s.o.version)
		return nil
	}
	if !s.o.dryRun {
		// No plugin type: it is optional in Vault and unknown to OpenBao.
		if _, err := s.c.Sys().ReloadPluginWithContext(ctx, &api.ReloadPluginInput{Plugin: s.o.pluginName, Scope: s.o.reloadScope}); err != nil {
			return fmt.Errorf("reloading %s: %w", s.o.pluginName, err)
		}
	}
	s.r.report("mount", path, "updated", detail)
	return nil
}

// objects writes the configs, roles and team policies that differ from the
// file, and lists the configs and roles in Vault that the file does not
// name (never deleting them: that is a decision for a person).
func (s *steps) objects(ctx context.Context, d *decl, want *judged, payloads map[string]map[string]any) error {
	for _, name := range sortedKeys(d.configs) {
		// Only the fields the file gives are compared: those it leaves out
		// keep their values in Vault. Secrets are never returned.
		given := map[string]any{}
		for k := range payloads[name] {
			if v, ok := want.configs[name][k]; ok {
				given[k] = v
			}
		}
		status, detail, err := s.compare(ctx, "config/"+name, given)
		if err != nil {
			return err
		}
		if status == "unchanged" && s.o.rotate {
			status, detail = "updated", "--rotate-secrets"
		}
		if err := s.write(ctx, "config", name, "config/"+name, status, payloads[name]); err != nil {
			return err
		}
		s.r.report("config", name, status, detail)
	}
	for _, name := range sortedKeys(d.roles) {
		// Every field is written, the engine's defaults for those the file
		// leaves out, so that removing one from the file resets it.
		status, detail, err := s.compare(ctx, "roles/"+name, want.roles[name])
		if err != nil {
			return err
		}
		if err := s.write(ctx, "role", name, "roles/"+name, status, want.roles[name]); err != nil {
			return err
		}
		s.r.report("role", name, status, detail)
	}
	for _, name := range sortedKeys(d.teams) {
		t := d.teams[name]
		policy := t.Policy
		if policy == "" {
			policy = s.o.policyPrefix + name
		}
		text := teamPolicy(name, t, s.o.mount)
		have, err := s.c.Sys().GetPolicyWithContext(ctx, policy)
		if err != nil {
			return fmt.Errorf("cannot read policy %s: %w", policy, err)
		}
		status := "created"
		if have == text {
			status = "unchanged"
		} else if have != "" {
			status = "updated"
		}
		if status != "unchanged" && !s.o.dryRun {
			if err := s.c.Sys().PutPolicyWithContext(ctx, policy, text); err != nil {
				return fmt.Errorf("writing policy %s: %w", policy, err)
			}
		}
		s.r.report("policy", policy, status, "team "+name)
	}
	for _, kind := range []struct {
		name, path string
		known      map[string]map[string]any
	}{{"config", "config", d.configs}, {"role", "roles", d.roles}} {
		list, err := s.c.Logical().ListWithContext(ctx, s.o.mount+"/"+kind.path)
		if err != nil || list == nil {
			continue
		}
		keys, _ := list.Data["keys"].([]any)
		for _, k := range keys {
			if n, _ := k.(string); n != "" && kind.known[n] == nil {
				s.r.report(kind.name, n, "not in the file, left alone", "")
			}
		}
	}
	return nil
}

// compare reads mount/path and returns created when nothing is there,
// else updated with the fields of want that differ, or unchanged.
func (s *steps) compare(ctx context.Context, path string, want map[string]any) (status, detail string, err error) {
	full := s.o.mount + "/" + path
	have, err := s.c.Logical().ReadWithContext(ctx, full)
	if err != nil {
		return "", "", fmt.Errorf("cannot read %s: %w", full, err)
	}
	if have == nil {
		return "created", "", nil
	}
	var changed []string
	for k, v := range want {
		if !sameJSON(v, have.Data[k]) {
			changed = append(changed, k)
		}
	}
	if len(changed) == 0 {
		return "unchanged", "", nil
	}
	sort.Strings(changed)
	return "updated", strings.Join(changed, ", "), nil
}

// write writes data to mount/path unless status is unchanged or this is a
// dry run, and prints the warnings Vault returns.
func (s *steps) write(ctx context.Context, kind, name, path, status string, data map[string]any) error {
	if status == "unchanged" || s.o.dryRun {
		return nil
	}
	full := s.o.mount + "/" + path
	resp, err := s.c.Logical().WriteWithContext(ctx, full, data)
	if err != nil {
		return fmt.Errorf("%s %q: writing %s failed: %w", kind, name, full, err)
	}
	if resp != nil {
		for _, w := range resp.Warnings {
			fmt.Fprintf(s.r.out, "         warning: %s\n", w)
		}
	}
	return nil
}

// sameJSON reports whether a and b encode to the same JSON: the engine
// here returns Go numbers where Vault's JSON holds json.Number.
func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

func isStatus(err error, code int) bool {
	var re *api.ResponseError
	return errors.As(err, &re) && re.StatusCode == code
}

func sha256File(path string) (string, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the operator's plugin binary
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
