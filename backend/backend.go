// Package backend is the Vault-facing secrets engine: the config/, roles/,
// creds/ and cache paths, their help text, storage and leases.
//
// Below it, backend/tokencache shares one token per distinct vendor login
// among all readers, and backend/provider speaks the vendors' protocols.
package backend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/helper/locksutil"
	"github.com/hashicorp/vault/sdk/logical"
	"golang.org/x/sync/singleflight"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/backend/tokencache"
)

// Version is the plugin's version, stamped at build time with
// -ldflags "-X github.com/vault-palo/vault-plugin-secrets-palo/backend.Version=v1.2.3".
// Vault shows it in `vault plugin list` and `vault secrets list -detailed`, and
// `vault plugin register -version=...` must name the same value.
var Version = "v0.0.0-dev"

// refreshInterval is how often the background refresher looks for tokens
// that are about to stop qualifying.
const refreshInterval = 2 * time.Second

// paloBackend is the secrets engine. Stored configs and roles are cached in
// memory (parsed, with their HTTP clients) and dropped on every write and on
// Invalidate, so the read path normally touches no storage.
type paloBackend struct {
	*framework.Backend

	cache   *tokencache.Cache
	metrics *metrics
	// transports shares HTTP connection pools among the configs of the
	// same CA bundle and proxy.
	transports provider.Transports

	// ttls is the mount's lease TTLs as last read from Vault, and ttlGroup
	// shares one read among concurrent readers (see mountTTLs).
	ttls     atomic.Pointer[mountTTLs]
	ttlGroup singleflight.Group

	// configLocks and roleLocks hold one lock per name across each
	// read-modify-write of a config or a role, so concurrent partial
	// updates of one object cannot lose each other's fields.
	configLocks []*locksutil.LockEntry
	roleLocks   []*locksutil.LockEntry

	// writeMu serialises the storage side of config and role writes and
	// deletes, so that "a config in use cannot be deleted" and "a role's
	// config must exist" hold. It is never held across a vendor call.
	writeMu sync.Mutex

	// rotations holds the rotation running for each config on this
	// instance, if any; runs counts them, so that clean can wait for them
	// after runsCtx ends them. stopped refuses new runs once clean began.
	rotations map[string]*rotationRun
	runs      sync.WaitGroup
	runsCtx   context.Context
	stopRuns  context.CancelFunc
	stopped   bool
	// instance names this instance of the mount in the rotation claims it
	// stores, so that a claim holds across a plugin reload or a failover.
	instance string
	// scheduled is when each config's schedule next rotates it.
	scheduled scheduleIndex

	mu      sync.RWMutex
	configs map[string]*liveConfig
	roles   map[string]*roleState
	// gen counts forgets; a storage load that raced with one is used once
	// but not remembered.
	gen uint64

	stopRefresh context.CancelFunc
	refreshDone chan struct{}

	// now is the clock; tests replace it.
	now func() time.Time
}

// Factory creates and sets up the backend. It is what main.go serves.
func Factory(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	b := newBackend()
	if err := b.Setup(ctx, conf); err != nil {
		return nil, err
	}
	b.cache = tokencache.New(tokencache.Options{Now: b.now, Logger: b.Logger().Named("tokencache"), RequestBuckets: requestBuckets})
	b.metrics = newMetrics(b.cache, b.now)
	b.startRefresher()
	return b, nil
}

func newBackend() *paloBackend {
	runsCtx, stopRuns := context.WithCancel(context.Background())
	b := &paloBackend{
		runsCtx:     runsCtx,
		stopRuns:    stopRuns,
		instance:    newInstanceID(),
		configLocks: locksutil.CreateLocks(),
		roleLocks:   locksutil.CreateLocks(),
		configs:     make(map[string]*liveConfig),
		roles:       make(map[string]*roleState),
		rotations:   make(map[string]*rotationRun),
		now:         time.Now,
	}
	b.Backend = &framework.Backend{
		Help:        strings.TrimSpace(backendHelp),
		BackendType: logical.TypeLogical,
		// Paths are matched in order: the most specific patterns come first.
		Paths: framework.PathAppend(
			[]*framework.Path{pathCachePurge(b), pathCache(b), pathMetrics(b), pathRotateRoot(b), pathConfigJWKS(b), pathJWKS(b)},
			pathConfig(b),
			pathRoles(b),
			[]*framework.Path{pathCreds(b)},
		),
		PathsSpecial: &logical.Paths{
			// Vendor credentials and the roles bound to them are stored
			// seal-wrapped where the seal supports it.
			// The rotation record holds a bearer token while a reset is
			// pending.
			SealWrapStorage: []string{configStoragePrefix, roleStoragePrefix, rotationStoragePrefix},
			// A private_key_jwt config's public keys, for a server's
			// jwks_uri, which fetches them without a Vault token.
			Unauthenticated: []string{jwksPrefix + "*"},
		},
		Secrets:        []*framework.Secret{secretToken(b)},
		InitializeFunc: b.initialize,
		Invalidate:     b.invalidate,
		Clean:          b.clean,
		PeriodicFunc:   b.periodic,
		RunningVersion: Version,
	}
	return b
}

