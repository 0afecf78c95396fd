package vaulttest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vault-palo/vault-plugin-secrets-palo/bootstrap/configure"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/demo"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
)

// VendorSetup is one fake vendor account as a config and a role of the
// engine.
type VendorSetup struct {
	Provider string
	// Config and Role are the config and role names.
	Config, Role string
	// Fields are the config's fields, secrets included; ca_cert is added
	// when written.
	Fields map[string]string
	// Account is the fake vendor account the config logs into.
	Account fakevendor.Account
}

// StandardNames are the config and role names of each provider in the
// tests, the demo and the docs (package demo).
var StandardNames = demo.Names

// VendorSetups returns a setup with the standard names for each account
// (the demo accounts if accounts is nil), pointing at fv. Give at most one
// account per provider.
func VendorSetups(t testing.TB, fv *FakeVendor, accounts []fakevendor.Account) []VendorSetup {
	t.Helper()
	if accounts == nil {
		accounts = fakevendor.DemoAccounts()
	}
	seen := map[string]bool{}
	setups := make([]VendorSetup, 0, len(accounts))
	for _, a := range accounts {
		if seen[a.Provider] {
			t.Fatalf("vaulttest: VendorSetups: two accounts of %s", a.Provider)
		}
		seen[a.Provider] = true
		names, ok := StandardNames[a.Provider]
		if !ok {
			t.Fatalf("vaulttest: VendorSetups: unknown provider %q", a.Provider)
		}
		setups = append(setups, VendorSetup{
			Provider: a.Provider,
			Config:   names.Config,
			Role:     names.Role,
			Fields:   demo.Fields(a, fv.TokenURL(a.Provider)),
			Account:  a,
		})
	}
	return setups
}

// ConfigArgs are the key=value arguments of `vault write <mount>/config/...`
// for the setup, with ca_cert read from the fake vendor's CA file.
func (v VendorSetup) ConfigArgs(fv *FakeVendor) []string {
	args := make([]string, 0, len(v.Fields)+1)
	for k, val := range v.Fields {
		args = append(args, k+"="+val)
	}
	return append(args, "ca_cert=@"+fv.CAFile)
}

// WriteSetup writes the setup's config and role under mount with the
// configure package, as palo-configure writes a declarative file.
func (s *Server) WriteSetup(t testing.TB, mount string, fv *FakeVendor, v VendorSetup) {
	t.Helper()
	config := map[string]any{"ca_cert": string(fv.CAPEM)}
	for k, val := range v.Fields {
		config[k] = val
	}
	objs := &configure.Objects{
		Configs: map[string]map[string]any{v.Config: config},
		Roles:   map[string]map[string]any{v.Role: {"config": v.Config}},
	}
	if err := configure.Apply(context.Background(), s.Client(t), configure.Options{Mount: mount}, objs, logWriter{t}); err != nil {
		t.Fatalf("vaulttest: write the %s setup under %s: %v", v.Provider, mount, err)
	}
}

// MountPalo registers the plugin under test (with its sha256 and version)
// and enables it at mount, pinned to that version, with the configure
// package as palo-configure does.
func (s *Server) MountPalo(t testing.TB, b Binaries, mount string) {
	t.Helper()
	o := b.PaloPlugin().options(s)
	o.Mount = mount
	if err := configure.Run(context.Background(), s.Client(t), o, logWriter{t}, logWriter{t}); err != nil {
		t.Fatalf("vaulttest: mount the plugin at %s: %v", mount, err)
	}
}

// PaloOptions configure NewPalo. The zero value is a good default.
type PaloOptions struct {
	Dev        DevOptions
	FakeVendor FakeVendorOptions
	// Mount is where the engine is enabled ("palo" by default).
	Mount string
	// NoSetups leaves the mount empty: no configs, no roles.
	NoSetups bool
}

// Palo is the whole real path of one test: the fake vendor, a dev Vault
// with the plugin registered and mounted, and one config and role per
// fake vendor account.
type Palo struct {
	Bins   Binaries
	Vault  *Server
	Vendor *FakeVendor
	Mount  string
	Setups []VendorSetup
}

// NewPalo starts the fake vendor and a dev Vault, registers and mounts the
// plugin, and writes a config and role per account (see VendorSetups).
// Everything is stopped in t.Cleanup.
func NewPalo(t testing.TB, o PaloOptions) *Palo {
	t.Helper()
	if o.Mount == "" {
		o.Mount = "palo"
	}
	p := &Palo{Bins: LoadBinaries(t), Mount: o.Mount}
	p.Vendor = StartFakeVendor(t, p.Bins.FakeVendor, o.FakeVendor)
	p.Vault = StartDev(t, p.Bins.Vault, o.Dev)
	p.Vault.MountPalo(t, p.Bins, o.Mount)
	if !o.NoSetups {
		p.Setups = VendorSetups(t, p.Vendor, o.FakeVendor.Accounts)
		for _, v := range p.Setups {
			p.Vault.WriteSetup(t, o.Mount, p.Vendor, v)
		}
	}
	return p
}

// Setup returns the setup of provider, failing the test if there is none.
func (p *Palo) Setup(t testing.TB, provider string) VendorSetup {
	t.Helper()
	for _, v := range p.Setups {
		if v.Provider == provider {
			return v
		}
	}
	t.Fatalf("vaulttest: no setup for provider %q", provider)
	return VendorSetup{}
}

// Path joins the mount and a path below it: p.Path("creds", "wildfire") is
// "palo/creds/wildfire".
func (p *Palo) Path(parts ...string) string {
	return fmt.Sprintf("%s/%s", p.Mount, strings.Join(parts, "/"))
}
