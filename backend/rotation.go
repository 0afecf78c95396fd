package backend

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/helper/locksutil"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
)

// Rotation of a paloalto_scm config's client secret through the vendor's
// IAM API. One run goes through these steps, each named in its errors:
//
//	token    fetch a bearer token with the stored secret
//	find     resolve the service account (service_account_id, or the one
//	         whose client_id matches)
//	record   store a pending-reset record holding the bearer token
//	reset    reset the secret at the vendor; the answer is the only copy of
//	         the new secret
//	store    store the new secret in the config (seal-wrapped), and switch
//	         this node's fetches to it
//	clear    drop the pending-reset record
//	verify   fetch a token with the new secret (retried briefly)
//
// Before "record" nothing has changed anywhere. A refused reset (4xx) leaves
// the old secret. A reset whose outcome is unknown (no answer, 5xx, an
// unusable 2xx) is repeated with the same bearer token: whichever reset
// answers last, its secret is the one stored. If no answer arrives, or the
// store fails, or the process stops between reset and store, the pending
// record remains, and the next run (rotate-root, or the periodic check
// within a minute) repeats the reset with the saved token while it is valid.
// Only when that token has expired and the stored secret is refused is the
// secret lost to the engine; the error says so and what to do.

const (
	rotationStoragePrefix = "rotation/"

	// resetAttempts bounds the resets of one run whose outcome is unknown.
	resetAttempts = 3
	// verifyAttempts and verifyWait bound the verification fetch: the
	// vendor may need a moment to accept a new secret.
	verifyAttempts = 5
	verifyWait     = time.Second
	// storeAttempts bounds the tries to store the new secret.
	storeAttempts = 3
	// savedTokenMargin is the least life a saved bearer token must have
	// left to be used for a reset.
	savedTokenMargin = 30 * time.Second
	// retryBackoffMin and retryBackoffMax bound the wait before a failed
	// scheduled rotation is tried again; it doubles with each failure.
	retryBackoffMin = time.Minute
	retryBackoffMax = time.Hour
	// runTimeout bounds one whole run.
	runTimeout = 5 * time.Minute
)

// Rotation steps, as errors and logs name them.
const (
	stepToken   = "token"
	stepFind    = "find"
	stepRecord  = "record"
	stepReset   = "reset"
	stepStore   = "store"
	stepVerify  = "verify"
	stepRecover = "recover"
)

// rotationRecord is rotation/<name>: the state of a config's rotations
// that is not part of the config itself, so that writing it does not drop
// any node's cached tokens.
type rotationRecord struct {
	// Pending is set from before a reset until its secret is stored.
	Pending *pendingReset `json:"pending,omitempty"`
	// LastError and LastErrorAt describe the latest failed run; Failures
	// counts the failed runs since the last success or hand-written secret.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	Failures    int       `json:"failures,omitempty"`
}

// pendingReset is a reset that may have been made and whose secret is not
// stored yet.
type pendingReset struct {
	StartedAt        time.Time `json:"started_at"`
	ServiceAccountID string    `json:"service_account_id"`
	// Token is the bearer token of the reset (secret, seal-wrapped like the
	// config): with it the engine can reset again after losing an answer.
	Token          string    `json:"token"`
	TokenExpiresAt time.Time `json:"token_expires_at"`
}

// rotationRun is a rotation in progress on this node.
type rotationRun struct {
	started time.Time
	// stored is closed when the run has stored a new secret or ended;
	// readers whose fetch was refused during the run wait for it.
	stored chan struct{}
	closed bool
}

// rotationError is a failed run: the config, the step and the cause (a
// provider error naming the HTTP status and the vendor's message), and
// what the failure leaves behind.
type rotationError struct {
	config, step, state string
	err                 error
}

func (e *rotationError) Error() string {
	return fmt.Sprintf("config %q: rotate-root failed at step %q: %v; %s", e.config, e.step, e.err, e.state)
}

func (e *rotationError) Unwrap() error { return e.err }

