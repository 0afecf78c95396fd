package tokencache

import (
	"fmt"
	"time"
)

// The rules that decide whether a token may be handed to a reader. They
// depend only on the token's lifetime, its remaining life and the reader's
// min_ttl.

const (
	maxMargin = 30 * time.Second
	minMargin = time.Second
	// minUse is the least life a reader gets beyond the margin.
	minUse = time.Second
)

// Margin is the part of a token's remaining life a reader must not count
// on, to absorb clock skew and the time the reader needs to use the token:
// a tenth of the token's lifetime, between one and thirty seconds. A lease
// or a re-read schedule built on a token ends at least Margin before it.
func Margin(lifetime time.Duration) time.Duration {
	return min(max(lifetime/10, minMargin), maxMargin)
}

// MaxMinTTL is the longest min_ttl that tokens of the given lifetime can
// meet: nine tenths of it, so that a fresh token qualifies for at least a
// tenth of its life. A longer min_ttl would make nearly every read call the
// vendor; threshold applies the default instead.
func MaxMinTTL(lifetime time.Duration) time.Duration {
	return lifetime - lifetime/10
}

// floor is the least remaining life a token of the given lifetime must have
// to be handed out at all, cached, stale or just fetched: its margin plus
// one second of use.
func floor(lifetime time.Duration) time.Duration {
	return Margin(lifetime) + minUse
}

// threshold is the least remaining life a cached token must have to be
// handed to a reader that asked for minTTL, for a token of lifetime life:
// max(minTTL, or half the lifetime when 0, floor). A min_ttl above
// MaxMinTTL cannot be met on any schedule: the default, half the lifetime,
// applies instead and unmet is true.
func threshold(minTTL, life time.Duration) (thr time.Duration, unmet bool) {
	least := minTTL
	if least <= 0 || minTTL > MaxMinTTL(life) {
		unmet = minTTL > 0
		least = life / 2
	}
	return max(least, floor(life)), unmet
}

// unmetWarning tells the reader, and the operator in Entries, that a role's
// min_ttl cannot be met by the config's tokens and what is done instead.
func unmetWarning(config, role string, minTTL, lifetime time.Duration) string {
	return fmt.Sprintf("min_ttl %s of role %q cannot be met: the tokens of config %q live %s; "+
		"tokens are handed out while they have at least half their lifetime (%s) left instead, "+
		"so the vendor is called once per half lifetime, not on every read; use a min_ttl of at most %s",
		minTTL, role, config, lifetime.Truncate(time.Second), (lifetime / 2).Truncate(time.Second),
		MaxMinTTL(lifetime).Truncate(time.Second))
}