// startRefresher runs the token cache's background refresh until Clean. It
// refreshes only where this node may act for the cluster
// (WriteSafeReplicationState), so performance standbys and secondaries do
// not add vendor traffic.
func (b *paloBackend) startRefresher() {
	ctx, cancel := context.WithCancel(context.Background())
	b.stopRefresh = cancel
	b.refreshDone = make(chan struct{})
	go func() {
		defer close(b.refreshDone)
		t := time.NewTicker(refreshInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if b.WriteSafeReplicationState() {
					b.cache.RefreshDue(ctx)
				}
			}
		}
	}()
}

// clean stops the background refresh and every rotation running on this
// instance (a rotation stopped there is resumed by the next instance from
// its pending record), then drops what is kept in memory.
func (b *paloBackend) clean(context.Context) {
	if b.stopRefresh != nil {
		b.stopRefresh()
		<-b.refreshDone
	}
	b.mu.Lock()
	b.stopped = true
	b.mu.Unlock()
	b.stopRuns()
	b.runs.Wait()
	b.mu.Lock()
	b.configs = make(map[string]*liveConfig)
	b.roles = make(map[string]*roleState)
	b.mu.Unlock()
	if b.cache != nil {
		b.cache.PurgeAll()
	}
}

// invalidate is called on every node when a storage key of this mount
// changes elsewhere in the cluster (and on performance standbys). It drops
// the in-memory copies, and the tokens minted from them, so the very next
// read uses the new state.
func (b *paloBackend) invalidate(_ context.Context, key string) {
	switch {
	case strings.HasPrefix(key, configStoragePrefix):
		name := strings.TrimPrefix(key, configStoragePrefix)
		b.forgetConfig(name)
		b.scheduled.touch(name)
	case strings.HasPrefix(key, roleStoragePrefix):
		b.forgetRole(strings.TrimPrefix(key, roleStoragePrefix))
	}
}

// forgetConfig drops a config's parsed copy and its tokens. Its HTTP
// connection pool may be shared with other configs; it goes once unused.
func (b *paloBackend) forgetConfig(name string) {
	b.forget(func() { delete(b.configs, name) })
	b.cache.PurgeConfig(name)
}

// forgetRole drops a role's parsed copy and the tokens it was using.
func (b *paloBackend) forgetRole(name string) {
	b.forget(func() { delete(b.roles, name) })
	b.cache.PurgeRole(name)
}

// forget drops a parsed copy (drop runs under the lock) and counts it, so
// that a load that raced with it is not remembered.
func (b *paloBackend) forget(drop func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	drop()
	b.gen++
}

// newInstanceID is a random name for one instance of the mount.
func newInstanceID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

const backendHelp = `
The palo secrets engine exchanges long-lived vendor API client secrets for
short-lived bearer tokens: Palo Alto Networks SaaS Security, Palo Alto
Networks Strata Cloud Manager (WildFire, Prisma Access and the other SCM
APIs), Oracle CASB Cloud Service, Bright Pattern Contact Center, and any
OAuth2 client-credentials endpoint.

Write a vendor account to config/<name>, bind it to roles/<name>, and read
creds/<role> for a token. The secrets stay in Vault; readers get only the
token, leased for less than the token's remaining life. One token per vendor
login is shared by all readers and refreshed before it runs out, so a fleet
of readers makes one vendor call per token lifetime.

Tokens cannot be revoked at any of these vendors: revoking a lease does not
end the token, it only ends Vault's record of it.
`