// States a failure leaves, as the errors say them.
const (
	stateUnchanged = "the stored secret is unchanged and still in use"
	stateNoReset   = "the secret was not reset; the stored secret is unchanged and still in use"
)

// errRotationRunning refuses a second run while one is under way.
var errRotationRunning = errors.New("a rotation of this config is already running")

// rotationResult is what a successful run reports.
type rotationResult struct {
	account  provider.ServiceAccount
	at       time.Time
	warnings []string
}

// nextRotation is when the schedule next rotates c: rotation_period after
// the secret was set, or later while failures back off. Zero when c has no
// schedule.
func (c *configEntry) nextRotation(rec *rotationRecord) time.Time {
	if c.Provider != provider.PaloAltoSCM || c.RotationPeriod <= 0 || c.SecretSetAt.IsZero() {
		return time.Time{}
	}
	next := c.SecretSetAt.Add(c.RotationPeriod)
	if rec != nil && rec.Failures > 0 {
		if retry := rec.LastErrorAt.Add(retryBackoff(rec.Failures)); retry.After(next) {
			next = retry
		}
	}
	return next.UTC()
}

// retryBackoff is the wait after the n-th consecutive failure: one minute,
// doubling, at most an hour.
func retryBackoff(n int) time.Duration {
	d := retryBackoffMin
	for i := 1; i < n && d < retryBackoffMax; i++ {
		d *= 2
	}
	return min(d, retryBackoffMax)
}

func rotationStatusFields() map[string]*framework.FieldSchema {
	return map[string]*framework.FieldSchema{
		"last_vault_rotation":    {Type: framework.TypeString, Description: "When the engine last rotated the client secret (RFC 3339, UTC); empty if never."},
		"next_vault_rotation":    {Type: framework.TypeString, Description: "When the schedule next rotates the client secret (RFC 3339, UTC); empty without rotation_period."},
		"last_rotation_error":    {Type: framework.TypeString, Description: "Why the latest rotation failed, if it did; cleared by a successful rotation or a written client_secret."},
		"last_rotation_error_at": {Type: framework.TypeString, Description: "When the latest rotation failed (RFC 3339, UTC); empty if it did not."},
	}
}

// addRotationStatus adds the rotation fields of config name to a read.
func (b *paloBackend) addRotationStatus(ctx context.Context, s logical.Storage, name string, c *configEntry, data map[string]any) error {
	rec, err := readRotationRecord(ctx, s, name)
	if err != nil {
		return err
	}
	data["last_vault_rotation"] = formatTime(c.LastVaultRotation)
	data["next_vault_rotation"] = formatTime(c.nextRotation(rec))
	data["last_rotation_error"] = rec.LastError
	data["last_rotation_error_at"] = formatTime(rec.LastErrorAt)
	return nil
}

