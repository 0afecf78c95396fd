package backend

import (
	"fmt"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
)

const (
	// maxLeaseMargin is the most a lease is shortened below the token's
	// remaining life, to absorb clock skew and the time the reader needs to
	// use the token.
	maxLeaseMargin = 30 * time.Second
	minLeaseMargin = time.Second
)

// leaseFloor is the least remaining life a token of the given lifetime must
// have to be handed out: its margin plus a one-second lease.
func leaseFloor(lifetime time.Duration) time.Duration {
	return leaseMargin(lifetime) + time.Second
}

// leaseMargin is a tenth of the token's lifetime, between one and thirty
// seconds.
func leaseMargin(lifetime time.Duration) time.Duration {
	return min(max(lifetime/10, minLeaseMargin), maxLeaseMargin)
}

// leaseTTL computes the lease for a token read now: its remaining life less
// the safety margin, in whole seconds, capped by limit (the role's ttl or
// the mount's default lease TTL; 0 for none). Vault itself caps it further
// by the mount's max lease TTL. It is never zero (Vault would read zero as
// "use the mount default") and never outlives the token: a token with too
// little life left is an error.
func leaseTTL(tok provider.Token, now time.Time, limit time.Duration) (time.Duration, error) {
	remaining := tok.ExpiresAt.Sub(now)
	ttl := (remaining - leaseMargin(tok.Lifetime())).Truncate(time.Second)
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
