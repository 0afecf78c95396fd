package configure

import (
	"cmp"
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

	"github.com/vault-palo/vault-plugin-secrets-palo/backend"
)

// DefaultPluginName is the plugin's name in the catalog, and the type of
// its mount, unless Options.PluginName says otherwise.
const DefaultPluginName = "vault-plugin-secrets-palo"

// Options are the settings of a run. The zero value of a field takes the
// default that its comment names.
type Options struct {
	// File is the declarative file; without it only the plugin and the
	// mount are set up.
	File string
	// PluginBin is the plugin binary.
	PluginBin string
	// PluginDir, when set, is Vault's plugin directory: the binary is
	// copied there first.
	PluginDir string
	// PluginCommand is the binary's file name in the plugin directory (the
	// base name of PluginBin).
	PluginCommand string
	// PluginName is the catalog name (DefaultPluginName).
	PluginName string
	// Version is the version stamped into the binary, which Vault checks
	// (the version this program was built as: a release's palo-configure
	// installs the plugin of the same release). Run and Register take ""
	// as it is only when Unversioned is set.
	Version string
	// Unversioned registers the plugin without a version.
	Unversioned bool
	// Mount is the path the engine is mounted at ("palo").
	Mount string
	// PolicyPrefix names team policies PolicyPrefix+team ("<mount>-").
	PolicyPrefix string
	// ReloadScope is passed to the plugin reload ("global" for Vault
	// Enterprise performance standbys and replication).
	ReloadScope string
	// RotateSecrets writes every config, so that a changed secret is
	// stored even when no readable field changed; never the secret of a
	// config the engine keeps itself.
	RotateSecrets bool
	// DryRun reports what would change and writes nothing.
	DryRun bool
}

// withDefaults fills in the defaults and checks what can be checked
// without Vault.
func (o Options) withDefaults() (Options, error) {
	o.PluginName = cmp.Or(o.PluginName, DefaultPluginName)
	o.Mount = cmp.Or(strings.Trim(o.Mount, "/"), "palo")
	if !o.Unversioned {
		o.Version = cmp.Or(o.Version, backend.Version)
	}
	o.PluginCommand = cmp.Or(o.PluginCommand, filepath.Base(o.PluginBin))
	o.PolicyPrefix = cmp.Or(o.PolicyPrefix, strings.ReplaceAll(o.Mount, "/", "-")+"-")
	if fi, err := os.Stat(o.PluginBin); err != nil || !fi.Mode().IsRegular() {
		return o, fmt.Errorf("no plugin binary at %s: build it with `make build` or pass --plugin-bin", o.PluginBin)
	}
	if strings.Contains(o.PluginCommand, "/") {
		return o, fmt.Errorf("--plugin-command is a file name in the plugin directory, not a path: %s", o.PluginCommand)
	}
	return o, nil
}

// Run checks the options and the declarative file, then brings Vault (c) in
// line: the binary, the catalog entry, the mount and the file's objects. It
// prints one line per object and a summary on out, and the file's problems
// on errOut.
func Run(ctx context.Context, c *api.Client, o Options, out, errOut io.Writer) error {
	o, err := o.withDefaults()
	if err != nil {
		return err
	}
	// The file: checked, resolved and judged by the engine before anything
	// in Vault is touched.
	var objs *Objects
	var want *judged
	if o.File != "" {
		if objs, want, err = loadFile(ctx, o.File, errOut); err != nil {
			return err
		}
	}
	s := newSteps(c, o, out)
	if err := s.install(ctx); err != nil {
		return err
	}
	if err := s.mountEngine(ctx); err != nil {
		return err
	}
	if objs != nil {
		if err := s.objects(ctx, objs, want); err != nil {
			return err
		}
	}
	s.r.summary()
	return nil
}

// Register copies the binary into the plugin directory (when one is given)
// and registers it in the catalog, as the first steps of Run do, and
// returns its sha256, hex-encoded.
func Register(ctx context.Context, c *api.Client, o Options, out io.Writer) (string, error) {
	o, err := o.withDefaults()
	if err != nil {
		return "", err
	}
	s := newSteps(c, o, out)
	if err := s.install(ctx); err != nil {
		return "", err
	}
	return s.sha, nil
}

