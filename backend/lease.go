package backend

import (
	"fmt"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/backend/tokencache"
)

// mountTTLMaxAge is how long the mount's default and max lease TTL, as read
// from Vault, are used before they are read again: a `vault secrets tune`
// of either takes effect on the reads that start at most this long after
// it. Reading them is a round trip to Vault, which a cached read would
// otherwise pay every time.
const mountTTLMaxAge = time.Second

// mountTTLs is the mount's default and max lease TTL as Vault reported them
// at a time on the backend's clock.
type mountTTLs struct {
	def, max time.Duration
	at       time.Time
}

// mountTTLs returns the mount's lease TTLs, read from Vault when the copy
// is older than mountTTLMaxAge (or from the future, after a clock step).
// Concurrent readers share one read; none holds a lock across it. A read
// that answers zero (Vault could not be asked) is not kept, so the next
// reader asks again.
func (b *paloBackend) mountTTLs() mountTTLs {
	now := b.now()
	if t := b.ttls.Load(); t != nil && now.Sub(t.at) < mountTTLMaxAge && !now.Before(t.at) {
		return *t
	}
	v, _, _ := b.ttlGroup.Do("", func() (any, error) {
		// The time is taken before asking, so a tune made before it is
		// in what Vault answers.
		t := &mountTTLs{at: b.now()}
		sys := b.System()
		t.def, t.max = sys.DefaultLeaseTTL(), sys.MaxLeaseTTL()
		if t.def > 0 && t.max > 0 {
			b.ttls.Store(t)
		}
		return t, nil
	})
	return *v.(*mountTTLs)
}

// leaseLimit is the most a lease on a creds read of role may last, as Vault
// would bound it: the role's ttl or, without one, the mount's default lease
// TTL, and never more than the mount's max lease TTL. 0 means no bound
// (Vault could not be asked and the role has no ttl).
func leaseLimit(role *roleEntry, m mountTTLs) time.Duration {
	limit := role.TTL
	if limit <= 0 {
		limit = m.def
	}
	if m.max > 0 && (limit <= 0 || limit > m.max) {
		limit = m.max
	}
	return limit
}

// leaseTTL computes the lease for a token read now: its remaining life less
// the token's margin (tokencache.Margin), in whole seconds, capped by limit
// (see leaseLimit; 0 for none). It is never zero (Vault would read zero as
// "use the mount default") and never outlives the token: a token with too
// little life left is an error.
func leaseTTL(tok provider.Token, now time.Time, limit time.Duration) (time.Duration, error) {
	remaining := tok.ExpiresAt.Sub(now)
	ttl := (remaining - tokencache.Margin(tok.Lifetime())).Truncate(time.Second)
	if limit > 0 && ttl > limit {
		ttl = limit
	}
	if ttl < time.Second {
		return 0, fmt.Errorf("the vendor's token has %s of life left (lifetime %s), too little to lease safely",
			remaining.Truncate(time.Millisecond), tok.Lifetime().Truncate(time.Millisecond))
	}
	return ttl, nil
}

// lifetimeWarnings says when a token's lifetime is an assumption rather than
// the vendor's word: none was given (default_token_ttl applies), or an
// implausibly long one was cut to provider.MaxLifetime.
func lifetimeWarnings(tok provider.Token, config string, defaultTTL time.Duration) []string {
	var w []string
	if tok.LifetimeDefaulted {
		w = append(w, fmt.Sprintf("the vendor's token response carried no lifetime; the token is assumed to live %s (default_token_ttl of config %q)", defaultTTL, config))
	}
	if tok.LifetimeClamped {
		w = append(w, fmt.Sprintf("the vendor's token lifetime is over %s; it is treated as %s (config %q)", provider.MaxLifetime, provider.MaxLifetime, config))
	}
	return w
}