func readRotationRecord(ctx context.Context, s logical.Storage, name string) (*rotationRecord, error) {
	var rec rotationRecord
	if _, err := getJSON(ctx, s, rotationStoragePrefix+name, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// noteSecretWrite restarts the schedule when a config write names
// client_secret or creates the config, and reports whether the secret was
// written. The caller holds the config's lock.
func (c *configEntry) noteSecretWrite(req *logical.Request, existing *configEntry, now time.Time) bool {
	_, given := req.Data["client_secret"]
	if given || existing == nil || c.SecretSetAt.IsZero() {
		c.SecretSetAt = now.UTC()
	}
	return given
}

// clearRotationRecord drops a config's rotation record: after a written
// secret (which ends any pending reset and error) or a delete.
func (b *paloBackend) clearRotationRecord(ctx context.Context, s logical.Storage, name string) {
	if err := s.Delete(ctx, rotationStoragePrefix+name); err != nil {
		b.Logger().Warn("clearing the rotation record failed", "config", name, "error", err.Error())
	}
}

// fetch fetches a token for a reader with the config's current secret. A
// credential failure while a rotation of the config runs on this node (the
// vendor may have reset the old secret a moment ago) waits until the run
// has stored the new secret, or ended; then, if the secret has changed
// since the failed fetch, it tries once more with the new one.
func (cfg *liveConfig) fetch(ctx context.Context, params provider.Params) (provider.Token, error) {
	p := cfg.current(params)
	tok, err := cfg.client.Fetch(ctx, p)
	if err == nil || !provider.IsCredentialError(err) {
		return tok, err
	}
	if run := cfg.run.Load(); run != nil {
		select {
		case <-run.stored:
		case <-ctx.Done():
			return tok, err
		}
	}
	if q := cfg.current(params); q.ClientSecret != p.ClientSecret {
		return cfg.client.Fetch(ctx, q)
	}
	return tok, err
}

// current is params with the secret a rotation stored since cfg was loaded.
func (cfg *liveConfig) current(p provider.Params) provider.Params {
	if s := cfg.rotated.Load(); s != nil {
		p.ClientSecret = *s
	}
	return p
}

// startRun registers a run of config name, or reports the one running.
func (b *paloBackend) startRun(name string) (*rotationRun, *rotationRun) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if running := b.rotations[name]; running != nil {
		return nil, running
	}
	run := &rotationRun{started: b.now(), stored: make(chan struct{})}
	b.rotations[name] = run
	return run, nil
}

// release wakes the readers waiting on run.
func (b *paloBackend) release(run *rotationRun) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !run.closed {
		run.closed = true
		close(run.stored)
	}
}

func (b *paloBackend) endRun(name string, run *rotationRun) {
	b.release(run)
	b.mu.Lock()
	delete(b.rotations, name)
	b.mu.Unlock()
}

// rotate runs one rotation of config name. It returns errRotationRunning
// when one is already under way, a *rotationError when a step fails, and
// other errors for storage failures before anything changed. The caller
// has checked that the config exists and is paloalto_scm.
func (b *paloBackend) rotate(ctx context.Context, s logical.Storage, name, trigger string) (*rotationResult, error) {
	run, running := b.startRun(name)
	if run == nil {
		return nil, fmt.Errorf("%w (since %s)", errRotationRunning, formatTime(running.started))
	}
	defer b.endRun(name, run)
	// A run is not cut short by its caller going away: stopping between
	// reset and store would leave the new secret unstored.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), runTimeout)
	defer cancel()

	res, err := b.runSteps(ctx, s, name, run)
	if err != nil {
		b.metrics.observeRotation(name, provider.PaloAltoSCM, rotationFailure, b.now())
		b.noteFailure(ctx, s, name, err)
		b.Logger().Warn("vendor secret rotation failed", "config", name, "trigger", trigger, "error", err.Error())
		return nil, err
	}
	b.metrics.observeRotation(name, provider.PaloAltoSCM, rotationSuccess, b.now())
	b.Logger().Info("vendor secret rotated", "config", name, "trigger", trigger,
		"service_account_id", res.account.ID, "service_account", res.account.Name)
	return res, nil
}

