package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/helper/locksutil"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
)

// Rotation replaces a config's credential with one nobody holds, through
// the seam provider.Rotation (a secret reset at Strata Cloud Manager, a key
// pair made in Vault for private_key_jwt). This file is the state machine
// around it, which knows no vendor. One run goes through these steps, each
// named in its errors; the rotation names its own steps in between:
//
//	claim    take the config's rotation: refused while another run, on this
//	         or another instance of the mount, holds it
//	begin    the rotation's own steps that change nothing (Strata Cloud
//	         Manager: token, find); skipped when a pending rotation is
//	         resumed
//	record   store the pending rotation (seal-wrapped): from here on a
//	         crash, a lost answer or a refusal can be resumed
//	finish   the rotation's own step that makes the change (reset, or the
//	         switch to a key the server accepts); its answer may be the only
//	         copy of the new credential
//	store    store the new credential in the config (seal-wrapped) and
//	         switch this node's fetches to it; end any credential-failure
//	         cooldown
//	clear    drop the pending rotation (a failure is only a warning: the
//	         record names the credential it was for, and the next run sees
//	         that another one is stored)
//	verify   fetch a token with the new credential (retried briefly),
//	         unless finish already did
//	recover  (only after a crash or lost answer) the saved pending state
//	         has expired and the stored credential is refused: the engine
//	         can no longer get back in, and says what to do
//
// Before "record" nothing has changed anywhere. A refused finish that
// changed nothing (provider.Rotation.KeepsPending false) drops the record
// and leaves the old credential. An unknown outcome keeps the record, and
// the next run (rotate-root, or the periodic check: see retryAt) calls
// finish again with it while it is usable.

const (
	rotationStoragePrefix = "rotation/"
	// claimStoragePrefix holds each config's rotation claim: which
	// instance of the mount runs its rotation, until when.
	claimStoragePrefix = "rotation-claim/"

	// savedStateMargin is the least life a pending rotation's saved state
	// must have left to be used.
	savedStateMargin = 30 * time.Second
	// runTimeout bounds one whole run.
	runTimeout = 5 * time.Minute
	// claimTTL is how long a run's claim holds other instances off: a
	// claim left by a process that died lapses after it.
	claimTTL = runTimeout + time.Minute
)

// Steps of the state machine, as errors and logs name them; the rotation's
// own steps (provider.StepOf) come in between.
const (
	stepClaim   = "claim"
	stepBegin   = "begin"
	stepRecord  = "record"
	stepFinish  = "finish"
	stepStore   = "store"
	stepClear   = "clear"
	stepVerify  = "verify"
	stepRecover = "recover"
)

var (
	// verifyPolicy repeats the verification fetch: the vendor may need a
	// moment to accept a new credential.
	verifyPolicy = provider.Policy{Attempts: 5, WaitMin: time.Second, WaitMax: 2 * time.Second, Again: func(error) bool { return true }}
	// storePolicy repeats a failed storage write of the new credential.
	storePolicy = provider.Policy{Attempts: 3, WaitMin: 100 * time.Millisecond, WaitMax: time.Second, Again: func(error) bool { return true }}
)

// rotationRecord is rotation/<name>: the state of a config's rotations
// that is not part of the config itself, so that writing it does not drop
// any node's cached tokens.
type rotationRecord struct {
	// Pending is set from before a change until its credential is stored.
	Pending *provider.Pending `json:"pending,omitempty"`
	// PendingFor is the config's SecretSetAt when Pending was recorded:
	// Pending belongs to that credential, and a credential stored since
	// (with another SecretSetAt) makes it a leftover. Comparing stored
	// values, not clocks, holds when nodes' clocks differ.
	PendingFor time.Time `json:"pending_for,omitzero"`
	// LastError and LastErrorAt describe the latest failed run; Failures
	// counts the failed runs since the last success or hand-written secret.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	Failures    int       `json:"failures,omitempty"`
}

// rotationClaim is rotation-claim/<name>: the instance of the mount whose
// run holds the config's rotation, until Until. It holds across a plugin
// reload and a failover, which an in-memory lock does not.
type rotationClaim struct {
	Owner string    `json:"owner"`
	Until time.Time `json:"until"`
}

