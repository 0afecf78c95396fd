//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// TestEveryProviderThroughCLI writes a config (with ca_cert=@file, the fake
// vendor's generated CA) and a role per provider with the vault CLI, reads
// creds with it, and checks the token against the fake vendor: minted for
// the right account and scope, valid, and with a lease that ends before the
// token does.
func TestEveryProviderThroughCLI(t *testing.T) {
	t.Parallel()
	p := vaulttest.NewPalo(t, vaulttest.PaloOptions{NoSetups: true})
	v := p.Vault

	// The extra data each provider's creds carry, and the scope the fake
	// records for its token.
	cases := map[string]struct {
		extra func(a fakevendor.Account) map[string]string
		scope func(a fakevendor.Account) string
	}{
		fakevendor.ProviderSaaSSecurity: {
			extra: func(a fakevendor.Account) map[string]string { return map[string]string{"tenant": a.Tenant} },
			scope: func(fakevendor.Account) string { return "api_access" },
		},
		fakevendor.ProviderSCM: {
			extra: func(a fakevendor.Account) map[string]string { return map[string]string{"tsg_id": a.TSGIDs[0]} },
			scope: func(a fakevendor.Account) string { return "tsg_id:" + a.TSGIDs[0] },
		},
		fakevendor.ProviderOracleCASB: {
			extra: func(a fakevendor.Account) map[string]string { return map[string]string{"tenant_id": a.TenantID} },
			scope: func(fakevendor.Account) string { return "" },
		},
		fakevendor.ProviderBrightPattern: {
			extra: func(fakevendor.Account) map[string]string { return nil },
			scope: func(a fakevendor.Account) string { return a.TenantHost },
		},
		fakevendor.ProviderOAuth2: {
			extra: func(fakevendor.Account) map[string]string { return nil },
			scope: func(a fakevendor.Account) string { return strings.Join(a.Scopes, " ") },
		},
	}
	setups := vaulttest.VendorSetups(t, p.Vendor, nil)
	if len(setups) != len(cases) {
		t.Fatalf("%d demo accounts, %d cases: every provider needs a case", len(setups), len(cases))
	}
	for _, s := range setups {
		tc, ok := cases[s.Provider]
		if !ok {
			t.Fatalf("no case for provider %s", s.Provider)
		}
		t.Run(s.Provider, func(t *testing.T) {
			t.Parallel()
			out := v.MustCLI(t, append([]string{"write", p.Path("config", s.Config)}, s.ConfigArgs(p.Vendor)...)...)
			if !strings.Contains(out, "Success") {
				t.Fatalf("config write printed %q", out)
			}
			v.MustCLI(t, "write", p.Path("roles", s.Role), "config="+s.Config)

			cfg := readJSON(t, v, "", p.Path("config", s.Config))
			if got := str(t, cfg.Data, "provider"); got != s.Provider {
				t.Fatalf("config provider %q, want %q", got, s.Provider)
			}
			for _, secret := range []string{"client_secret", "access_secret"} {
				if _, ok := cfg.Data[secret]; ok {
					t.Fatalf("config read returned %s", secret)
				}
			}

			before := time.Now()
			sec, at := token(t, p, "", p.Path("creds", s.Role))
			after := time.Now()

			check := p.Vendor.Check(t, at)
			info := check.Info
			if info == nil || info.Provider != s.Provider || info.Account != s.Account.ID() || info.Scope != tc.scope(s.Account) {
				t.Fatalf("the fake vendor says the token is %+v; want provider %s, account %s, scope %q",
					info, s.Provider, s.Account.ID(), tc.scope(s.Account))
			}
			if sec.LeaseID == "" || !strings.HasPrefix(sec.LeaseID, p.Path("creds", s.Role)+"/") || sec.Renewable {
				t.Fatalf("lease_id %q renewable %t; want a non-renewable lease under %s", sec.LeaseID, sec.Renewable, p.Path("creds", s.Role))
			}
			expiresIn := num(t, sec.Data, "expires_in")
			if sec.LeaseDuration < 1 || int64(sec.LeaseDuration) >= expiresIn {
				t.Fatalf("lease_duration %d, expires_in %d: want 0 < lease < expires_in", sec.LeaseDuration, expiresIn)
			}
			// The lease must end before the token does, on the vendor's own
			// clock: the latest the lease can end is the read's end plus
			// its duration.
			leaseEnd := after.Add(time.Duration(sec.LeaseDuration) * time.Second)
			if !leaseEnd.Before(info.ExpiresAt) {
				t.Fatalf("the lease may run until %s, after the token expires at %s", leaseEnd, info.ExpiresAt)
			}
			expiresAt, err := time.Parse(time.RFC3339, str(t, sec.Data, "expires_at"))
			if err != nil {
				t.Fatalf("expires_at: %v", err)
			}
			if d := expiresAt.Sub(info.ExpiresAt); d < -2*time.Second || d > 2*time.Second {
				t.Fatalf("expires_at %s, the fake says %s", expiresAt, info.ExpiresAt)
			}
			if lifetime := fakevendor.DefaultLifetime(s.Provider); expiresIn > int64(lifetime/time.Second) ||
				before.Add(time.Duration(expiresIn)*time.Second).After(info.ExpiresAt.Add(time.Second)) {
				t.Fatalf("expires_in %d is more than the token has left (lifetime %s, expires %s)", expiresIn, lifetime, info.ExpiresAt)
			}
			if got := str(t, sec.Data, "token_type"); !strings.EqualFold(got, "bearer") {
				t.Fatalf("token_type %q", got)
			}
			for k, want := range tc.extra(s.Account) {
				if got := str(t, sec.Data, k); got != want {
					t.Fatalf("data %s = %q, want %q", k, got, want)
				}
			}

			// The same read as a person types it: the table shows the token
			// and the lease.
			table := v.MustCLI(t, "read", p.Path("creds", s.Role))
			for _, want := range []string{"lease_id", "lease_duration", "access_token", "expires_at"} {
				if !strings.Contains(table, want) {
					t.Fatalf("`vault read %s` shows no %s:\n%s", p.Path("creds", s.Role), want, table)
				}
			}
			field := strings.TrimSpace(v.MustCLI(t, "read", "-field=access_token", p.Path("creds", s.Role)))
			if c := p.Vendor.Check(t, field); !c.Valid {
				t.Fatalf("`vault read -field=access_token` printed a token the fake does not hold valid: %+v", c)
			}
		})
	}
}