// runSteps is the state machine described at the top of this file.
func (b *paloBackend) runSteps(ctx context.Context, s logical.Storage, name string, run *rotationRun) (*rotationResult, error) {
	fail := func(step, state string, err error) error {
		return &rotationError{config: name, step: step, state: state, err: err}
	}
	entry, err := readConfigEntry(ctx, s, name)
	if err != nil {
		return nil, err
	}
	if entry == nil {
		return nil, fail(stepToken, "nothing was changed", errors.New("the config was deleted"))
	}
	rec, err := readRotationRecord(ctx, s, name)
	if err != nil {
		return nil, err
	}
	cfg, err := b.liveConfig(ctx, s, name)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, fail(stepToken, "nothing was changed", errors.New("the config was deleted"))
	}
	// Readers of this config whose fetch is refused mid-run wait for it.
	cfg.run.Store(run)
	defer cfg.run.CompareAndSwap(run, nil)
	iam := provider.IAMRequest{BaseURL: entry.IAMURL, ClientID: entry.ClientID, ClientSecret: entry.ClientSecret}
	pending, resumed, err := b.prepareReset(ctx, s, cfg, entry, rec, iam)
	if err != nil {
		return nil, err
	}
	iam.Token = pending.Token

	account, secret, err := b.reset(ctx, cfg, iam, pending.ServiceAccountID)
	if err != nil {
		if resumed || provider.ResetMayHaveHappened(err) {
			// A refusal of a repeated reset says nothing about the
			// earlier one, whose outcome stays unknown.
			return nil, fail(stepReset, fmt.Sprintf("whether the vendor reset the secret (at %s or now) is unknown. The stored secret is unchanged; the engine "+
				"repeats the reset with its saved token (valid until %s) on the next rotate-root or within a minute (periodic check)",
				formatTime(pending.StartedAt), formatTime(pending.TokenExpiresAt)), err)
		}
		rec.Pending = nil
		if perr := b.putRotationRecord(ctx, s, name, rec); perr != nil {
			b.Logger().Warn("clearing the pending-reset record failed", "config", name, "error", perr.Error())
		}
		return nil, fail(stepReset, stateNoReset, err)
	}
	if account.ID == "" {
		account.ID = pending.ServiceAccountID
	}

	at, err := b.storeRotatedSecret(ctx, s, name, secret)
	if err != nil {
		return nil, fail(stepStore, fmt.Sprintf("the vendor reset the secret but the new one could not be stored; the engine resets again "+
			"with its saved token (valid until %s) on the next rotate-root or within a minute (periodic check)", formatTime(pending.TokenExpiresAt)), err)
	}
	b.useRotatedSecret(name, secret)
	b.release(run)

	res := &rotationResult{account: account, at: at}
	if err := b.putRotationRecord(ctx, s, name, &rotationRecord{}); err != nil {
		// The record is recognised as a leftover by its start time.
		res.warnings = append(res.warnings, "the pending-reset record could not be cleared; the next run drops it")
		b.Logger().Warn("clearing the pending-reset record failed", "config", name, "error", err.Error())
	}

	if err := b.verify(ctx, cfg, entry.params(nil), secret); err != nil {
		return nil, fail(stepVerify, "the new secret is stored and used, but the vendor has not accepted it yet", err)
	}
	return res, nil
}

// prepareReset returns the reset to make: the pending one, repeated with
// its saved token while that is valid (resumed), or a new one (steps token,
// find and record).
func (b *paloBackend) prepareReset(ctx context.Context, s logical.Storage, cfg *liveConfig, entry *configEntry,
	rec *rotationRecord, iam provider.IAMRequest,
) (pending *pendingReset, resumed bool, err error) {
	fail := func(step, state string, err error) (*pendingReset, bool, error) {
		return nil, false, &rotationError{config: cfg.name, step: step, state: state, err: err}
	}
	pending = rec.Pending
	if pending != nil && entry.SecretSetAt.After(pending.StartedAt) {
		pending = nil // its secret, or one written by hand, is stored: a leftover
	}
	if pending != nil && pending.TokenExpiresAt.Sub(b.now()) >= savedTokenMargin {
		b.Logger().Info("repeating a reset whose outcome is unknown", "config", cfg.name,
			"started_at", formatTime(pending.StartedAt), "service_account_id", pending.ServiceAccountID)
		return pending, true, nil
	}

	tok, err := b.bearerToken(ctx, cfg, entry)
	switch {
	case err != nil && pending != nil && provider.IsCredentialError(err):
		return fail(stepRecover, fmt.Sprintf("a reset begun at %s may have replaced the secret at the vendor, and its answer was lost; "+
			"the token saved to repeat it expired at %s and the vendor refuses the stored secret. Reset the service account's "+
			"secret at the vendor and write it to config/%s with client_secret=...", formatTime(pending.StartedAt), formatTime(pending.TokenExpiresAt), cfg.name), err)
	case err != nil:
		return fail(stepToken, stateUnchanged, err)
	}
	// With a pending reset whose token expired, a working stored secret
	// means the reset did not happen (or the old secret is still
	// honoured): a new reset makes the secret known again.
	iam.Token = tok.AccessToken
	sa, err := b.findServiceAccount(ctx, cfg, entry, iam)
	if err != nil {
		return fail(stepFind, stateUnchanged, err)
	}
	pending = &pendingReset{StartedAt: b.now().UTC(), ServiceAccountID: sa, Token: tok.AccessToken, TokenExpiresAt: tok.ExpiresAt.UTC()}
	rec.Pending = pending
	if err := b.putRotationRecord(ctx, s, cfg.name, rec); err != nil {
		return fail(stepRecord, stateNoReset, err)
	}
	return pending, false, nil
}

