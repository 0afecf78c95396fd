package backend

import (
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/helper/automatedrotationutil"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/sdk/rotation"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
)

// Bounds of rotation_period (besides 0, off).
const (
	minRotationPeriod = time.Hour
	maxRotationPeriod = 10 * 365 * 24 * time.Hour
)

// failurePolicy spaces the tries of a failing scheduled rotation: one
// minute after the first failure, doubling, at most an hour apart
// (Policy.Floor, so the next try can be shown in a read).
var failurePolicy = provider.Policy{WaitMin: time.Minute, WaitMax: 2 * time.Hour}

// schedule is when the engine rotates a config's credential on its own. Its
// fields are those Vault's own engines take for automated rotation
// (automatedrotationutil); the engine runs the schedule itself, since
// Vault's rotation manager exists only in Vault Enterprise and this must
// work on Vault Community and OpenBao.
type schedule struct {
	// RotationPeriod rotates this long after the credential was last set.
	RotationPeriod time.Duration `json:"rotation_period,omitempty"`
	// RotationSchedule rotates at the times of a standard cron expression
	// (UTC), within RotationWindow of each when that is set.
	RotationSchedule string        `json:"rotation_schedule,omitempty"`
	RotationWindow   time.Duration `json:"rotation_window,omitempty"`
	// DisableAutomatedRotation keeps the settings but rotates only on
	// rotate-root.
	DisableAutomatedRotation bool `json:"disable_automated_rotation,omitempty"`
}

// scheduleFieldNames are the request fields of a schedule.
var scheduleFieldNames = []string{"rotation_period", "rotation_schedule", "rotation_window", "disable_automated_rotation"}

// scheduleFields adds the schedule's fields, with the SDK's names and
// types, to a config's schema.
func scheduleFields(fields map[string]*framework.FieldSchema) {
	automatedrotationutil.AddAutomatedRotationFieldsWithGroup(fields, "Rotation")
	delete(fields, "rotation_policy") // a Vault Enterprise rotation manager setting
	const only = " Only for configs whose credential the engine can rotate (see rotate-root)."
	fields["rotation_period"].Description = fmt.Sprintf("Rotate the credential this long after it was last set, by a write or a rotation "+
		"(at least %s; 0, the default, is off). Cannot be combined with rotation_schedule.", minRotationPeriod) + only
	fields["rotation_schedule"].Description = "Rotate the credential at the times of this cron expression (five fields, UTC), " +
		"for example \"0 3 * * SAT\". Cannot be combined with rotation_period." + only
	fields["rotation_window"].Description = "With rotation_schedule: how long after each scheduled time a rotation may still " +
		"start (at least 1h); a time missed by more than that waits for the next. 0, the default, means no limit." + only
	fields["disable_automated_rotation"].Description = "Keep the schedule but rotate only on rotate-root." + only
}

// scheduleGiven reports whether the request names any schedule field.
func scheduleGiven(req *logical.Request) string {
	for _, name := range scheduleFieldNames {
		if _, ok := req.Data[name]; ok {
			return name
		}
	}
	return ""
}

// set applies the schedule fields the request gives and returns a message
// naming the field when one is wrong.
func (s *schedule) setSchedule(d *framework.FieldData) string {
	var p automatedrotationutil.AutomatedRotationParams
	if err := p.ParseAutomatedRotationFields(d); err != nil {
		return "rotation_schedule: " + err.Error()
	}
	if _, ok := d.GetOk("rotation_period"); ok {
		s.RotationPeriod = p.RotationPeriod
		if p.RotationPeriod != 0 {
			s.RotationSchedule, s.RotationWindow = "", 0
		}
	}
	if _, ok := d.GetOk("rotation_schedule"); ok {
		s.RotationSchedule = p.RotationSchedule
		if p.RotationSchedule != "" {
			s.RotationPeriod = 0
		} else {
			s.RotationWindow = 0
		}
	}
	if _, ok := d.GetOk("rotation_window"); ok {
		s.RotationWindow = p.RotationWindow
	}
	if _, ok := d.GetOk("disable_automated_rotation"); ok {
		s.DisableAutomatedRotation = p.DisableAutomatedRotation
	}
	return s.validateSchedule()
}

