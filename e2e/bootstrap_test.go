//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/demo"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testkit"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// bootScriptTimeout bounds one run of a bootstrap script or recipe.
const bootScriptTimeout = 3 * time.Minute

// bootRepo is the repository root, seen from the e2e package's folder.
const bootRepo = ".."

// bootRun is the outcome of one script run.
type bootRun struct {
	name           string
	stdout, stderr string
	code           int
}

func (r bootRun) String() string {
	return fmt.Sprintf("%s exited %d\nstdout:\n%s\nstderr:\n%s", r.name, r.code, r.stdout, r.stderr)
}

// statuses maps "kind name" to the rest of each object line that
// configure.sh prints ("created", "updated (ttl)", ...).
func (r bootRun) statuses() map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			continue
		}
		switch f[0] {
		case "plugin": // "plugin <name> <version> <status>"
			if len(f) >= 4 {
				out[strings.Join(f[:3], " ")] = strings.Join(f[3:], " ")
			}
		case "binary", "mount", "config", "role", "policy":
			out[f[0]+" "+f[1]] = strings.Join(f[2:], " ")
		}
	}
	return out
}

// lastLine is the summary line.
func (r bootRun) lastLine() string {
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	return lines[len(lines)-1]
}

// bootEnv is the environment of a script: vaulttest.ChildEnv with a HOME of
// its own, the Go caches of the test's user (for a script that builds with
// go, which would otherwise start from nothing in the new HOME),
// CONFIGURE_BIN naming the palo-configure that configureBuilt built, and
// extra.
func bootEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	caches, err := goCaches()
	if err != nil {
		t.Fatal(err)
	}
	built, err := filepath.Abs(filepath.Join(bootRepo, "bin", "palo-configure"))
	if err != nil {
		t.Fatal(err)
	}
	return vaulttest.ChildEnv(t.TempDir(), slices.Concat(caches, []string{"CONFIGURE_BIN=" + built}, extra)...)
}

// goCaches are GOCACHE, GOMODCACHE and GOPATH as `go env` gives them.
var goCaches = sync.OnceValues(func() ([]string, error) {
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %w", err)
	}
	v := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(v) != 3 {
		return nil, fmt.Errorf("go env printed %q", out)
	}
	return []string{"GOCACHE=" + v[0], "GOMODCACHE=" + v[1], "GOPATH=" + v[2]}, nil
})

// configureBuilt runs configure.sh --help once in the test process, without
// CONFIGURE_BIN, so that it builds its program from this checkout (into
// bin/palo-configure) before the tests run that program in parallel.
var configureBuilt = sync.OnceValue(func() error {
	cmd := exec.Command(filepath.Join(bootRepo, "bootstrap", "configure.sh"), "--help")
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "CONFIGURE_BIN=") })
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("bootstrap/configure.sh --help: %w\n%s", err, out)
	}
	if !strings.Contains(string(out), "Usage: palo-configure") {
		return fmt.Errorf("bootstrap/configure.sh --help printed no usage of palo-configure:\n%s", out)
	}
	return nil
})

// requireConfigure fails the test when configure.sh cannot be built.
func requireConfigure(t *testing.T) {
	t.Helper()
	if err := configureBuilt(); err != nil {
		t.Fatal(err)
	}
}

// runBoot runs script with args and env, bounded by bootScriptTimeout. A
// non-zero exit is returned, not a failure.
func runBoot(t *testing.T, env []string, script string, args ...string) bootRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bootScriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, args...)
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	r := bootRun{name: filepath.Base(script) + " " + strings.Join(args, " "), stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s did not finish within %s\n%s", r.name, bootScriptTimeout, r)
	case errors.As(err, &exitErr):
		r.code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("cannot run %s: %v", script, err)
	}
	return r
}

// requireTools fails the test, naming the fix, when a program the scripts
// need is missing: a skipped end-to-end test would prove nothing.
func requireTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Fatalf("%s is needed by the bootstrap scripts and recipes and is not on PATH (Debian: apt-get install -y %s)", n, n)
		}
	}
}