// bearerToken fetches a token for the IAM API with the stored secret,
// scoped to the service account's own TSG (read from its client id), or to
// the config's tsg_id.
func (b *paloBackend) bearerToken(ctx context.Context, cfg *liveConfig, entry *configEntry) (provider.Token, error) {
	p := cfg.current(entry.params(nil))
	if tsg, ok := provider.ServiceAccountTSG(entry.ClientID); ok {
		p.TSGID = tsg
	}
	ctx, cancel := context.WithTimeout(ctx, entry.RequestTimeout)
	defer cancel()
	return cfg.client.Fetch(ctx, p)
}

// findServiceAccount returns service_account_id, or the id of the one
// service account whose client_id is the config's.
func (b *paloBackend) findServiceAccount(ctx context.Context, cfg *liveConfig, entry *configEntry, iam provider.IAMRequest) (string, error) {
	if entry.ServiceAccountID != "" {
		return entry.ServiceAccountID, nil
	}
	ctx, cancel := context.WithTimeout(ctx, entry.RequestTimeout)
	defer cancel()
	list, err := cfg.client.ListServiceAccounts(ctx, iam)
	if err != nil {
		return "", err
	}
	var ids []string
	for _, sa := range list {
		if sa.ClientID == entry.ClientID && sa.ID != "" {
			ids = append(ids, sa.ID)
		}
	}
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("none of the %d service accounts the token may see has client_id %q; set service_account_id", len(list), entry.ClientID)
	case 1:
		return ids[0], nil
	default:
		return "", fmt.Errorf("%d service accounts have client_id %q (%s); set service_account_id", len(ids), entry.ClientID, strings.Join(ids, ", "))
	}
}

// reset resets the secret, repeating a reset whose outcome is unknown with
// the same token, up to resetAttempts times.
func (b *paloBackend) reset(ctx context.Context, cfg *liveConfig, iam provider.IAMRequest, id string) (provider.ServiceAccount, string, error) {
	var err error
	for attempt := 1; ; attempt++ {
		var (
			sa     provider.ServiceAccount
			secret string
		)
		rctx, cancel := context.WithTimeout(ctx, cfg.entry.RequestTimeout)
		sa, secret, err = cfg.client.ResetSecret(rctx, iam, id)
		cancel()
		if err == nil || !provider.ResetMayHaveHappened(err) || attempt == resetAttempts {
			return sa, secret, err
		}
		b.Logger().Warn("the outcome of a secret reset is unknown; repeating it", "config", cfg.name, "attempt", attempt, "error", err.Error())
		select {
		case <-time.After(time.Duration(attempt) * time.Second):
		case <-ctx.Done():
			return sa, secret, err
		}
	}
}