// validateSchedule checks a complete schedule.
func (s schedule) validateSchedule() string {
	if s.RotationPeriod != 0 && (s.RotationPeriod < minRotationPeriod || s.RotationPeriod > maxRotationPeriod) {
		return fmt.Sprintf("rotation_period: %s is out of range; use 0 (off) or %s to %s", s.RotationPeriod, minRotationPeriod, maxRotationPeriod)
	}
	if s.RotationSchedule != "" {
		if _, err := rotation.DefaultScheduler.Parse(s.RotationSchedule); err != nil {
			return fmt.Sprintf("rotation_schedule: not a cron expression of five fields (minute hour day month weekday): %v", err)
		}
	}
	if s.RotationWindow != 0 {
		if s.RotationSchedule == "" {
			return "rotation_window: only with rotation_schedule"
		}
		if err := rotation.DefaultScheduler.ValidateRotationWindow(int(s.RotationWindow / time.Second)); err != nil {
			return "rotation_window: " + err.Error()
		}
	}
	return ""
}

// readSchedule adds the schedule's fields to a config read.
func (s schedule) readSchedule(data map[string]any) {
	data["rotation_period"] = seconds(s.RotationPeriod)
	data["rotation_schedule"] = s.RotationSchedule
	data["rotation_window"] = seconds(s.RotationWindow)
	data["disable_automated_rotation"] = s.DisableAutomatedRotation
}

// scheduledAfter is when the schedule next rotates a credential set at
// setAt, as of now; zero when it never does. A scheduled time whose window
// has passed gives way to the next one.
func (s schedule) scheduledAfter(setAt, now time.Time) time.Time {
	if s.DisableAutomatedRotation || setAt.IsZero() {
		return time.Time{}
	}
	if s.RotationPeriod > 0 {
		return setAt.Add(s.RotationPeriod).UTC()
	}
	if s.RotationSchedule == "" {
		return time.Time{}
	}
	cron, err := rotation.DefaultScheduler.Parse(s.RotationSchedule)
	if err != nil {
		return time.Time{}
	}
	at := cron.Next(setAt)
	if s.RotationWindow > 0 && now.Sub(at) > s.RotationWindow {
		at = cron.Next(now)
	}
	return at.UTC()
}

// scheduleIndex is when each config's schedule next rotates it, kept in
// memory so that the periodic check reads only the configs that are due
// (or changed) instead of every config every minute. It is filled by one
// full scan on the first check; config writes and Invalidate mark a config
// to be read again, and each check records what it read.
type scheduleIndex struct {
	mu      sync.Mutex
	loaded  bool
	next    map[string]time.Time
	changed map[string]bool
}

// set records when config name next rotates; zero drops it.
func (x *scheduleIndex) set(name string, at time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.changed, name)
	if at.IsZero() {
		delete(x.next, name)
		return
	}
	if x.next == nil {
		x.next = map[string]time.Time{}
	}
	x.next[name] = at
}

// touch marks config name to be read again by the next check.
func (x *scheduleIndex) touch(name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.changed == nil {
		x.changed = map[string]bool{}
	}
	x.changed[name] = true
}

// due returns the configs whose next rotation has come or that changed,
// and whether the index has been filled (when it has not, the caller
// scans every config and calls markLoaded).
func (x *scheduleIndex) due(now time.Time) ([]string, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var names []string
	for name, at := range x.next {
		if !now.Before(at) && !x.changed[name] {
			names = append(names, name)
		}
	}
	for name := range x.changed {
		names = append(names, name)
	}
	return names, x.loaded
}

// markLoaded notes that a full scan has filled the index.
func (x *scheduleIndex) markLoaded() {
	x.mu.Lock()
	x.loaded = true
	x.mu.Unlock()
}

// at is when config name next rotates; zero when it is not scheduled.
func (x *scheduleIndex) at(name string) time.Time {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.next[name]
}
