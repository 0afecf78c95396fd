package backend

import (
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testclock"
)

// TestMountTTLsFollowATuneWithinASecond reads creds of a role without a
// ttl while the mount's default lease TTL is tuned: reads do not ask Vault
// for it while the copy is under a second old, and the first read a second
// after a tune has a lease that follows it.
func TestMountTTLsFollowATuneWithinASecond(t *testing.T) {
	t.Parallel()
	sys := newSystemView()
	sys.tune(10*time.Minute, time.Hour)
	e := newTestEnvOn(t, sys)
	clock := testclock.New(time.Now())
	e.b.now = clock.Now
	e.writeSCM()
	lease := func() time.Duration {
		t.Helper()
		return e.mustOK(logical.ReadOperation, "creds/wf", nil).Secret.TTL
	}

	if got := lease(); got != 10*time.Minute {
		t.Fatalf("lease %s, want the mount default 10m", got)
	}
	asked := sys.asked.Load()
	for range 50 {
		lease()
	}
	if n := sys.asked.Load() - asked; n != 0 {
		t.Errorf("50 reads within a second asked Vault for the mount TTLs %d times, want 0", n)
	}

	sys.tune(5*time.Minute, time.Hour) // vault secrets tune -default-lease-ttl=5m
	clock.Advance(mountTTLMaxAge - time.Millisecond)
	if got := lease(); got != 10*time.Minute {
		t.Errorf("lease %s before the copy is a second old, want the old default 10m", got)
	}
	clock.Advance(time.Millisecond)
	if got := lease(); got != 5*time.Minute {
		t.Errorf("lease %s a second after the tune, want the new default 5m", got)
	}

	sys.tune(5*time.Minute, 2*time.Minute) // -max-lease-ttl=2m
	clock.Advance(mountTTLMaxAge)
	if got := lease(); got != 2*time.Minute {
		t.Errorf("lease %s a second after tuning the max to 2m", got)
	}
}

// TestMountTTLsNotKeptWhenVaultCannotBeAsked: a system view that answers
// zero (the gRPC call to Vault failed) is asked again on the next read.
func TestMountTTLsNotKeptWhenVaultCannotBeAsked(t *testing.T) {
	t.Parallel()
	sys := newSystemView()
	sys.tune(0, 0)
	b, _ := newTestBackendOn(t, nil, sys)
	if m := b.mountTTLs(); m.def != 0 || m.max != 0 {
		t.Fatalf("mountTTLs = %+v", m)
	}
	sys.tune(time.Minute, time.Hour)
	if m := b.mountTTLs(); m.def != time.Minute || m.max != time.Hour {
		t.Fatalf("mountTTLs after Vault answers = %+v, want 1m and 1h", m)
	}
}

// TestLeaseLimit is every bound a lease gets, which lease=false's ttl
// follows too.
func TestLeaseLimit(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		roleTTL, def, max, want time.Duration
	}{
		"mount default":             {def: 10 * time.Minute, max: time.Hour, want: 10 * time.Minute},
		"role ttl":                  {roleTTL: 5 * time.Minute, def: 10 * time.Minute, max: time.Hour, want: 5 * time.Minute},
		"mount max under default":   {def: 10 * time.Minute, max: time.Minute, want: time.Minute},
		"mount max under role ttl":  {roleTTL: 5 * time.Minute, def: 10 * time.Minute, max: time.Minute, want: time.Minute},
		"Vault could not be asked":  {want: 0},
		"role ttl, Vault not asked": {roleTTL: 5 * time.Minute, want: 5 * time.Minute},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := leaseLimit(&roleEntry{TTL: tc.roleTTL}, mountTTLs{def: tc.def, max: tc.max})
			if got != tc.want {
				t.Errorf("leaseLimit = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestUnleasedTTLFollowsTheMountMax: lease=false's ttl is what the lease
// would have been less a second, with the mount's max lease TTL applied
// as Vault applies it to leases.
func TestUnleasedTTLFollowsTheMountMax(t *testing.T) {
	t.Parallel()
	sys := newSystemView()
	sys.tune(12*time.Hour, 60*time.Second) // vault secrets tune -max-lease-ttl=60s
	e := newTestEnvOn(t, sys)
	e.mustOK(logical.UpdateOperation, "config/scm", e.demoConfig("paloalto_scm"))
	e.mustOK(logical.UpdateOperation, "roles/nl", map[string]any{"config": "scm", "lease": false})
	e.mustOK(logical.UpdateOperation, "roles/nl-ttl", map[string]any{"config": "scm", "lease": false, "ttl": "10m"})
	e.mustOK(logical.UpdateOperation, "roles/leased", map[string]any{"config": "scm"})
	for _, role := range []string{"nl", "nl-ttl"} {
		if ttl := e.mustOK(logical.ReadOperation, "creds/"+role, nil).Data["ttl"]; ttl != int64(59) {
			t.Errorf("creds/%s ttl = %v under a 60s mount max, want 59", role, ttl)
		}
	}
	if lease := e.mustOK(logical.ReadOperation, "creds/leased", nil).Secret.TTL; lease != 60*time.Second {
		t.Errorf("leased read: lease %s, want the 60s mount max", lease)
	}
}