// storeRotatedSecret writes the new secret into the stored config, keeping
// everything else as it is stored now.
func (b *paloBackend) storeRotatedSecret(ctx context.Context, s logical.Storage, name, secret string) (time.Time, error) {
	lock := locksutil.LockForKey(b.configLocks, name)
	lock.Lock()
	defer lock.Unlock()
	var err error
	for range storeAttempts {
		var entry *configEntry
		entry, err = readConfigEntry(ctx, s, name)
		if err == nil && entry == nil {
			return time.Time{}, errors.New("the config was deleted during the rotation; the new secret is discarded")
		}
		if err != nil {
			continue
		}
		now := b.now().UTC()
		entry.ClientSecret, entry.SecretSetAt, entry.LastVaultRotation = secret, now, now
		if err = putJSON(ctx, s, configStoragePrefix+name, entry); err == nil {
			return now, nil
		}
	}
	return time.Time{}, err
}

// useRotatedSecret switches this node's fetches for config name to the new
// secret without dropping its cached tokens, and makes sure no copy loaded
// before the store is remembered.
func (b *paloBackend) useRotatedSecret(name, secret string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cs := b.configs[name]; cs != nil {
		cs.rotated.Store(&secret)
	}
	b.gen++
}

// verify fetches a token with the new secret, retrying briefly.
func (b *paloBackend) verify(ctx context.Context, cfg *liveConfig, p provider.Params, secret string) error {
	p.ClientSecret = secret
	var err error
	for attempt := 1; attempt <= verifyAttempts; attempt++ {
		vctx, cancel := context.WithTimeout(ctx, cfg.entry.RequestTimeout)
		_, err = cfg.client.Fetch(vctx, p)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-time.After(verifyWait):
		case <-ctx.Done():
			return err
		}
	}
	return err
}

func (b *paloBackend) putRotationRecord(ctx context.Context, s logical.Storage, name string, rec *rotationRecord) error {
	return putJSON(ctx, s, rotationStoragePrefix+name, rec)
}

// noteFailure records a failed run in the rotation record (the pending
// reset, if any, is kept as the run left it).
func (b *paloBackend) noteFailure(ctx context.Context, s logical.Storage, name string, runErr error) {
	if errors.Is(runErr, errRotationRunning) {
		return
	}
	rec, err := readRotationRecord(ctx, s, name)
	if err == nil {
		rec.LastError = runErr.Error()
		rec.LastErrorAt = b.now().UTC()
		rec.Failures++
		err = b.putRotationRecord(ctx, s, name, rec)
	}
	if err != nil {
		b.Logger().Warn("recording a failed rotation failed", "config", name, "error", err.Error())
	}
}

// periodic is the framework's PeriodicFunc, which Vault calls about once a
// minute on the node that may write. It rotates every paloalto_scm config
// whose next_vault_rotation has come, and repeats pending resets; after a
// failure, either waits out retryBackoff.
func (b *paloBackend) periodic(ctx context.Context, req *logical.Request) error {
	if !b.WriteSafeReplicationState() {
		return nil
	}
	names, err := req.Storage.List(ctx, configStoragePrefix)
	if err != nil {
		return fmt.Errorf("listing configs: %w", err)
	}
	now := b.now()
	for _, name := range names {
		entry, err := readConfigEntry(ctx, req.Storage, name)
		if err != nil || entry == nil || entry.Provider != provider.PaloAltoSCM {
			continue
		}
		rec, err := readRotationRecord(ctx, req.Storage, name)
		if err != nil {
			continue
		}
		pending := rec.Pending != nil && !entry.SecretSetAt.After(rec.Pending.StartedAt)
		next := entry.nextRotation(rec)
		due := pending || !next.IsZero() && !now.Before(next)
		if !due || rec.Failures > 0 && now.Before(rec.LastErrorAt.Add(retryBackoff(rec.Failures))) {
			continue // not due, or backing off after a failure
		}
		if _, err := b.rotate(ctx, req.Storage, name, "scheduled"); err == nil || errors.Is(err, errRotationRunning) {
			continue
		}
		rec, _ = readRotationRecord(ctx, req.Storage, name)
		if rec != nil {
			b.Logger().Warn("scheduled rotation will be retried", "config", name, "next_attempt", formatTime(entry.nextRotation(rec)))
		}
	}
	return nil
}