// UnmarshalJSON also reads a pending reset as earlier versions stored it:
// {started_at, service_account_id, token, token_expires_at}.
func (r *rotationRecord) UnmarshalJSON(b []byte) error {
	type plain rotationRecord
	if err := json.Unmarshal(b, (*plain)(r)); err != nil {
		return err
	}
	var legacy struct {
		Pending *struct {
			ServiceAccountID string    `json:"service_account_id"`
			Token            string    `json:"token"`
			TokenExpiresAt   time.Time `json:"token_expires_at"`
		} `json:"pending"`
	}
	if json.Unmarshal(b, &legacy) == nil && legacy.Pending != nil && legacy.Pending.Token != "" && r.Pending != nil && r.Pending.State == nil {
		r.Pending.ValidUntil = legacy.Pending.TokenExpiresAt
		r.Pending.State = map[string]string{"token": legacy.Pending.Token, "service_account_id": legacy.Pending.ServiceAccountID}
	}
	return nil
}

// heldBy reports whether another instance's run holds the rotation at now.
func (c *rotationClaim) heldBy(self string, now time.Time) bool {
	return c.Owner != "" && c.Owner != self && now.Before(c.Until)
}

func readClaim(ctx context.Context, s logical.Storage, name string) (*rotationClaim, error) {
	var c rotationClaim
	if _, err := getJSON(ctx, s, claimStoragePrefix+name, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// rotationRun is a rotation in progress on this node.
type rotationRun struct {
	started time.Time
	// stored is closed when the run has stored a new credential or ended;
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

// stateNothingChanged is what a run that failed before it began leaves.
const stateNothingChanged = "nothing was changed"

// errRotationRunning refuses a second run while one is under way.
var errRotationRunning = errors.New("a rotation of this config is already running")

// rotationResult is what a run reports: a finished rotation, or one that
// is still pending (waiting) and why.
type rotationResult struct {
	info     map[string]string
	at       time.Time
	waiting  string
	warnings []string
}

// nextRotation is when the schedule next rotates c: see schedule.scheduledAfter, or
// later while failures back off. Zero when c has no schedule or cannot
// rotate.
func (c *configEntry) nextRotation(rec *rotationRecord, now time.Time) time.Time {
	if c.rotation() == nil {
		return time.Time{}
	}
	next := c.scheduledAfter(c.SecretSetAt, now)
	if retry := rec.retryAt(c); !next.IsZero() && retry.After(next) {
		next = retry
	}
	return next.UTC()
}

// retryAt is when a rotation of c that failed is tried again on its own:
// failurePolicy's wait after the latest failure; but if, at that failure, a
// pending rotation's saved state could still finish it (the bearer token of
// a reset whose answer was lost), no later than a minute before that state
// is too short-lived to use, so that a periodic check still uses it. Zero
// after no failure.
func (r *rotationRecord) retryAt(c *configEntry) time.Time {
	if r == nil || r.Failures == 0 {
		return time.Time{}
	}
	at := r.LastErrorAt.Add(failurePolicy.Floor(r.Failures))
	if p := r.livePending(c); p != nil && !p.ValidUntil.IsZero() {
		if last := p.ValidUntil.Add(-savedStateMargin - time.Minute); at.After(last) && last.After(r.LastErrorAt) {
			at = last
		}
	}
	return at
}

func rotationStatusFields() map[string]*framework.FieldSchema {
	return map[string]*framework.FieldSchema{
		"last_vault_rotation":    {Type: framework.TypeString, Description: "When the engine last rotated the credential (RFC 3339, UTC); empty if never."},
		"next_vault_rotation":    {Type: framework.TypeString, Description: "When the schedule next rotates the credential (RFC 3339, UTC); empty without a schedule."},
		"last_rotation_error":    {Type: framework.TypeString, Description: "Why the latest rotation failed, if it did; cleared by a successful rotation or a written client_secret."},
		"last_rotation_error_at": {Type: framework.TypeString, Description: "When the latest rotation failed (RFC 3339, UTC); empty if it did not."},
		"rotation_pending":       {Type: framework.TypeString, Description: "A rotation that has begun and not finished, and what it waits for; empty when none."},
	}
}

// addRotationStatus adds the rotation fields of config name to a read.
func (b *paloBackend) addRotationStatus(ctx context.Context, s logical.Storage, name string, c *configEntry, data map[string]any) error {
	rec, err := readRotationRecord(ctx, s, name)
	if err != nil {
		return err
	}
	data["last_vault_rotation"] = formatTime(c.LastVaultRotation)
	data["next_vault_rotation"] = formatTime(c.nextRotation(rec, b.now()))
	data["last_rotation_error"] = rec.LastError
	data["last_rotation_error_at"] = formatTime(rec.LastErrorAt)
	data["rotation_pending"] = ""
	if p := rec.livePending(c); p != nil {
		data["rotation_pending"] = pendingText(c.rotation(), p, b.now())
	}
	return nil
}

// livePending is the record's pending rotation, unless a credential stored
// after it began (its own, or one written by hand) has made it a leftover.
// A record that does not say which credential it belongs to (written by an
// earlier version) is judged by the times.
func (r *rotationRecord) livePending(c *configEntry) *provider.Pending {
	switch {
	case r.Pending == nil:
		return nil
	case !r.PendingFor.IsZero():
		if !r.PendingFor.Equal(c.SecretSetAt) {
			return nil
		}
	case c.SecretSetAt.After(r.Pending.StartedAt):
		return nil
	}
	return r.Pending
}

// pendingText says what a pending rotation waits for.
func pendingText(rot provider.Rotation, p *provider.Pending, now time.Time) string {
	w := rot.Terms()
	text := fmt.Sprintf("begun at %s", formatTime(p.StartedAt))
	switch {
	case now.Before(p.NotBefore):
		text += fmt.Sprintf("; the new %s is used from %s at the earliest (rotation_overlap), once the server accepts it", w.Credential, formatTime(p.NotBefore))
	case !p.ValidUntil.IsZero():
		text += fmt.Sprintf("; its outcome is unknown, and the engine repeats it with its %s (valid until %s)", w.Saved, formatTime(p.ValidUntil))
	default:
		text += fmt.Sprintf("; the new %s is used once the server accepts it", w.Credential)
	}
	return text
}

func readRotationRecord(ctx context.Context, s logical.Storage, name string) (*rotationRecord, error) {
	var rec rotationRecord
	if _, err := getJSON(ctx, s, rotationStoragePrefix+name, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// updateRecord changes config name's rotation record under the config's
// lock.
func (b *paloBackend) updateRecord(ctx context.Context, s logical.Storage, name string, change func(*rotationRecord) error) error {
	lock := locksutil.LockForKey(b.configLocks, name)
	lock.Lock()
	defer lock.Unlock()
	rec, err := readRotationRecord(ctx, s, name)
	if err != nil {
		return err
	}
	if err := change(rec); err != nil {
		return err
	}
	if *rec == (rotationRecord{}) {
		return s.Delete(ctx, rotationStoragePrefix+name)
	}
	return putJSON(ctx, s, rotationStoragePrefix+name, rec)
}

// rotationHeld reports whether a rotation of config name runs, here or on
// another instance of the mount, and since when. The caller holds the
// config's lock.
func (b *paloBackend) rotationHeld(ctx context.Context, s logical.Storage, name string) (bool, time.Time, error) {
	b.mu.RLock()
	run := b.rotations[name]
	b.mu.RUnlock()
	if run != nil {
		return true, run.started, nil
	}
	c, err := readClaim(ctx, s, name)
	if err != nil || !c.heldBy(b.instance, b.now()) {
		return false, time.Time{}, err
	}
	return true, c.Until.Add(-claimTTL), nil
}

// fetch fetches a token for a reader with the config's current credential.
// A credential failure while a rotation of the config runs on this node (the
// vendor may have reset the old secret a moment ago) waits until the run
// has stored the new credential, or ended; then, if the credential has
// changed since the failed attempt, it tries again with the new one. It
// repeats that for as long as each attempt is overtaken by a rotation (a
// second run may reset the secret the first one stored while a reader
// still retries with it), and returns any other outcome.
func (cfg *liveConfig) fetch(ctx context.Context, params provider.Params) (provider.Token, error) {
	for {
		used := cfg.rotated.Load()
		tok, err := cfg.client.Fetch(ctx, withRotated(params, used))
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
		if cfg.rotated.Load() == used {
			return tok, err
		}
	}
}

// current is params with the credential a rotation stored since cfg was
// loaded.
func (cfg *liveConfig) current(p provider.Params) provider.Params {
	return withRotated(p, cfg.rotated.Load())
}

// withRotated is p with a rotation's credential fields (none when rotated
// is nil) in place of its own.
func withRotated(p provider.Params, rotated *provider.Values) provider.Params {
	if rotated != nil {
		p.Values = maps.Clone(p.Values)
		maps.Copy(p.Values, *rotated)
	}
	return p
}

// claim registers a run of config name on this node and in its rotation
// record, or reports the run that holds it.
func (b *paloBackend) claim(ctx context.Context, s logical.Storage, name string) (*rotationRun, error) {
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return nil, errors.New("the mount is shutting down")
	}
	if running := b.rotations[name]; running != nil {
		b.mu.Unlock()
		return nil, fmt.Errorf("%w (since %s)", errRotationRunning, formatTime(running.started))
	}
	run := &rotationRun{started: b.now(), stored: make(chan struct{})}
	b.rotations[name] = run
	b.runs.Add(1)
	b.mu.Unlock()

	err := func() error {
		lock := locksutil.LockForKey(b.configLocks, name)
		lock.Lock()
		defer lock.Unlock()
		c, err := readClaim(ctx, s, name)
		if err != nil {
			return err
		}
		if c.heldBy(b.instance, b.now()) {
			return fmt.Errorf("%w on another instance of the mount (claimed until %s)", errRotationRunning, formatTime(c.Until))
		}
		return putJSON(ctx, s, claimStoragePrefix+name, &rotationClaim{Owner: b.instance, Until: b.now().Add(claimTTL).UTC()})
	}()
	if err != nil {
		b.endRun(name, run)
		if !errors.Is(err, errRotationRunning) {
			err = &rotationError{config: name, step: stepClaim, state: stateNothingChanged, err: err}
		}
		return nil, err
	}
	return run, nil
}

// unclaim ends run: the claim in the record is dropped (with a context of
// its own, since the run's may have ended) and readers are woken.
func (b *paloBackend) unclaim(s logical.Storage, name string, run *rotationRun) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lock := locksutil.LockForKey(b.configLocks, name)
	lock.Lock()
	c, err := readClaim(ctx, s, name)
	if err == nil && c.Owner == b.instance {
		err = s.Delete(ctx, claimStoragePrefix+name)
	}
	lock.Unlock()
	if err != nil {
		b.Logger().Warn("dropping the rotation claim failed; it lapses on its own", "config", name, "error", err.Error())
	}
	b.endRun(name, run)
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
	b.runs.Done()
}

// rotate runs one rotation of config name. It returns errRotationRunning
// when one is already under way, a *rotationError when a step fails, and
// other errors for storage failures before anything changed. The run is
// not cut short by its caller going away (stopping between a reset and
// its store would leave the new credential unstored), but it stops when
// the mount is cleaned up; a pending rotation is then resumed by the next
// instance.
func (b *paloBackend) rotate(ctx context.Context, s logical.Storage, name, trigger string) (*rotationResult, error) {
	run, err := b.claim(ctx, s, name)
	if err != nil {
		return nil, err
	}
	defer b.unclaim(s, name, run)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), runTimeout)
	defer cancel()
	stop := context.AfterFunc(b.runsCtx, cancel)
	defer stop()
	ctx = b.cache.CountRequests(ctx, name)

	res, providerName, err := b.runSteps(ctx, s, name, run)
	switch {
	case err != nil:
		b.metrics.observeRotation(name, providerName, rotationFailure, b.now())
		b.noteFailure(s, name, err)
		b.Logger().Warn("vendor secret rotation failed", "config", name, "trigger", trigger, "error", err.Error())
		return nil, err
	case res.waiting != "":
		b.Logger().Info("rotation pending", "config", name, "trigger", trigger, "waiting", res.waiting)
	default:
		b.metrics.observeRotation(name, providerName, rotationSuccess, b.now())
		args := []any{"config", name, "trigger", trigger}
		for k, v := range res.info {
			args = append(args, k, v)
		}
		b.Logger().Info("vendor secret rotated", args...)
	}
	return res, nil
}

// runSteps is the state machine described at the top of this file. It also
// returns the config's provider, for metrics.
func (b *paloBackend) runSteps(ctx context.Context, s logical.Storage, name string, run *rotationRun) (*rotationResult, string, error) {
	entry, err := readConfigEntry(ctx, s, name)
	if err != nil {
		return nil, "", err
	}
	if entry == nil || entry.rotation() == nil {
		return nil, "", &rotationError{config: name, step: stepBegin, state: stateNothingChanged, err: errors.New("the config was deleted or can no longer rotate")}
	}
	rec, err := readRotationRecord(ctx, s, name)
	if err != nil {
		return nil, entry.Provider, err
	}
	cfg, err := b.liveConfig(ctx, s, name)
	if err != nil || cfg == nil {
		return nil, entry.Provider, err
	}
	// Readers of this config whose fetch is refused mid-run wait for it.
	cfg.run.Store(run)
	defer cfg.run.CompareAndSwap(run, nil)
	r := &runState{
		b: b, s: s, name: name, entry: entry, cfg: cfg, rot: entry.rotation(), words: entry.rotation().Terms(),
		env: provider.RotationEnv{
			Client: cfg.client, Params: cfg.current(entry.params(nil)), Timeout: entry.RequestTimeout,
			Now: b.now, Log: b.Logger().With("config", name),
		},
	}
	pending, resumed, err := r.begin(ctx, rec)
	if err != nil {
		return nil, entry.Provider, err
	}
	if b.now().Before(pending.NotBefore) {
		return &rotationResult{waiting: pendingText(r.rot, pending, b.now())}, entry.Provider, nil
	}
	out, err := r.finish(ctx, pending, resumed)
	if err != nil {
		return nil, entry.Provider, err
	}
	res, err := r.complete(ctx, run, pending, out)
	return res, entry.Provider, err
}

// runState is what one run's steps share.
type runState struct {
	b     *paloBackend
	s     logical.Storage
	name  string
	entry *configEntry
	cfg   *liveConfig
	rot   provider.Rotation
	words provider.Terms
	env   provider.RotationEnv
}

// fail is a failure of step that leaves state. A failure of the generic
// begin or finish names the rotation's own step when it has one.
func (r *runState) fail(step, state string, err error) error {
	if s := provider.StepOf(err); s != "" && (step == stepBegin || step == stepFinish) {
		step = s
	}
	return &rotationError{config: r.name, step: step, state: state, err: err}
}

// unchanged is the state of a failure before any change.
func (r *runState) unchanged() string {
	return fmt.Sprintf("the stored %s is unchanged and still in use", r.words.Credential)
}

// begin returns the pending rotation to finish: the record's, while it is
// usable (resumed), or a new one that Begin prepared and the record now
// holds (steps begin, record, and recover when an expired one cannot be
// replaced).
func (r *runState) begin(ctx context.Context, rec *rotationRecord) (pending *provider.Pending, resumed bool, err error) {
	w, now := r.words, r.b.now()
	pending = rec.livePending(r.entry)
	if pending != nil && pending.Usable(now, savedStateMargin) {
		r.b.Logger().Info("resuming a pending rotation", "config", r.name, "started_at", formatTime(pending.StartedAt))
		return pending, true, nil
	}
	fresh, err := r.rot.Begin(ctx, r.env)
	switch {
	case err != nil && pending != nil && provider.IsCredentialError(err):
		return nil, false, r.fail(stepRecover, fmt.Sprintf("a %s begun at %s may have replaced the %s at the vendor, and its answer was lost; "+
			"the %s kept to repeat it expired at %s and the vendor refuses the stored %s. Reset the %s at the vendor "+
			"and write it to config/%s with %s=...", w.Changed, formatTime(pending.StartedAt), w.Credential,
			w.Saved, formatTime(pending.ValidUntil), w.Credential, w.Credential, r.name, w.Field), err)
	case err != nil:
		return nil, false, r.fail(stepBegin, r.unchanged(), err)
	}
	if err := r.b.updateRecord(ctx, r.s, r.name, func(rec *rotationRecord) error {
		rec.Pending, rec.PendingFor = &fresh, r.entry.SecretSetAt
		return nil
	}); err != nil {
		return nil, false, r.fail(stepRecord, fmt.Sprintf("the %s was not %s; %s", w.Credential, w.Changed, r.unchanged()), err)
	}
	return &fresh, false, nil
}

// finish makes the change. A failure that may have changed something, or
// may still, keeps the pending record; one that changed nothing drops it.
func (r *runState) finish(ctx context.Context, pending *provider.Pending, resumed bool) (provider.Outcome, error) {
	out, err := r.rot.Finish(ctx, r.env, *pending)
	if err == nil {
		return out, nil
	}
	if resumed || r.rot.KeepsPending(err) {
		return out, r.fail(stepFinish, stillPending(r.words, pending), err)
	}
	if perr := r.b.updateRecord(ctx, r.s, r.name, func(rec *rotationRecord) error {
		rec.Pending, rec.PendingFor = nil, time.Time{}
		return nil
	}); perr != nil {
		r.b.Logger().Warn("clearing the pending rotation failed", "config", r.name, "error", perr.Error())
	}
	return out, r.fail(stepFinish, fmt.Sprintf("the %s was not %s; %s", r.words.Credential, r.words.Changed, r.unchanged()), err)
}

// complete stores the new credential, wakes the waiting readers, ends a
// credential-failure cooldown, clears the record and verifies the new
// credential unless finish did (steps store, clear, verify).
func (r *runState) complete(ctx context.Context, run *rotationRun, pending *provider.Pending, out provider.Outcome) (*rotationResult, error) {
	w := r.words
	at, err := r.b.storeRotated(ctx, r.s, r.name, out.Values)
	if err != nil {
		return nil, r.fail(stepStore, fmt.Sprintf("the vendor %s the %s but the new one could not be stored; the engine repeats it "+
			"with its %s%s on the next rotate-root or in the periodic check while it is valid", w.Changed, w.Credential, w.Saved, validUntil(pending)), err)
	}
	r.b.release(run)
	r.b.cache.EndCooldown(r.name)

	res := &rotationResult{info: out.Info, at: at}
	if err := r.b.updateRecord(ctx, r.s, r.name, func(rec *rotationRecord) error { *rec = rotationRecord{}; return nil }); err != nil {
		// The record is a leftover: it names the credential stored before
		// (PendingFor), and another one is stored now.
		res.warnings = append(res.warnings, "the pending-rotation record could not be cleared (step "+stepClear+"); the next run drops it")
		r.b.Logger().Warn("clearing the pending rotation failed", "config", r.name, "step", stepClear, "error", err.Error())
	}
	if out.Verified {
		return res, nil
	}
	p := r.cfg.current(r.entry.params(nil))
	_, err = provider.Retry(ctx, verifyPolicy, func(int) (provider.Token, error) {
		vctx, cancel := context.WithTimeout(ctx, r.entry.RequestTimeout)
		defer cancel()
		return r.cfg.client.Fetch(vctx, p)
	})
	if err != nil {
		return nil, r.fail(stepVerify, fmt.Sprintf("the new %s is stored and used, but the vendor has not accepted it yet", w.Credential), err)
	}
	return res, nil
}

// stillPending says what a failed finish leaves: a change whose outcome is
// unknown (saved state that expires), or one the server has not accepted
// yet.
func stillPending(w provider.Terms, p *provider.Pending) string {
	again := fmt.Sprintf("the engine tries again with its %s%s on the next rotate-root or in the periodic check while it is valid", w.Saved, validUntil(p))
	if p.ValidUntil.IsZero() {
		return fmt.Sprintf("the server has not accepted the new %s yet and the current one stays in use; %s", w.Credential, again)
	}
	return fmt.Sprintf("whether the vendor %s the %s (at %s or now) is unknown. The stored %s is unchanged; %s",
		w.Changed, w.Credential, formatTime(p.StartedAt), w.Credential, again)
}

// validUntil says how long a pending rotation's saved state is usable.
func validUntil(p *provider.Pending) string {
	if p.ValidUntil.IsZero() {
		return ""
	}
	return " (valid until " + formatTime(p.ValidUntil) + ")"
}

// storeRotated writes a rotation's new credential into the stored config,
// keeping everything else as it is stored now, and switches this node's
// fetches to it without dropping the tokens cached with the old one.
func (b *paloBackend) storeRotated(ctx context.Context, s logical.Storage, name string, values provider.Values) (time.Time, error) {
	lock := locksutil.LockForKey(b.configLocks, name)
	lock.Lock()
	defer lock.Unlock()
	now := b.now().UTC()
	_, err := provider.Retry(ctx, storePolicy, func(int) (struct{}, error) {
		entry, err := readConfigEntry(ctx, s, name)
		if err == nil && entry == nil {
			err = errors.New("the config was deleted during the rotation; the new credential is discarded")
		}
		if err != nil {
			return struct{}{}, err
		}
		maps.Copy(entry.Values, values)
		entry.SecretSetAt, entry.LastVaultRotation = now, now
		return struct{}{}, putJSON(ctx, s, configStoragePrefix+name, entry)
	})
	if err != nil {
		return time.Time{}, err
	}
	b.useRotated(name, values)
	return now, nil
}

// useRotated switches this node's fetches for config name to the
// credential a rotation stored (only its fields: a role's overrides still
// apply over the rest), without dropping its cached tokens, and makes sure
// no copy loaded before the store is remembered.
func (b *paloBackend) useRotated(name string, values provider.Values) {
	v := maps.Clone(values)
	b.mu.Lock()
	defer b.mu.Unlock()
	if cs := b.configs[name]; cs != nil {
		cs.rotated.Store(&v)
	}
	b.gen++
}

// reschedule updates config name's next rotation in the index from
// storage.
func (b *paloBackend) reschedule(ctx context.Context, s logical.Storage, name string) {
	entry, err := readConfigEntry(ctx, s, name)
	if err != nil {
		return
	}
	var next time.Time
	if entry != nil {
		if rec, err := readRotationRecord(ctx, s, name); err == nil {
			next = entry.nextRotation(rec, b.now())
		}
	}
	b.scheduled.set(name, next)
}

// noteFailure records a failed run in the rotation record (the pending
// rotation, if any, is kept as the run left it).
func (b *paloBackend) noteFailure(s logical.Storage, name string, runErr error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := b.updateRecord(ctx, s, name, func(rec *rotationRecord) error {
		rec.LastError = runErr.Error()
		rec.LastErrorAt = b.now().UTC()
		rec.Failures++
		return nil
	})
	if err != nil {
		b.Logger().Warn("recording a failed rotation failed", "config", name, "error", err.Error())
	}
}

// periodic is the framework's PeriodicFunc, which Vault calls about once a
// minute on the node that may write. It rotates every config whose
// next_vault_rotation has come and resumes pending rotations; after a
// failure, either waits until retryAt.
func (b *paloBackend) periodic(ctx context.Context, req *logical.Request) error {
	if !b.WriteSafeReplicationState() {
		return nil
	}
	// Pending rotations and failures to retry have a record; scheduled
	// rotations are in the index, filled by one full scan.
	names, err := req.Storage.List(ctx, rotationStoragePrefix)
	if err != nil {
		return fmt.Errorf("listing rotation records: %w", err)
	}
	scheduled, loaded := b.scheduled.due(b.now())
	if !loaded {
		if scheduled, err = req.Storage.List(ctx, configStoragePrefix); err != nil {
			return fmt.Errorf("listing configs: %w", err)
		}
		b.scheduled.markLoaded()
	}
	due := map[string]bool{}
	for _, name := range append(names, scheduled...) {
		due[name] = true
	}
	now := b.now()
	for name := range due {
		entry, err := readConfigEntry(ctx, req.Storage, name)
		if err != nil {
			continue
		}
		if entry == nil || entry.rotation() == nil {
			b.scheduled.set(name, time.Time{})
			continue
		}
		rec, err := readRotationRecord(ctx, req.Storage, name)
		if err != nil {
			continue
		}
		next := entry.nextRotation(rec, now)
		b.scheduled.set(name, next)
		pending := rec.livePending(entry)
		isDue := pending != nil && !now.Before(pending.NotBefore) || !next.IsZero() && !now.Before(next)
		if !isDue || now.Before(rec.retryAt(entry)) {
			continue // not due, or backing off after a failure
		}
		_, err = b.rotate(ctx, req.Storage, name, "scheduled")
		b.reschedule(ctx, req.Storage, name)
		if err != nil && !errors.Is(err, errRotationRunning) {
			b.Logger().Warn("scheduled rotation will be retried", "config", name, "next_attempt", formatTime(b.scheduled.at(name)))
		}
	}
	return nil
}
