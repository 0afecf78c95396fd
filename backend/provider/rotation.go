package provider

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Rotation replaces a config's credential with one nobody holds: the seam
// between the engine's rotation state machine (its lock, its records, its
// schedule), which knows no vendor, and a vendor's way of making a new
// credential. Strata Cloud Manager resets the client secret through its
// IAM API (scmSecretReset); a private_key_jwt client gets a key pair made in
// Vault (keyRotation).
//
// A run calls Begin, records the Pending it returns durably, then calls
// Finish with it, stores the Outcome's values and drops the record. Begin
// changes nothing outside the engine; Finish may (a reset at the vendor),
// which is why its pending state is recorded first: after a crash, a lost
// answer or a refusal that KeepsPending allows, the next run calls Finish
// again with the same Pending while it is usable.
type Rotation interface {
	// Applies reports whether a config with these values rotates this way.
	Applies(v Values) bool
	// Begin prepares a rotation of the credential in env.Params.
	Begin(ctx context.Context, env RotationEnv) (Pending, error)
	// Finish makes the change that Begin prepared and returns the values to
	// store. It may be called again with the same Pending after a failure.
	Finish(ctx context.Context, env RotationEnv, p Pending) (Outcome, error)
	// Terms are the words the engine's messages use for this rotation.
	Terms() Terms
	// Reports are the fields of Outcome.Info, for the API's schema.
	Reports() []ResponseField
	// KeepsPending reports whether a failure of Finish leaves the rotation
	// pending: the change may have happened (an answer was lost) or may
	// still happen (a key the server does not accept yet). Otherwise the
	// failure changed nothing and the pending state is dropped.
	KeepsPending(err error) bool
}

// Terms are the words of a rotation's messages: "the secret was not
// reset", "repeats it with its saved token", "write it with client_secret".
type Terms struct {
	Credential string // "secret"
	Changed    string // what Finish does, as a past participle: "reset"
	Saved      string // the pending state kept: "saved token"
	Field      string // the config field that holds the credential
}

// RotationEnv is what a Rotation works with.
type RotationEnv struct {
	// Client makes the vendor calls; Params is the config's token request
	// with its current credential.
	Client *Client
	Params Params
	// Timeout bounds each vendor request (the config's request_timeout).
	Timeout time.Duration
	// Now is the clock.
	Now func() time.Time
	// Log receives warnings about repeats; never a secret.
	Log hclog.Logger
}

// fetch gets a token for p, the request bounded by env.Timeout.
func (env RotationEnv) fetch(ctx context.Context, p Params) (Token, error) {
	ctx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	return env.Client.Fetch(ctx, p)
}

// Pending is a rotation that Begin prepared and Finish has not completed.
// The engine stores it seal-wrapped and never shows State.
type Pending struct {
	StartedAt time.Time `json:"started_at"`
	// ValidUntil, when set, is when State can no longer finish the rotation
	// (a saved bearer token expires): a later run begins anew.
	ValidUntil time.Time `json:"valid_until,omitzero"`
	// NotBefore, when set, is the earliest time Finish may be called.
	NotBefore time.Time `json:"not_before,omitzero"`
	// State is the rotation's own data: secret.
	State map[string]string `json:"state,omitempty"`
}

// Usable reports whether Finish can still be called with p at now, with at
// least margin of ValidUntil left.
func (p *Pending) Usable(now time.Time, margin time.Duration) bool {
	return p.ValidUntil.IsZero() || p.ValidUntil.Sub(now) >= margin
}

// Outcome is a finished rotation.
type Outcome struct {
	// Values are the fields to store: the new credential.
	Values Values
	// Info is what the rotate-root answer shows about the rotation (never a
	// secret).
	Info map[string]string
	// Verified is true when Finish has already fetched a token with the new
	// credential.
	Verified bool
}

// StepError is a failure of one named step of a rotation (token, find,
// reset, ...): the engine names the step in its error.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// stepError wraps err as a failure of step, or returns nil.
func stepError(step string, err error) error {
	if err == nil {
		return nil
	}
	return &StepError{Step: step, Err: err}
}

// StepOf is the step a rotation failure names, or "" when it names none.
func StepOf(err error) string {
	var se *StepError
	if errors.As(err, &se) {
		return se.Step
	}
	return ""
}

// RotationOf returns the rotation that applies to a config of provider
// name with values v, or nil when the engine cannot rotate it.
func RotationOf(name string, v Values) Rotation {
	d, _ := Describe(name)
	if d.Rotation == nil || !d.Rotation.Applies(v) {
		return nil
	}
	return d.Rotation
}