// Apply writes objs under o.Mount as the last step of Run does, after the
// engine judged them; the plugin must be mounted there already.
func Apply(ctx context.Context, c *api.Client, o Options, objs *Objects, out io.Writer) error {
	o.Mount = cmp.Or(strings.Trim(o.Mount, "/"), "palo")
	o.PolicyPrefix = cmp.Or(o.PolicyPrefix, strings.ReplaceAll(o.Mount, "/", "-")+"-")
	want, problems, err := judge(ctx, objs.Configs, objs.Roles)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return newSteps(c, o, out).objects(ctx, objs, want)
}

// loadFile reads, checks, resolves and judges the declarative file,
// printing every problem it finds on errOut.
func loadFile(ctx context.Context, file string, errOut io.Writer) (*Objects, *judged, error) {
	d, problems, err := loadDecl(file)
	if err != nil {
		return nil, nil, err
	}
	var objs *Objects
	want := &judged{}
	if len(problems) == 0 {
		if objs, err = d.resolve(); err != nil {
			problems = []string{err.Error()}
		}
	}
	if len(problems) == 0 {
		if want, problems, err = judge(ctx, objs.Configs, objs.Roles); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	for _, p := range problems {
		fmt.Fprintf(errOut, "%s: %s\n", file, p)
	}
	if len(problems) > 0 {
		return nil, nil, errors.New("nothing was written")
	}
	return objs, want, nil
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
	o Options
	c *api.Client
	r *reporter

	sha                 string
	registrationChanged bool
}

func newSteps(c *api.Client, o Options, out io.Writer) *steps {
	return &steps{o: o, c: c, r: &reporter{out: out, dryRun: o.DryRun}}
}

// install copies the binary into the plugin directory and registers it.
func (s *steps) install(ctx context.Context) error {
	if err := s.binary(); err != nil {
		return err
	}
	return s.plugin(ctx)
}

// binary copies the plugin binary into the plugin directory, when one is
// given, next to its place first and then renamed, so that Vault never sees
// half a binary.
func (s *steps) binary() error {
	sha, err := sha256File(s.o.PluginBin)
	if err != nil {
		return err
	}
	s.sha = sha
	if s.o.PluginDir == "" {
		return nil
	}
	if fi, err := os.Stat(s.o.PluginDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("no plugin directory at %s", s.o.PluginDir)
	}
	dest := filepath.Join(s.o.PluginDir, s.o.PluginCommand)
	if have, err := sha256File(dest); err == nil && have == sha {
		s.r.report("binary", dest, "unchanged", "")
		return nil
	}
	status := "created"
	if _, err := os.Stat(dest); err == nil {
		status = "updated"
	}
	if !s.o.DryRun {
		b, err := os.ReadFile(s.o.PluginBin)
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
	label := strings.TrimSpace(s.o.PluginName + " " + s.o.Version)
	p, err := s.c.Sys().GetPluginWithContext(ctx, &api.GetPluginInput{Name: s.o.PluginName, Type: api.PluginTypeSecrets, Version: s.o.Version})
	switch {
	case isStatus(err, http.StatusNotFound):
		s.registrationChanged = true
		s.r.report("plugin", label, "created", "sha256 "+s.sha[:12])
	case err != nil:
		return fmt.Errorf("cannot read the plugin catalog: %w", err)
	case p.SHA256 == s.sha && p.Command == s.o.PluginCommand:
		s.r.report("plugin", label, "unchanged", "")
	default:
		s.registrationChanged = true
		s.r.report("plugin", label, "updated", "sha256 "+s.sha[:12]+", command "+s.o.PluginCommand)
	}
	if !s.registrationChanged || s.o.DryRun {
		return nil
	}
	return s.c.Sys().RegisterPluginWithContext(ctx, &api.RegisterPluginInput{
		Name: s.o.PluginName, Type: api.PluginTypeSecrets, Command: s.o.PluginCommand, SHA256: s.sha, Version: s.o.Version,
	})
}

// mountEngine enables the engine at the mount, or moves the mount to this
// version, or reloads it when the version's binary changed.
func (s *steps) mountEngine(ctx context.Context) error {
	mounts, err := s.c.Sys().ListMountsWithContext(ctx)
	if err != nil {
		return fmt.Errorf("cannot list the secrets engines: %w", err)
	}
	path := s.o.Mount + "/"
	m := mounts[path]
	if m == nil {
		if !s.o.DryRun {
			if err := s.c.Sys().MountWithContext(ctx, s.o.Mount, &api.MountInput{
				Type: s.o.PluginName, Config: api.MountConfigInput{PluginVersion: s.o.Version},
			}); err != nil {
				return fmt.Errorf("enabling %s: %w", path, err)
			}
		}
		s.r.report("mount", path, "created", strings.TrimSpace(s.o.PluginName+" "+s.o.Version))
		return nil
	}
	if m.Type != s.o.PluginName {
		return fmt.Errorf("%s is already a %q secrets engine, not %s; choose another --mount", path, m.Type, s.o.PluginName)
	}
	var detail string
	switch {
	case m.PluginVersion != s.o.Version:
		if !s.o.DryRun {
			if err := s.c.Sys().TuneMountAllowNilWithContext(ctx, s.o.Mount, api.TuneMountConfigInput{PluginVersion: &s.o.Version}); err != nil {
				return fmt.Errorf("tuning %s to %s: %w", path, s.o.Version, err)
			}
		}
		from := m.PluginVersion
		if from == "" {
			from = "unpinned"
		}
		detail = from + " -> " + s.o.Version + ", reloaded"
	case s.registrationChanged:
		detail = "reloaded with the new " + s.o.Version + " binary"
	default:
		s.r.report("mount", path, "unchanged", s.o.Version)
		return nil
	}
	if !s.o.DryRun {
		// No plugin type: it is optional in Vault and unknown to OpenBao.
		if _, err := s.c.Sys().ReloadPluginWithContext(ctx, &api.ReloadPluginInput{Plugin: s.o.PluginName, Scope: s.o.ReloadScope}); err != nil {
			return fmt.Errorf("reloading %s: %w", s.o.PluginName, err)
		}
	}
	s.r.report("mount", path, "updated", detail)
	return nil
}

// objects writes the configs, roles and team policies that differ from
// objs (want is what the engine made of them), and lists the configs and
// roles in Vault that objs does not name (never deleting them: that is a
// decision for a person).
func (s *steps) objects(ctx context.Context, objs *Objects, want *judged) error {
	for _, name := range sortedKeys(objs.Configs) {
		if err := s.config(ctx, name, objs.Configs[name], want.configs[name]); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(objs.Roles) {
		// Every field is written, the engine's defaults for those the file
		// leaves out, so that removing one from the file resets it.
		have, err := s.read(ctx, "roles/"+name)
		if err != nil {
			return err
		}
		status, detail := compare(have, want.roles[name])
		if err := s.write(ctx, "role", name, "roles/"+name, status, want.roles[name]); err != nil {
			return err
		}
		s.r.report("role", name, status, detail)
	}
	for _, name := range sortedKeys(objs.Teams) {
		if err := s.policy(ctx, name, objs.Teams[name]); err != nil {
			return err
		}
	}
	s.strays(ctx, objs)
	return nil
}

// config writes config name when a field it gives differs from the read of
// the stored config (or with RotateSecrets). payload holds the fields as
// written, secrets included; want is the engine's read of them.
func (s *steps) config(ctx context.Context, name string, payload, want map[string]any) error {
	// Only the fields the file gives are compared: those it leaves out
	// keep their values in Vault. Secrets are never returned.
	given := map[string]any{}
	for k := range payload {
		if v, ok := want[k]; ok {
			given[k] = v
		}
	}
	have, err := s.read(ctx, "config/"+name)
	if err != nil {
		return err
	}
	status, detail := compare(have, given)
	switch keeper := secretKeeper(want, have); {
	case keeper != "" && (have != nil || keeper == privateKeyJWT):
		payload = withoutSecrets(payload)
		detail = strings.TrimPrefix(detail+"; secret left alone: "+keeper, "; ")
	case keeper != "":
		detail = "its first secret; from now on the engine keeps it"
	case status == "unchanged" && s.o.RotateSecrets:
		status, detail = "updated", "--rotate-secrets"
	}
	if err := s.write(ctx, "config", name, "config/"+name, status, payload); err != nil {
		return err
	}
	s.r.report("config", name, status, detail)
	return nil
}

// privateKeyJWT is the token_endpoint_auth_method of a config that signs
// with a key the engine made: it has no secret to write.
const privateKeyJWT = "private_key_jwt"

// secretKeeper says why the engine, not this program, owns the secret of a
// config (it rotates it on a schedule, has rotated it, or is rotating it;
// or the config signs with a key made in Vault), or "" when it does not. want is the engine's read of the file's
// fields, have the stored config's read (nil when there is none). A
// secret written over one the engine rotated would undo the rotation: the
// old secret from the file would replace the vendor's current one and clear
// the engine's record of it. So once such a config exists its secret is
// never written here, whatever changed and even with RotateSecrets; a
// config that signs with a key made in Vault never takes one.
func secretKeeper(want map[string]any, have *api.Secret) string {
	var stored map[string]any
	if have != nil {
		stored = have.Data
	}
	switch {
	case want["token_endpoint_auth_method"] == privateKeyJWT || stored["token_endpoint_auth_method"] == privateKeyJWT:
		return privateKeyJWT
	case positive(want["rotation_period"]) || positive(stored["rotation_period"]):
		return "the engine rotates it (rotation_period)"
	case text(want["rotation_schedule"]) || text(stored["rotation_schedule"]):
		return "the engine rotates it (rotation_schedule)"
	case text(stored["last_vault_rotation"]):
		return "the engine rotated it (last_vault_rotation)"
	case text(stored["rotation_pending"]):
		return "a rotation is under way (rotation_pending)"
	}
	return ""
}

// text reports whether v is a string other than "".
func text(v any) bool {
	s, ok := v.(string)
	return ok && s != ""
}

// positive reports whether v, a number from a read (json.Number from
// Vault's API, a Go integer from the engine here), is above zero.
func positive(v any) bool {
	var n json.Number
	switch x := v.(type) {
	case json.Number:
		n = x
	case nil:
		return false
	default:
		n = json.Number(fmt.Sprint(x))
	}
	f, err := n.Float64()
	return err == nil && f > 0
}

// withoutSecrets is payload without its secret fields.
func withoutSecrets(payload map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range payload {
		out[k] = v
	}
	for _, f := range secretFields {
		delete(out, f)
	}
	return out
}

// policy writes the ACL policy of team name when its text differs.
func (s *steps) policy(ctx context.Context, name string, t Team) error {
	policy := cmp.Or(t.Policy, s.o.PolicyPrefix+name)
	text := teamPolicy(name, t, s.o.Mount)
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
	if status != "unchanged" && !s.o.DryRun {
		if err := s.c.Sys().PutPolicyWithContext(ctx, policy, text); err != nil {
			return fmt.Errorf("writing policy %s: %w", policy, err)
		}
	}
	s.r.report("policy", policy, status, "team "+name)
	return nil
}

// strays lists the configs and roles in Vault that objs does not name.
func (s *steps) strays(ctx context.Context, objs *Objects) {
	for _, kind := range []struct {
		name, path string
		known      map[string]map[string]any
	}{{"config", "config", objs.Configs}, {"role", "roles", objs.Roles}} {
		list, err := s.c.Logical().ListWithContext(ctx, s.o.Mount+"/"+kind.path)
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
}

// read reads mount/path; nil when nothing is there.
func (s *steps) read(ctx context.Context, path string) (*api.Secret, error) {
	full := s.o.Mount + "/" + path
	have, err := s.c.Logical().ReadWithContext(ctx, full)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", full, err)
	}
	return have, nil
}

// compare returns created when have is nil, else updated with the fields
// of want that differ, or unchanged.
func compare(have *api.Secret, want map[string]any) (status, detail string) {
	if have == nil {
		return "created", ""
	}
	var changed []string
	for k, v := range want {
		if !sameJSON(v, have.Data[k]) {
			changed = append(changed, k)
		}
	}
	if len(changed) == 0 {
		return "unchanged", ""
	}
	sort.Strings(changed)
	return "updated", strings.Join(changed, ", ")
}

// write writes data to mount/path unless status is unchanged or this is a
// dry run, and prints the warnings Vault returns.
func (s *steps) write(ctx context.Context, kind, name, path, status string, data map[string]any) error {
	if status == "unchanged" || s.o.DryRun {
		return nil
	}
	full := s.o.Mount + "/" + path
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