// bootScript is the absolute path of a file in the repository.
func bootScript(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(bootRepo, rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// writePrivate writes a file only its owner can read.
func writePrivate(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// devState builds the state folder that `make dev` keeps in .dev/ for a
// dev Vault and a fake vendor it starts, so that bootstrap/configure-dev.sh
// (`make configure`) can run against them: the demo's files (package demo:
// the accounts with random secrets, a secret file per config, palo.json),
// with devExtras added to palo.json. It returns the folder, the fake vendor
// and its accounts.
func devState(t *testing.T, b vaulttest.Binaries, v *vaulttest.Server) (string, *vaulttest.FakeVendor, []fakevendor.Account) {
	t.Helper()
	state := t.TempDir()
	accounts, err := demo.Write(state)
	if err != nil {
		t.Fatal(err)
	}
	fv := vaulttest.StartFakeVendor(t, b.FakeVendor, vaulttest.FakeVendorOptions{Accounts: accounts})
	var file map[string]map[string]map[string]any
	raw, err := os.ReadFile(filepath.Join(state, "palo.json")) //nolint:gosec // G304: the test's own file
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	devExtras(file)
	raw, err = json.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	writePrivate(t, filepath.Join(state, "palo.json"), string(raw))
	writePrivate(t, filepath.Join(state, "env"),
		fmt.Sprintf("export VAULT_ADDR=%s\nexport VAULT_TOKEN=%s\n", v.Addr, v.RootToken))
	writePrivate(t, filepath.Join(state, "fakevendor.url"), fv.URL+"\n")
	writePrivate(t, filepath.Join(state, "ca.pem"), string(fv.CAPEM))
	if err := os.Symlink(v.PluginDir, filepath.Join(state, "plugins")); err != nil {
		t.Fatal(err)
	}
	return state, fv, accounts
}

// devExtras adds to the demo's declarative file what the test checks
// besides one config and role per provider: a duration given as a string,
// a second role of scm-prod with its own ttl and min_ttl, a role without a
// lease, a role's own scope, and two teams.
func devExtras(file map[string]map[string]map[string]any) {
	file["configs"]["oauth2-prod"]["request_timeout"] = "20s"
	file["roles"]["wildfire-short"] = map[string]any{"config": "scm-prod", "ttl": "10m", "min_ttl": "5m"}
	file["roles"]["brightpattern"]["lease"] = false
	file["roles"]["oauth2"]["scope"] = "read"
	file["teams"] = map[string]map[string]any{
		"secops":   {"roles": []string{"wildfire", "wildfire-short", "saas"}},
		"cloudops": {"roles": []string{"casb", "brightpattern", "oauth2"}},
	}
}

// accountOf is the account of provider in accounts.
func accountOf(accounts []fakevendor.Account, provider string) fakevendor.Account {
	return accounts[slices.IndexFunc(accounts, func(a fakevendor.Account) bool { return a.Provider == provider })]
}

// assertStatuses checks that every object in want was reported with a
// status starting with want's value, and that no other object changed.
func assertStatuses(t *testing.T, r bootRun, want map[string]string, others string) {
	t.Helper()
	got := r.statuses()
	for obj, status := range want {
		if !strings.HasPrefix(got[obj], status) {
			t.Errorf("%s: reported %q, want %q", obj, got[obj], status)
		}
	}
	for obj, status := range got {
		if _, listed := want[obj]; !listed && !strings.HasPrefix(status, others) {
			t.Errorf("%s: reported %q, want %q", obj, status, others)
		}
	}
	if t.Failed() {
		t.Fatalf("unexpected report:\n%s", r)
	}
}

// assertNoSecrets fails if any secret appears in the runs' output.
func assertNoSecrets(t *testing.T, secrets []string, runs ...bootRun) {
	t.Helper()
	for _, r := range runs {
		testkit.AssertNoSecret(t, r.name+"'s output", r.stdout+r.stderr, secrets...)
	}
}

// devObjects are the objects of devState's declarative file, as
// configure.sh names them in its report.
var devObjects = []string{
	"config brightpattern-prod", "config casb-prod", "config oauth2-prod", "config saas-prod", "config scm-prod",
	"role brightpattern", "role casb", "role oauth2", "role saas", "role wildfire", "role wildfire-short",
	"policy palo-secops", "policy palo-cloudops",
}

// TestBootstrapConfigure runs bootstrap/configure.sh with the demo's
// declarative file and devExtras (two teams) against a new dev Vault, first
// through `make configure`'s bootstrap/configure-dev.sh, then directly: the
// second run must change nothing. Then it checks what each team's token may
// read, that drift is repaired and extra objects left alone, and that a
// secret change alone needs --rotate-secrets.
func TestBootstrapConfigure(t *testing.T) {
	t.Parallel()
	requireConfigure(t)
	b := vaulttest.LoadBinaries(t)
	v := vaulttest.StartDev(t, b.Vault, vaulttest.DevOptions{})
	state, fv, accounts := devState(t, b, v)

	configureDev := bootScript(t, "bootstrap/configure-dev.sh")
	configure := bootScript(t, "bootstrap/configure.sh")
	devEnv := bootEnv(t, "PALO_DEV_STATE="+state, "VAULT_BIN="+b.Vault,
		"PLUGIN_BIN="+b.Plugin, "PLUGIN_VERSION="+b.PluginVersion)
	// The same settings as configure-dev.sh derives from the state folder.
	directArgs := []string{"--plugin-dir", v.PluginDir, "--file", filepath.Join(state, "palo.json")}
	directEnv := bootEnv(t, "VAULT_ADDR="+v.Addr, "VAULT_TOKEN="+v.RootToken, "VAULT_BIN="+b.Vault,
		"PLUGIN_BIN="+b.Plugin, "PLUGIN_VERSION="+b.PluginVersion,
		demo.URLVar+"="+fv.URL, demo.CAFileVar+"="+filepath.Join(state, "ca.pem"))
	secrets := append(demo.Secrets(accounts), "wrong-secret-e2e-0123")
	var runs []bootRun
	run := func(env []string, script string, args ...string) bootRun {
		t.Helper()
		r := runBoot(t, env, script, args...)
		runs = append(runs, r)
		return r
	}
	defer func() { assertNoSecrets(t, secrets, runs...) }()
	pluginKey := "plugin " + vaulttest.PluginName + " " + b.PluginVersion

	// A dry run on the empty Vault reports everything as to be created,
	// and creates nothing. The production example resolves too.
	r := run(devEnv, configureDev, "--dry-run")
	if r.code != 0 {
		t.Fatal(r)
	}
	want := map[string]string{pluginKey: "would create", "mount palo/": "would create"}
	for _, obj := range devObjects {
		want[obj] = "would create"
	}
	assertStatuses(t, r, want, "would create")
	if !strings.HasPrefix(r.lastLine(), "Dry run:") || !strings.Contains(r.lastLine(), "Nothing was written") {
		t.Fatalf("no dry-run summary:\n%s", r)
	}
	secretsDir := t.TempDir()
	writePrivate(t, filepath.Join(secretsDir, "saas-eu-client-secret"), "example-not-a-secret\n")
	prodEnv := append(bootEnv(t, "VAULT_ADDR="+v.Addr, "VAULT_TOKEN="+v.RootToken, "VAULT_BIN="+b.Vault,
		"PLUGIN_BIN="+b.Plugin, "PLUGIN_VERSION="+b.PluginVersion, "SECRETS_DIR="+secretsDir,
		"PARTNER_API_PROXY=http://proxy.example:3128"),
		"SCM_PROD_SECRET=example-secret-1", "CASB_PROD_SECRET=example-secret-2",
		"BRIGHTPATTERN_SECRET=example-secret-3", "PARTNER_API_SECRET=example-secret-4")
	r = run(prodEnv, configure, "--dry-run", "--file", bootScript(t, "bootstrap/examples/production.json"))
	if r.code != 0 || len(r.statuses()) != 16 {
		t.Fatalf("dry run of the production example:\n%s", r)
	}
	assertStatuses(t, r, map[string]string{"config scm-prod": "would create"}, "would create")
	if _, mounted := mounts(t, v)["palo/"]; mounted {
		t.Fatal("a dry run mounted the engine")
	}
	if res := v.CLI(t, "plugin", "info", "-version="+b.PluginVersion, "secret", vaulttest.PluginName); res.OK() {
		t.Fatalf("a dry run registered the plugin:\n%s", res)
	}

	// The first run creates everything.
	r = run(devEnv, configureDev)
	if r.code != 0 {
		t.Fatal(r)
	}
	want = map[string]string{
		"binary " + filepath.Join(state, "plugins", vaulttest.PluginName): "created",
		pluginKey:     "created",
		"mount palo/": "created",
	}
	for _, obj := range devObjects {
		want[obj] = "created"
	}
	assertStatuses(t, r, want, "created")
	if r.lastLine() != "Done: 16 created, 0 updated, 0 unchanged." {
		t.Fatalf("summary %q:\n%s", r.lastLine(), r)
	}

	// The second run, with the same settings given directly, changes
	// nothing and says so.
	r = run(directEnv, configure, directArgs...)
	if r.code != 0 {
		t.Fatal(r)
	}
	assertStatuses(t, r, map[string]string{pluginKey: "unchanged", "mount palo/": "unchanged"}, "unchanged")
	if len(r.statuses()) != len(devObjects)+3 || !strings.HasPrefix(r.lastLine(), "Nothing changed: Vault already matches") {
		t.Fatalf("second run did not report every object unchanged:\n%s", r)
	}

	// What was written.
	var m map[string]struct {
		Type          string `json:"type"`
		PluginVersion string `json:"plugin_version"`
	}
	v.CLIJSON(t, vaulttest.CLIOptions{}, &m, "secrets", "list")
	if got := m["palo/"]; got.Type != vaulttest.PluginName || got.PluginVersion != b.PluginVersion {
		t.Fatalf("palo/ is %+v, want %s %s", got, vaulttest.PluginName, b.PluginVersion)
	}
	cfg := readJSON(t, v, "", "palo/config/scm-prod").Data
	if str(t, cfg, "client_id") != "wildfire-sa@1234567890.iam.panserviceaccount.com" ||
		str(t, cfg, "token_url") != fv.TokenURL(fakevendor.ProviderSCM) || str(t, cfg, "ca_cert") != string(fv.CAPEM) {
		t.Fatalf("config/scm-prod = %v", cfg)
	}
	if _, has := cfg["client_secret"]; has {
		t.Fatal("config/scm-prod returned its client_secret")
	}
	if num(t, readJSON(t, v, "", "palo/config/oauth2-prod").Data, "request_timeout") != 20 {
		t.Fatal(`config/oauth2-prod: request_timeout "20s" was not written as 20 seconds`)
	}
	short := readJSON(t, v, "", "palo/roles/wildfire-short").Data
	if num(t, short, "ttl") != 600 || num(t, short, "min_ttl") != 300 {
		t.Fatalf("roles/wildfire-short = %v, want ttl 600 and min_ttl 300", short)
	}
	if lease, _ := readJSON(t, v, "", "palo/roles/brightpattern").Data["lease"].(bool); lease {
		t.Fatal("roles/brightpattern: lease was not written as false")
	}

	// Each team's token reads its own roles' tokens, and nothing else.
	teamToken := func(policy string) string {
		return strings.TrimSpace(v.MustCLI(t, "token", "create", "-policy="+policy, "-field=token"))
	}
	secops, cloudops := teamToken("palo-secops"), teamToken("palo-cloudops")
	t.Run("team access", func(t *testing.T) {
		cases := map[string]struct {
			token string
			args  []string
			ok    bool
		}{
			"secops reads wildfire":             {secops, []string{"read", "palo/creds/wildfire"}, true},
			"secops reads wildfire-short":       {secops, []string{"read", "palo/creds/wildfire-short"}, true},
			"secops reads saas":                 {secops, []string{"read", "palo/creds/saas"}, true},
			"secops cannot read casb":           {secops, []string{"read", "palo/creds/casb"}, false},
			"secops cannot read oauth2":         {secops, []string{"read", "palo/creds/oauth2"}, false},
			"secops cannot read its config":     {secops, []string{"read", "palo/config/scm-prod"}, false},
			"secops cannot list configs":        {secops, []string{"list", "palo/config"}, false},
			"secops cannot read its role":       {secops, []string{"read", "palo/roles/wildfire"}, false},
			"secops cannot change its role":     {secops, []string{"write", "palo/roles/wildfire", "ttl=1h"}, false},
			"secops cannot read the cache":      {secops, []string{"read", "palo/cache"}, false},
			"cloudops reads casb":               {cloudops, []string{"read", "palo/creds/casb"}, true},
			"cloudops reads brightpattern":      {cloudops, []string{"read", "palo/creds/brightpattern"}, true},
			"cloudops reads oauth2":             {cloudops, []string{"read", "palo/creds/oauth2"}, true},
			"cloudops cannot read wildfire":     {cloudops, []string{"read", "palo/creds/wildfire"}, false},
			"cloudops cannot read saas":         {cloudops, []string{"read", "palo/creds/saas"}, false},
			"cloudops cannot read its config":   {cloudops, []string{"read", "palo/config/casb-prod"}, false},
			"cloudops cannot write a config":    {cloudops, []string{"write", "palo/config/casb-prod", "request_timeout=10"}, false},
			"cloudops cannot purge the cache":   {cloudops, []string{"write", "-f", "palo/cache/purge"}, false},
			"cloudops cannot read its policy":   {cloudops, []string{"policy", "read", "palo-cloudops"}, false},
			"cloudops cannot read other policy": {cloudops, []string{"policy", "read", "palo-secops"}, false},
		}
		for name, tc := range cases {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				if !tc.ok {
					mustFail(t, v, tc.token, http.StatusForbidden, tc.args...)
					return
				}
				var s struct {
					Data map[string]any `json:"data"`
				}
				v.CLIJSON(t, vaulttest.CLIOptions{Token: tc.token}, &s, tc.args...)
				if c := fv.Check(t, str(t, s.Data, "access_token")); !c.Valid {
					t.Fatalf("%v returned a token the fake vendor does not hold valid: %+v", tc.args, c)
				}
			})
		}
	})

	// Drift is repaired; objects the file does not name are left alone.
	v.MustCLI(t, "write", "palo/roles/wildfire", "ttl=5m")
	v.MustCLI(t, "write", "palo/config/oauth2-prod", "request_timeout=25")
	v.MustCLI(t, "write", "palo/roles/stray", "config=scm-prod")
	r = run(directEnv, configure, directArgs...)
	if r.code != 0 {
		t.Fatal(r)
	}
	assertStatuses(t, r, map[string]string{
		"role wildfire":      "updated (ttl)",
		"config oauth2-prod": "updated (request_timeout)",
		"role stray":         "not in the file, left alone",
	}, "unchanged")
	if r.lastLine() != "Done: 0 created, 2 updated, 14 unchanged." {
		t.Fatalf("summary %q:\n%s", r.lastLine(), r)
	}
	if ttl := num(t, readJSON(t, v, "", "palo/roles/wildfire").Data, "ttl"); ttl != 0 {
		t.Fatalf("roles/wildfire ttl = %d after the run, want 0", ttl)
	}
	readJSON(t, v, "", "palo/roles/stray") // still there

	// A changed secret alone is not detected (secrets are write-only) ...
	scmSecret := filepath.Join(state, "secrets", "scm-prod")
	writePrivate(t, scmSecret, "wrong-secret-e2e-0123\n")
	r = run(devEnv, configureDev)
	if r.code != 0 || r.statuses()["config scm-prod"] != "unchanged" {
		t.Fatalf("a secret change alone should leave the config unchanged without --rotate-secrets:\n%s", r)
	}
	// ... --rotate-secrets writes it: here the vendor refuses it, the run
	// fails naming the config, and the stored config still works.
	r = run(devEnv, configureDev, "--rotate-secrets")
	if r.code == 0 || !strings.Contains(r.stderr, `config "scm-prod"`) || !strings.Contains(r.stderr, "401") {
		t.Fatalf("--rotate-secrets with a wrong secret should fail naming scm-prod and the vendor's 401:\n%s", r)
	}
	if c := fv.Check(t, str(t, readJSON(t, v, "", "palo/creds/wildfire").Data, "access_token")); !c.Valid {
		t.Fatalf("after the refused write, palo/creds/wildfire gave a token the fake holds invalid: %+v", c)
	}
	writePrivate(t, scmSecret, accountOf(accounts, fakevendor.ProviderSCM).ClientSecret+"\n")
	r = run(devEnv, configureDev, "--rotate-secrets")
	if r.code != 0 {
		t.Fatal(r)
	}
	want = map[string]string{"role stray": "not in the file, left alone"}
	for _, obj := range devObjects {
		if strings.HasPrefix(obj, "config ") {
			want[obj] = "updated (--rotate-secrets)"
		}
	}
	assertStatuses(t, r, want, "unchanged")
}

// TestBootstrapUpgrade installs the plugin with configure.sh, then runs it
// with a new build of another version: the mount moves to it, the configs
// and roles stay, and a third run changes nothing.
func TestBootstrapUpgrade(t *testing.T) {
	t.Parallel()
	requireConfigure(t)
	b := vaulttest.LoadBinaries(t)
	fv := vaulttest.StartFakeVendor(t, b.FakeVendor, vaulttest.FakeVendorOptions{})
	v := vaulttest.StartDev(t, b.Vault, vaulttest.DevOptions{})

	const newVersion = "v0.2.0-e2e"
	newCommand := vaulttest.PluginName + "_" + newVersion
	newBin := filepath.Join(t.TempDir(), newCommand)
	root, err := filepath.Abs(bootRepo)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath",
		"-ldflags", "-X github.com/vault-palo/vault-plugin-secrets-palo/backend.Version="+newVersion, "-o", newBin, ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build of %s: %v\n%s", newVersion, err, out)
	}

	// A file of our own, with the secret from an environment variable.
	scm := accountOf(fakevendor.DemoAccounts(), fakevendor.ProviderSCM)
	dir := t.TempDir()
	file := filepath.Join(dir, "palo.json")
	writePrivate(t, filepath.Join(dir, "ca.pem"), string(fv.CAPEM))
	decl, err := json.Marshal(map[string]any{
		"configs": map[string]any{"scm-prod": map[string]any{ //nolint:gosec // G101: names an environment variable, holds no secret
			"provider": "paloalto_scm", "token_url": fv.TokenURL(fakevendor.ProviderSCM), "ca_cert_file": "ca.pem",
			"client_id": scm.ClientID, "client_secret_env": "E2E_SCM_SECRET", "tsg_id": scm.TSGIDs[0],
		}},
		"roles": map[string]any{"wildfire": map[string]any{"config": "scm-prod"}},
		"teams": map[string]any{"secops": map[string]any{"roles": []string{"wildfire"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	writePrivate(t, file, string(decl))
	env := bootEnv(t, "VAULT_ADDR="+v.Addr, "VAULT_TOKEN="+v.RootToken, "VAULT_BIN="+b.Vault,
		"E2E_SCM_SECRET="+scm.ClientSecret, "MOUNT_PATH=palo")
	configure := bootScript(t, "bootstrap/configure.sh")
	var runs []bootRun
	defer func() { assertNoSecrets(t, []string{scm.ClientSecret}, runs...) }()

	r := runBoot(t, env, configure, "--plugin-bin", b.Plugin, "--version", b.PluginVersion,
		"--plugin-dir", v.PluginDir, "--file", file)
	runs = append(runs, r)
	if r.code != 0 || r.statuses()["mount palo/"] != "created ("+vaulttest.PluginName+" "+b.PluginVersion+")" {
		t.Fatalf("first run:\n%s", r)
	}
	before := str(t, readJSON(t, v, "", "palo/creds/wildfire").Data, "access_token")

	upgrade := []string{
		"--plugin-bin", newBin, "--version", newVersion, "--plugin-command", newCommand,
		"--plugin-dir", v.PluginDir, "--file", file,
	}
	r = runBoot(t, env, configure, upgrade...)
	runs = append(runs, r)
	if r.code != 0 {
		t.Fatal(r)
	}
	assertStatuses(t, r, map[string]string{
		"binary " + filepath.Join(v.PluginDir, newCommand):  "created",
		"plugin " + vaulttest.PluginName + " " + newVersion: "created",
		"mount palo/": "updated (" + b.PluginVersion + " -> " + newVersion + ", reloaded)",
	}, "unchanged")

	var m map[string]struct {
		PluginVersion        string `json:"plugin_version"`
		RunningPluginVersion string `json:"running_plugin_version"`
	}
	v.CLIJSON(t, vaulttest.CLIOptions{}, &m, "secrets", "list")
	if got := m["palo/"]; got.PluginVersion != newVersion || got.RunningPluginVersion != newVersion {
		t.Fatalf("after the upgrade palo/ is %+v, want %s running", got, newVersion)
	}
	// The old version stays registered, for a rollback.
	v.MustCLI(t, "plugin", "info", "-version="+b.PluginVersion, "secret", vaulttest.PluginName)
	// The new process serves the stored config; the stored token cache did
	// not survive the restart, so this is a new token.
	after := str(t, readJSON(t, v, "", "palo/creds/wildfire").Data, "access_token")
	if c := fv.Check(t, after); !c.Valid {
		t.Fatalf("after the upgrade palo/creds/wildfire gave a token the fake holds invalid: %+v", c)
	}
	if after == before {
		t.Error("the token after the reload is the cached one of the old plugin process; was the plugin reloaded?")
	}

	r = runBoot(t, env, configure, upgrade...)
	runs = append(runs, r)
	if r.code != 0 || !strings.HasPrefix(r.lastLine(), "Nothing changed") {
		t.Fatalf("run after the upgrade should change nothing:\n%s", r)
	}
}

// TestBootstrapLeavesRotatedSecretsAlone installs a paloalto_scm config
// that the engine rotates, rotates it, and runs configure.sh again with the
// old secret still in its file, --rotate-secrets, verify_connection off and
// another field changed: the secret is not written (the report says why),
// the rotation is kept, and reads get tokens the vendor holds valid. With
// the schedule turned off, the record of the past rotation alone keeps the
// secret in the engine's hands.
func TestBootstrapLeavesRotatedSecretsAlone(t *testing.T) {
	t.Parallel()
	requireConfigure(t)
	b := vaulttest.LoadBinaries(t)
	fv := vaulttest.StartFakeVendor(t, b.FakeVendor, vaulttest.FakeVendorOptions{})
	v := vaulttest.StartDev(t, b.Vault, vaulttest.DevOptions{})
	scm := accountOf(fakevendor.DemoAccounts(), fakevendor.ProviderSCM)
	dir := t.TempDir()
	file := filepath.Join(dir, "palo.json")
	writePrivate(t, filepath.Join(dir, "ca.pem"), string(fv.CAPEM))
	writeFile := func(extra map[string]any) {
		t.Helper()
		c := map[string]any{ //nolint:gosec // G101: names an environment variable, holds no secret
			"provider": "paloalto_scm", "token_url": fv.TokenURL(fakevendor.ProviderSCM), "ca_cert_file": "ca.pem",
			"client_id": scm.ClientID, "client_secret_env": "E2E_SCM_SECRET", "tsg_id": scm.TSGIDs[0], "iam_url": fv.URL,
		}
		maps.Copy(c, extra)
		raw, err := json.Marshal(map[string]any{
			"configs": map[string]any{"scm-prod": c},
			"roles":   map[string]any{"wildfire": map[string]any{"config": "scm-prod"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		writePrivate(t, file, string(raw))
	}
	env := bootEnv(t, "VAULT_ADDR="+v.Addr, "VAULT_TOKEN="+v.RootToken, "VAULT_BIN="+b.Vault,
		"PLUGIN_BIN="+b.Plugin, "PLUGIN_VERSION="+b.PluginVersion, "E2E_SCM_SECRET="+scm.ClientSecret)
	configure := bootScript(t, "bootstrap/configure.sh")
	args := []string{"--plugin-dir", v.PluginDir, "--file", file}
	var runs []bootRun
	defer func() { assertNoSecrets(t, []string{scm.ClientSecret}, runs...) }()
	run := func(extra ...string) bootRun {
		t.Helper()
		r := runBoot(t, env, configure, append(args, extra...)...)
		runs = append(runs, r)
		if r.code != 0 {
			t.Fatal(r)
		}
		return r
	}
	validRead := func(when string) {
		t.Helper()
		if c := fv.Check(t, str(t, readJSON(t, v, "", "palo/creds/wildfire").Data, "access_token")); !c.Valid {
			t.Fatalf("%s, palo/creds/wildfire gave a token the fake vendor holds invalid: %+v", when, c)
		}
	}

	writeFile(map[string]any{"rotation_period": "1h"})
	r := run()
	if got := r.statuses()["config scm-prod"]; got != "created (its first secret; from now on the engine keeps it)" {
		t.Fatalf("first run reported config scm-prod %q:\n%s", got, r)
	}
	v.MustCLI(t, "write", "-f", "palo/config/scm-prod/rotate-root")
	if n := fv.IAMResets(t, scm.ClientID); n != 1 {
		t.Fatalf("the fake reset the secret %d times, want 1", n)
	}
	rotated := str(t, readJSON(t, v, "", "palo/config/scm-prod").Data, "last_vault_rotation")
	if rotated == "" {
		t.Fatal("no last_vault_rotation after rotate-root")
	}
	if fv.SCMTokenStatus(t, scm.ClientID, scm.ClientSecret, scm.TSGIDs[0]) == http.StatusOK {
		t.Fatal("the vendor still accepts the secret of the file after the rotation; the test would prove nothing")
	}
	validRead("after the rotation")

	// The file's old secret, --rotate-secrets, verification off and a
	// change: only the change is written.
	writeFile(map[string]any{"rotation_period": "1h", "request_timeout": "20s", "verify_connection": false})
	r = run("--rotate-secrets")
	if got := r.statuses()["config scm-prod"]; got != "updated (request_timeout, verify_connection; secret left alone: the engine rotates it (rotation_period))" {
		t.Fatalf("reported config scm-prod %q:\n%s", got, r)
	}
	cfg := readJSON(t, v, "", "palo/config/scm-prod").Data
	if num(t, cfg, "request_timeout") != 20 || str(t, cfg, "last_vault_rotation") != rotated {
		t.Fatalf("config after the run: %v; want request_timeout 20 and last_vault_rotation %s", cfg, rotated)
	}
	validRead("after configure.sh with the old secret")

	// The schedule off by hand, the file without it: the past rotation
	// still keeps the secret out of the run's hands.
	v.MustCLI(t, "write", "palo/config/scm-prod", "rotation_period=0")
	writeFile(map[string]any{"request_timeout": "20s", "verify_connection": false})
	r = run("--rotate-secrets")
	if got := r.statuses()["config scm-prod"]; got != "unchanged (secret left alone: the engine rotated it (last_vault_rotation))" {
		t.Fatalf("reported config scm-prod %q:\n%s", got, r)
	}
	validRead("after configure.sh --rotate-secrets on a config rotated once")
}

// TestBootstrapFindsConfigure checks which palo-configure configure.sh
// runs outside a checkout, as a release is installed: CONFIGURE_BIN, else
// the one next to the script, else the one on PATH, else none, with a
// message that says how to install it. (Inside a checkout it builds its
// own: configureBuilt.)
func TestBootstrapFindsConfigure(t *testing.T) {
	t.Parallel()
	script, err := os.ReadFile(bootScript(t, "bootstrap/configure.sh"))
	if err != nil {
		t.Fatal(err)
	}
	// fake writes a palo-configure into dir that prints its name and
	// arguments.
	fake := func(dir, name string) string {
		t.Helper()
		p := filepath.Join(dir, "palo-configure")
		if err := os.WriteFile(p, []byte("#!/bin/sh\necho "+name+" \"$@\"\n"), 0o700); err != nil { //nolint:gosec // G306: it must run
			t.Fatal(err)
		}
		return p
	}
	release := filepath.Join(t.TempDir(), "bootstrap") // no go.mod above it
	if err := os.Mkdir(release, 0o700); err != nil {
		t.Fatal(err)
	}
	configure := filepath.Join(release, "configure.sh")
	if err := os.WriteFile(configure, script, 0o700); err != nil { //nolint:gosec // G306: it must run
		t.Fatal(err)
	}
	onPath := t.TempDir()
	fake(onPath, "on-path")
	path := "PATH=" + onPath + string(os.PathListSeparator) + "/usr/bin:/bin"
	explicit := fake(t.TempDir(), "explicit")

	if r := runBoot(t, bootEnv(t, path, "CONFIGURE_BIN="), configure, "--dry-run"); r.code != 0 || r.stdout != "on-path --dry-run\n" {
		t.Fatalf("with palo-configure on PATH only:\n%s", r)
	}
	fake(release, "next-to-script")
	if r := runBoot(t, bootEnv(t, path, "CONFIGURE_BIN="), configure, "-x"); r.code != 0 || r.stdout != "next-to-script -x\n" {
		t.Fatalf("with palo-configure next to the script:\n%s", r)
	}
	if r := runBoot(t, bootEnv(t, path, "CONFIGURE_BIN="+explicit), configure); r.code != 0 || r.stdout != "explicit\n" {
		t.Fatalf("with CONFIGURE_BIN:\n%s", r)
	}
	if err := os.Remove(filepath.Join(release, "palo-configure")); err != nil {
		t.Fatal(err)
	}
	r := runBoot(t, bootEnv(t, "PATH=/usr/bin:/bin", "CONFIGURE_BIN="), configure)
	if r.code != 1 || !strings.Contains(r.stderr, "install it from a release (bootstrap/README.md)") {
		t.Fatalf("with no palo-configure anywhere:\n%s", r)
	}
}

// TestBootstrapRefusesBadFiles checks that configure.sh stops, with a
// message naming the object and field, before it contacts Vault (whose
// address here is a closed port) and without printing a secret.
func TestBootstrapRefusesBadFiles(t *testing.T) {
	t.Parallel()
	requireConfigure(t)
	b := vaulttest.LoadBinaries(t)
	scm := func(extra map[string]any) map[string]any {
		c := map[string]any{"provider": "paloalto_scm", "client_id": "id", "tsg_id": "1234567890", "client_secret_env": "E2E_BAD_SECRET"} //nolint:gosec // G101: names an environment variable
		for k, val := range extra {
			if val == nil {
				delete(c, k)
			} else {
				c[k] = val
			}
		}
		return c
	}
	role := map[string]any{"wildfire": map[string]any{"config": "scm-prod"}}
	cases := map[string]struct {
		file map[string]any
		want string
	}{
		"secret in the file": {
			map[string]any{"configs": map[string]any{"scm-prod": scm(map[string]any{"client_secret_env": nil, "client_secret": "s3cr3t-literal-e2e"})}},
			`config "scm-prod": client_secret must not be in the file`,
		},
		"secret variable not set": {
			map[string]any{"configs": map[string]any{"scm-prod": scm(map[string]any{"client_secret_env": "E2E_UNSET_SECRET_VAR"})}}, //nolint:gosec // G101: names an environment variable
			`config "scm-prod": client_secret_env names E2E_UNSET_SECRET_VAR, which is not set`,
		},
		"secret given twice": {
			map[string]any{"configs": map[string]any{"scm-prod": scm(map[string]any{"client_secret_file": "x"})}},
			`config "scm-prod": client_secret is given more than once`,
		},
		"unreadable secret file": {
			map[string]any{"configs": map[string]any{"scm-prod": scm(map[string]any{"client_secret_env": nil, "client_secret_file": "no-such-file"})}},
			`config "scm-prod": client_secret_file: cannot read`,
		},
		"proxy password in the file": {
			map[string]any{"configs": map[string]any{"scm-prod": scm(map[string]any{"proxy_url": "http://u:s3cr3t-literal-e2e@proxy:3128"})}}, //nolint:gosec // G101: a fake password the script must refuse
			`config "scm-prod": proxy_url carries a password`,
		},
		"unset variable in a value": {
			map[string]any{"configs": map[string]any{"scm-prod": scm(map[string]any{"token_url": "${E2E_UNSET_URL}/x"})}}, //nolint:gosec // G101: a URL, not a credential
			`${E2E_UNSET_URL} is used but E2E_UNSET_URL is not set`,
		},
		"no provider": {
			map[string]any{"configs": map[string]any{"scm-prod": scm(map[string]any{"provider": nil})}},
			`config "scm-prod": provider is required`,
		},
		"bad duration": {
			map[string]any{"configs": map[string]any{"scm-prod": scm(nil)}, "roles": map[string]any{"wildfire": map[string]any{"config": "scm-prod", "ttl": "ten minutes"}}},
			`role "wildfire": Field validation failed: error converting input for field "ttl"`,
		},
		"unknown role field": {
			map[string]any{"configs": map[string]any{"scm-prod": scm(nil)}, "roles": map[string]any{"wildfire": map[string]any{"config": "scm-prod", "max_ttl": 5}}},
			`role "wildfire": unknown field(s): max_ttl`,
		},
		// The engine judges the fields, so a mistake in a config stops the
		// run before anything is written, as one in a role does.
		"misspelt config field": {
			map[string]any{"configs": map[string]any{"scm-prod": scm(map[string]any{"request_timout": "20s"})}},
			`config "scm-prod": unknown field(s): request_timout`,
		},
		"misspelt field, with a role": {
			map[string]any{"configs": map[string]any{"scm-prod": scm(map[string]any{"scopes": "x"})}, "roles": role},
			`config "scm-prod": unknown field(s): scopes`,
		},
		"field the provider does not take": {
			map[string]any{"configs": map[string]any{"scm-prod": scm(map[string]any{"scope": "x"})}},
			`config "scm-prod": scope`,
		},
		"field of another provider": {
			map[string]any{"configs": map[string]any{"scm-prod": scm(map[string]any{"access_key": "AK"})}},
			`config "scm-prod": access_key`,
		},
		"role of a config not in the file": {
			map[string]any{"roles": role},
			`role "wildfire": config "scm-prod" is not in the file`,
		},
		"team with a role not in the file": {
			map[string]any{"configs": map[string]any{"scm-prod": scm(nil)}, "roles": role, "teams": map[string]any{"secops": map[string]any{"roles": []string{"wildfire", "ghost"}}}},
			`team "secops": role "ghost" is not in the file`,
		},
		"name a policy path cannot hold": {
			map[string]any{"configs": map[string]any{"scm-prod": scm(nil)}, "roles": map[string]any{"wild*": map[string]any{"config": "scm-prod"}}},
			`role "wild*": names may use letters`,
		},
		"unknown top-level key": {
			map[string]any{"config": map[string]any{}},
			`unknown top-level key "config"`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "palo.json")
			decl, err := json.Marshal(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			writePrivate(t, file, string(decl))
			env := bootEnv(t, "VAULT_ADDR=http://127.0.0.1:1", "VAULT_TOKEN=unused", "VAULT_BIN="+b.Vault,
				"PLUGIN_BIN="+b.Plugin, "E2E_BAD_SECRET=s3cr3t-env-e2e")
			r := runBoot(t, env, bootScript(t, "bootstrap/configure.sh"), "--file", file)
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Fatalf("want exit 1 with %q and no report:\n%s", tc.want, r)
			}
			assertNoSecrets(t, []string{"s3cr3t-literal-e2e", "s3cr3t-env-e2e"}, r)
		})
	}
}

// wildfireSeen is what the stand-in WildFire API received.
type wildfireSeen struct {
	method, path, auth, file string
}

// fakeWildFire is a stand-in for the WildFire API's submit/file endpoint:
// it records each request and answers 200 to a Bearer token.
func fakeWildFire(t *testing.T) (*httptest.Server, <-chan wildfireSeen) {
	t.Helper()
	seen := make(chan wildfireSeen, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := wildfireSeen{method: r.Method, path: r.URL.Path, auth: r.Header.Get("Authorization")}
		if f, _, err := r.FormFile("file"); err == nil {
			b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
			s.file = string(b)
			_ = f.Close()
		}
		seen <- s
		if !strings.HasPrefix(s.auth, "Bearer ") {
			http.Error(w, "no bearer token", http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "<wildfire><upload-file-info><filename>sample.bin</filename></upload-file-info></wildfire>\n")
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

// received returns the one request the stand-in got, failing if there was
// none (the script has finished, so there is nothing to wait for).
func received[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case s := <-ch:
		return s
	default:
		var zero T
		t.Fatal("the stand-in API received no request")
		return zero
	}
}

// assertWildFireCall checks one submission: the documented method, path and
// header, a token the fake vendor minted for SCM and holds valid, and the
// file.
func assertWildFireCall(t *testing.T, fv *vaulttest.FakeVendor, s wildfireSeen, file string) {
	t.Helper()
	if s.method != http.MethodPost || s.path != "/publicapi/submit/file" || s.file != file {
		t.Fatalf("WildFire got %s %s with file %q, want POST /publicapi/submit/file with %q", s.method, s.path, s.file, file)
	}
	tok, ok := strings.CutPrefix(s.auth, "Bearer ")
	if !ok {
		t.Fatalf("WildFire got Authorization %q, want Bearer <token>", s.auth)
	}
	if c := fv.Check(t, tok); !c.Valid || c.Info == nil || c.Info.Provider != fakevendor.ProviderSCM {
		t.Fatalf("WildFire got a token the fake vendor does not hold as a valid SCM token: %+v", c)
	}
}

// TestBootstrapRecipes runs the consumer recipes of docs/recipes against a
// dev Vault with the standard configs and roles: the policy examples, the
// shell script calling WildFire, and the Vault Agent configuration with its
// Oracle CASB call.
func TestBootstrapRecipes(t *testing.T) {
	t.Parallel()
	requireTools(t, "curl")
	p := vaulttest.NewPalo(t, vaulttest.PaloOptions{})
	v := p.Vault
	recipes := bootScript(t, "docs/recipes")

	policies := map[string]string{
		"palo-secops":            "team-secops.hcl",
		"palo-wildfire-reader":   "role-wildfire.hcl",
		"palo-secops-role-admin": "secops-role-admin.hcl",
		"palo-scm-purge":         "incident-purge.hcl",
		"palo-operator":          "operator.hcl",
	}
	tokens := map[string]string{}
	for name, file := range policies {
		v.MustCLI(t, "policy", "write", name, filepath.Join(recipes, "policies", file))
		tokens[name] = strings.TrimSpace(v.MustCLI(t, "token", "create", "-policy="+name, "-field=token"))
	}

	// The vault CLI, as `vault`, for the scripts.
	binDir := t.TempDir()
	if err := os.Symlink(v.Bin, filepath.Join(binDir, "vault")); err != nil {
		t.Fatal(err)
	}
	path := binDir + string(os.PathListSeparator) + os.Getenv("PATH")
	sample := filepath.Join(t.TempDir(), "sample.bin")
	writePrivate(t, sample, "not really malware\n")

	// Each policy's steps run in order (a role is created before it is
	// updated, read and deleted) with a token holding that policy alone.
	// A step that exercises a capability names the policy's path block and
	// the capability; every pair the file grants must have one.
	oauth2 := p.Setups[0]
	for _, s := range p.Setups {
		if s.Provider == fakevendor.ProviderOAuth2 {
			oauth2 = s
		}
	}
	operatorConfig := append([]string{"write", "palo/config/operator-made"}, oauth2.ConfigArgs(p.Vendor)...)
	v.MustCLI(t, "write", "palo/roles/wildfire-child", "config=scm-prod")
	steps := map[string][]aclStep{
		"palo-secops": {
			{"palo/creds/wildfire", "read", []string{"read", "palo/creds/wildfire"}, 0},
			{"palo/creds/wildfire-child", "read", []string{"read", "palo/creds/wildfire-child"}, 0},
			{"palo/creds/saas", "read", []string{"read", "palo/creds/saas"}, 0},
			{"", "", []string{"read", "palo/creds/casb"}, http.StatusForbidden},
			{"", "", []string{"read", "palo/roles/wildfire"}, http.StatusForbidden},
			{"", "", []string{"read", "palo/config/scm-prod"}, http.StatusForbidden},
		},
		"palo-wildfire-reader": {
			{"palo/creds/wildfire", "read", []string{"read", "palo/creds/wildfire"}, 0},
			{"", "", []string{"read", "palo/creds/saas"}, http.StatusForbidden},
		},
		"palo-secops-role-admin": {
			{"palo/roles/secops-*", "create", []string{"write", "palo/roles/secops-child", "config=scm-prod", "tsg_id=1234567891", "ttl=600"}, 0},
			{"palo/roles/secops-*", "update", []string{"write", "palo/roles/secops-child", "min_ttl=60"}, 0},
			{"palo/roles/secops-*", "read", []string{"read", "palo/roles/secops-child"}, 0},
			{"palo/roles", "list", []string{"list", "palo/roles"}, 0},
			{"palo/creds/secops-*", "read", []string{"read", "palo/creds/secops-child"}, 0},
			{"palo/roles/secops-*", "create", []string{"write", "palo/roles/secops-temp", "config=scm-prod"}, 0},
			{"palo/roles/secops-*", "delete", []string{"delete", "palo/roles/secops-temp"}, 0},
			{"", "", []string{"write", "palo/roles/secops-casb", "config=casb-prod"}, http.StatusForbidden},
			{"", "", []string{"write", "palo/roles/secops-other", "config=scm-prod", "tsg_id=1111111111"}, http.StatusForbidden},
			{"", "", []string{"write", "palo/roles/secops-scope", "config=scm-prod", "scope=x"}, http.StatusForbidden},
			{"", "", []string{"write", "palo/roles/secops-child", "config=casb-prod"}, http.StatusForbidden},
			// Allowed by the policy; the engine refuses a role without a config.
			{"", "", []string{"write", "palo/roles/secops-noconfig", "ttl=600"}, http.StatusBadRequest},
			{"", "", []string{"write", "palo/roles/wildfire", "config=scm-prod"}, http.StatusForbidden},
			{"", "", []string{"read", "palo/roles/wildfire"}, http.StatusForbidden},
			{"", "", []string{"read", "palo/config/scm-prod"}, http.StatusForbidden},
			{"", "", []string{"read", "palo/creds/wildfire"}, http.StatusForbidden},
		},
		"palo-scm-purge": {
			{"palo/cache/purge", "update", []string{"write", "palo/cache/purge", "config=scm-prod"}, 0},
			{"palo/cache", "read", []string{"read", "palo/cache"}, 0},
			{"", "", []string{"write", "palo/cache/purge", "config=casb-prod"}, http.StatusForbidden},
			{"", "", []string{"write", "palo/cache/purge", "config=scm-prod", "role=wildfire"}, http.StatusForbidden},
			{"", "", []string{"write", "-f", "palo/cache/purge"}, http.StatusForbidden},
			{"", "", []string{"read", "palo/creds/wildfire"}, http.StatusForbidden},
		},
		"palo-operator": {
			{"palo/config/*", "create", operatorConfig, 0},
			{"palo/config/*", "update", []string{"write", "palo/config/operator-made", "request_timeout=25"}, 0},
			{"palo/config/*", "read", []string{"read", "palo/config/operator-made"}, 0},
			{"palo/config", "list", []string{"list", "palo/config"}, 0},
			{"palo/roles/*", "create", []string{"write", "palo/roles/operator-made", "config=operator-made"}, 0},
			{"palo/roles/*", "update", []string{"write", "palo/roles/operator-made", "ttl=300"}, 0},
			{"palo/roles/*", "read", []string{"read", "palo/roles/operator-made"}, 0},
			{"palo/roles", "list", []string{"list", "palo/roles"}, 0},
			{"palo/roles/*", "delete", []string{"delete", "palo/roles/operator-made"}, 0},
			{"palo/config/*", "delete", []string{"delete", "palo/config/operator-made"}, 0},
			{"palo/cache", "read", []string{"read", "palo/cache"}, 0},
			{"palo/cache/purge", "update", []string{"write", "palo/cache/purge", "config=oauth2-prod"}, 0},
			{"", "", []string{"read", "palo/creds/wildfire"}, http.StatusForbidden},
			{"", "", []string{"secrets", "disable", "palo"}, http.StatusForbidden},
			{"", "", []string{"plugin", "deregister", "secret", vaulttest.PluginName}, http.StatusForbidden},
		},
	}
	t.Run("policies", func(t *testing.T) {
		files, err := filepath.Glob(filepath.Join(recipes, "policies", "*.hcl"))
		if err != nil || len(files) != len(policies) {
			t.Fatalf("policy files %v (%v), want one per policy tested: %v", files, err, policies)
		}
		for name, file := range policies {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				assertGrantsExercised(t, filepath.Join(recipes, "policies", file), steps[name])
				for _, st := range steps[name] {
					if st.status != 0 {
						mustFail(t, v, tokens[name], st.status, st.args...)
						continue
					}
					if r := v.CLIAs(t, tokens[name], st.args...); !r.OK() {
						t.Fatalf("%s %s on %s, granted by %s:\n%s", name, st.capability, st.block, file, r)
					}
				}
			})
		}
	})
	// The role the delegated admin created works, with its own TSG.
	_, tok := token(t, p, tokens["palo-secops-role-admin"], "palo/creds/secops-child")
	if c := p.Vendor.Check(t, tok); c.Info == nil || c.Info.Scope != "tsg_id:1234567891" {
		t.Fatalf("palo/creds/secops-child gave a token for %+v, want scope tsg_id:1234567891", c.Info)
	}

	t.Run("shell recipe", func(t *testing.T) {
		t.Parallel()
		srv, seen := fakeWildFire(t)
		env := bootEnv(t, "PATH="+path, "VAULT_ADDR="+v.Addr, "VAULT_TOKEN="+tokens["palo-wildfire-reader"],
			"WILDFIRE_URL="+srv.URL)
		r := runBoot(t, env, filepath.Join(recipes, "wildfire-submit.sh"), sample)
		if r.code != 0 || !strings.Contains(r.stdout, "<upload-file-info>") {
			t.Fatal(r)
		}
		assertWildFireCall(t, p.Vendor, received(t, seen), "not really malware\n")

		// A token without the policy gets nothing, and the API no call.
		env = bootEnv(t, "PATH="+path, "VAULT_ADDR="+v.Addr, "VAULT_TOKEN="+tokens["palo-scm-purge"], "WILDFIRE_URL="+srv.URL)
		if r := runBoot(t, env, filepath.Join(recipes, "wildfire-submit.sh"), sample); r.code == 0 || !strings.Contains(r.stderr, "403") {
			t.Fatalf("the recipe with a token that may not read palo/creds/wildfire:\n%s", r)
		}
		if len(seen) != 0 {
			t.Fatal("the recipe called WildFire without a token")
		}
	})

	t.Run("agent recipe", func(t *testing.T) {
		t.Parallel()
		// The recipe folder as an application would have it.
		dir := t.TempDir()
		entries, err := os.ReadDir(filepath.Join(recipes, "agent"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(recipes, "agent", e.Name())) //nolint:gosec // G304: the repository's own recipe files
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o700); err != nil { //nolint:gosec // G306: the recipe's scripts must stay executable
				t.Fatal(err)
			}
		}

		// The operator's one-time set-up, as written, on a Vault with no
		// AppRole yet, under a permissive umask: the secret-id file must
		// still be its owner's alone.
		env := bootEnv(t, "PATH="+path, "VAULT_ADDR="+v.Addr, "VAULT_TOKEN="+v.RootToken)
		if r := runBoot(t, env, "/bin/sh", "-c", "umask 022 && exec \"$0\"", filepath.Join(dir, "approle-setup.sh")); r.code != 0 {
			t.Fatal(r)
		}
		for _, f := range []string{"role-id", "secret-id"} {
			fi, err := os.Stat(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 || fi.Size() == 0 {
				t.Fatalf("%s: mode %v, %d bytes; want a non-empty file of mode 0600", f, fi.Mode().Perm(), fi.Size())
			}
		}

		agent := vaulttest.StartProcess(t, "vault agent", v.Bin, []string{"agent", "-config=agent.hcl", "-log-level=debug"},
			bootEnv(t, "VAULT_ADDR="+v.Addr), dir, filepath.Join(t.TempDir(), "agent.log"))
		rendered := func(name string) string {
			var content string
			vaulttest.Eventually(t, agentWait, 100*time.Millisecond, "vault agent rendering out/"+name, func() error {
				if agent.Exited() {
					return fmt.Errorf("the agent exited: %s\n%s", fmt.Sprint(agent.ExitError()), agent.LogTail(40))
				}
				b, err := os.ReadFile(filepath.Join(dir, "out", name)) //nolint:gosec // G304: a file the test's agent renders
				if err != nil || len(b) == 0 {
					return fmt.Errorf("not rendered yet: %w", err)
				}
				content = string(b)
				return nil
			})
			return content
		}

		// The WildFire token file, used by the shell recipe.
		wfToken := strings.TrimSpace(rendered("wildfire-token"))
		if c := p.Vendor.Check(t, wfToken); !c.Valid {
			t.Fatalf("out/wildfire-token holds a token the fake vendor does not hold valid: %+v", c)
		}
		srv, seen := fakeWildFire(t)
		// No Vault address or token at all: the script must use the file.
		env = bootEnv(t, "PATH="+path, "WILDFIRE_TOKEN_FILE="+filepath.Join(dir, "out", "wildfire-token"), "WILDFIRE_URL="+srv.URL)
		if r := runBoot(t, env, filepath.Join(recipes, "wildfire-submit.sh"), sample); r.code != 0 {
			t.Fatal(r)
		}
		s := received(t, seen)
		assertWildFireCall(t, p.Vendor, s, "not really malware\n")
		if s.auth != "Bearer "+wfToken {
			t.Fatalf("the recipe sent %q, not the token Vault Agent rendered", s.auth)
		}

		// Oracle CASB: both headers, from the rendered curl configuration.
		rendered("casb.curlrc")
		casb := readJSON(t, v, "", "palo/creds/casb").Data
		type casbSeen struct{ path, auth, tenant string }
		casbCalls := make(chan casbSeen, 4)
		casbAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			casbCalls <- casbSeen{r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("X-Apprity-Tenant-Id")}
			_, _ = io.WriteString(w, `{"items":[]}`)
		}))
		defer casbAPI.Close()
		env = bootEnv(t, "CASB_URL="+casbAPI.URL)
		r := runBoot(t, env, filepath.Join(dir, "casb-get.sh"), "/api/v1/example")
		if r.code != 0 || strings.TrimSpace(r.stdout) != `{"items":[]}` {
			t.Fatal(r)
		}
		c := received(t, casbCalls)
		tok, ok := strings.CutPrefix(c.auth, "Bearer ")
		if c.path != "/api/v1/example" || !ok || c.tenant != str(t, casb, "tenant_id") {
			t.Fatalf("Oracle CASB got %+v, want /api/v1/example with Bearer and X-Apprity-Tenant-Id %s", c, str(t, casb, "tenant_id"))
		}
		if check := p.Vendor.Check(t, tok); !check.Valid || check.Info == nil || check.Info.Provider != fakevendor.ProviderOracleCASB {
			t.Fatalf("Oracle CASB got a token the fake vendor does not hold as a valid CASB token: %+v", check)
		}
	})
}

// aclStep is one request made with a recipe policy's token: block and
// capability name what the policy grants that the request exercises (empty
// for a request the policy must refuse), status is 0 for a success or the
// HTTP status of the expected failure.
type aclStep struct {
	block, capability string
	args              []string
	status            int
}

var (
	policyPathRe = regexp.MustCompile(`(?s)path "([^"]+)" \{(.*?)\n\}`)
	policyCapsRe = regexp.MustCompile(`capabilities\s*=\s*\[([^\]]*)\]`)
)

// assertGrantsExercised fails unless a successful step exercises every
// capability of every path block of the policy file.
func assertGrantsExercised(t *testing.T, file string, steps []aclStep) {
	t.Helper()
	b, err := os.ReadFile(file) //nolint:gosec // G304: the repository's own recipe files
	if err != nil {
		t.Fatal(err)
	}
	exercised := map[string]bool{}
	for _, st := range steps {
		if st.status == 0 {
			exercised[st.block+" "+st.capability] = true
		}
	}
	blocks := policyPathRe.FindAllStringSubmatch(string(b), -1)
	if len(blocks) == 0 {
		t.Fatalf("%s: no path blocks found", file)
	}
	for _, m := range blocks {
		caps := policyCapsRe.FindStringSubmatch(m[2])
		if caps == nil {
			t.Fatalf("%s: path %q has no capabilities", file, m[1])
		}
		for _, c := range strings.Split(caps[1], ",") {
			c = strings.Trim(strings.TrimSpace(c), `"`)
			if !exercised[m[1]+" "+c] {
				t.Errorf("%s grants %s on %q, and no step exercises it", file, c, m[1])
			}
		}
	}
}
