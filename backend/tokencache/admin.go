package tokencache

import (
	"cmp"
	"slices"
	"time"
)

// EntryInfo describes one cache entry for operators. It never holds the
// token or the Key (which may be derived from credentials).
type EntryInfo struct {
	Config string
	Roles  []string // roles that read this entry, sorted
	Scope  string

	// IssuedAt and ExpiresAt are those of the cached token; zero when the
	// entry holds none (only the record of a failed fetch).
	IssuedAt  time.Time
	ExpiresAt time.Time

	// Counts are the entry's reads, fetches and HTTP requests (Hits,
	// VendorCalls and HTTPRequests sum them up), since it was created. An
	// entry purged or swept leaves them to its config (Cache.Counts).
	Counts      Counts
	LastError   string // the latest failed fetch's error; "" if none
	LastErrorAt time.Time
	// FailFastUntil is the end of the current credential-failure replay;
	// zero when there is none.
	FailFastUntil time.Time
	// Warnings name the roles whose min_ttl the cached token's lifetime
	// cannot meet, and what is done instead.
	Warnings []string
}

// Entries lists the cache, one row per entry, sorted by config, scope,
// roles and then a hidden per-key order, so the listing is deterministic.
func (c *Cache) Entries() []EntryInfo {
	type row struct {
		key  Key
		info EntryInfo
	}
	now := c.now()
	c.mu.RLock()
	rows := make([]row, 0, len(c.entries))
	for k, e := range c.entries {
		info := EntryInfo{
			Config:      e.config,
			Roles:       make([]string, len(e.roles)),
			Scope:       e.scope,
			LastError:   e.lastErr,
			LastErrorAt: e.lastErrAt,
		}
		e.counts.snapshot(&info.Counts)
		for i, r := range e.roles {
			info.Roles[i] = r.role
		}
		if e.hasToken {
			info.IssuedAt, info.ExpiresAt = e.token.IssuedAt, e.token.ExpiresAt
			life := e.token.Lifetime()
			for _, r := range e.roles {
				if _, unmet := threshold(r.minTTL, life); unmet {
					info.Warnings = append(info.Warnings, unmetWarning(e.config, r.role, r.minTTL, life))
				}
			}
		}
		if now.Before(e.failUntil) {
			info.FailFastUntil = e.failUntil
		}
		rows = append(rows, row{key: k, info: info})
	}
	c.mu.RUnlock()

	slices.SortFunc(rows, func(a, b row) int {
		return cmp.Or(
			cmp.Compare(a.info.Config, b.info.Config),
			cmp.Compare(a.info.Scope, b.info.Scope),
			slices.Compare(a.info.Roles, b.info.Roles),
			cmp.Compare(a.key, b.key),
		)
	})
	out := make([]EntryInfo, len(rows))
	for i, r := range rows {
		out[i] = r.info
	}
	return out
}

// PurgeConfig drops every entry of the named config, with any credential
// failure being replayed for it, and returns how many were dropped.
func (c *Cache) PurgeConfig(name string) int {
	return c.purge(func(e *entry) bool { return e.config == name })
}

// PurgeRole drops every entry the named role has read (other roles sharing
// such an entry fetch a new token on their next read) and returns how many
// were dropped.
func (c *Cache) PurgeRole(name string) int {
	return c.purge(func(e *entry) bool { return e.hasRole(name) })
}

// PurgeAll drops every entry and returns how many were dropped.
func (c *Cache) PurgeAll() int {
	return c.purge(func(*entry) bool { return true })
}

// purgeMark names the token of a config and scope, across the keys (config
// versions) it has had.
type purgeMark struct{ config, scope string }

// purge drops the entries that match, leaving their counts to their
// configs. A fetch in flight for one of them completes for the readers
// already waiting on it but stores nothing (its counts go to the config),
// and readers arriving after the purge do not join it: they start a new
// fetch.
func (c *Cache) purge(match func(*entry) bool) int {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, e := range c.entries {
		if match(e) {
			delete(c.entries, k)
			c.retireLocked(e)
			if e.hasToken {
				c.purged[purgeMark{config: e.config, scope: e.scope}] = now
			}
			e.purged = true
			c.group.Forget(string(k))
			n++
		}
	}
	return n
}
