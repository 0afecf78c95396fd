package fakevendor

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// Outage modes (Faults.Outage): every token request fails in this way until
// the outage is cleared.
const (
	OutageNone      = ""
	OutageError     = "error"      // status Faults.FailStatus (503 by default)
	OutageReset     = "reset"      // the connection is closed without a response
	OutageRateLimit = "rate_limit" // 429
	OutageHTML      = "html"       // an HTML error page with Faults.HTMLStatus (502 by default)
)

// Forms of expires_in (Faults.ExpiresIn).
const (
	ExpiresInVendor = ""       // as the vendor sends it: a number, a string for Bright Pattern
	ExpiresInNumber = "number" // always a JSON number
	ExpiresInString = "string" // always a JSON string such as "3599"
	ExpiresInOmit   = "omit"   // no expires_in (no expiresAt for Oracle CASB)
)

// Names of injected faults, as reported in RequestRecord.Fault.
const (
	FaultDelay     = "delay"
	FaultReset     = "reset"
	FaultError     = "error"
	FaultRateLimit = "rate_limit"
	FaultInFlight  = "max_in_flight" // a 429 from Faults.MaxInFlight
	FaultHTML      = "html"
	FaultTruncate  = "truncate"
	FaultNoToken   = "no_token"
)

// Faults is the whole fault configuration of a Server. The zero value injects
// nothing. Set it with Server.SetFaults (or PUT /_fake/faults) and read it
// back with Server.Faults; the counters (ResetNext, FailNext, RateLimitNext,
// HTMLNext) count down as they are used.
//
// Faults apply to token requests only, never to the admin API. For one
// request they are tried in this order, and the first that fires decides the
// response: Outage, MaxInFlight, ResetNext, FailNext, ErrorRatePercent,
// RateLimitNext, HTMLNext. Delay holds every response but a MaxInFlight
// rejection, whichever fault (if any) then answers. The body faults
// (TruncateBody, OmitToken, ExpiresIn) shape a success.
type Faults struct {
	// Providers limits the faults to these providers; empty means all.
	// ClockSkew always applies to all.
	Providers []string `json:"providers,omitempty"`

	// Delay holds every token response this long (in real time) before
	// answering, or until the client gives up.
	Delay time.Duration `json:"-"`

	// Outage is one of the Outage* modes.
	Outage string `json:"outage,omitempty"`

	// MaxInFlight, when positive, answers 429 to a token request that
	// arrives while this many are already being answered (the SCM limit of
	// about 10 concurrent token requests per tenant). The rejection is not
	// delayed: the limiter sits in front of the slow service.
	MaxInFlight int `json:"max_in_flight,omitempty"`

	// ResetNext closes the connection of the next this-many token requests
	// without a response.
	ResetNext int `json:"reset_next,omitempty"`

	// FailNext answers the next this-many token requests with FailStatus.
	FailNext int `json:"fail_next,omitempty"`
	// FailStatus is the status of FailNext, ErrorRatePercent and
	// OutageError responses, in the vendor's error shape; 0 means 503.
	FailStatus int `json:"fail_status,omitempty"`
	// ErrorRatePercent answers this percentage of token requests with
	// FailStatus, spread evenly and deterministically: of the token requests
	// counted since the faults were last set, request n fails when
	// floor(n*p/100) > floor((n-1)*p/100). At 10 percent requests 10, 20, 30
	// and so on fail; at 50 percent every second one.
	ErrorRatePercent int `json:"error_rate_percent,omitempty"`

	// RateLimitNext answers the next this-many token requests with 429.
	RateLimitNext int `json:"rate_limit_next,omitempty"`
	// RetryAfter, when positive, is advertised in a Retry-After header on
	// every fault response with status 429 or 503; zero sends no header.
	RetryAfter time.Duration `json:"-"`
	// RetryAfterHTTPDate sends Retry-After as an HTTP date (the fake's now
	// plus RetryAfter) instead of whole seconds.
	RetryAfterHTTPDate bool `json:"retry_after_http_date,omitempty"`

	// HTMLNext answers the next this-many token requests with an HTML error
	// page (status HTMLStatus), as a proxy or load balancer would.
	HTMLNext int `json:"html_next,omitempty"`
	// HTMLStatus is the status of HTML pages; 0 means 502. 200 is allowed
	// (a captive portal).
	HTMLStatus int `json:"html_status,omitempty"`

	// TruncateBody cuts every success body in half, leaving broken JSON.
	// The token in it is not remembered.
	TruncateBody bool `json:"truncate_body,omitempty"`
	// OmitToken answers success without the access token field. Nothing is
	// remembered.
	OmitToken bool `json:"omit_token,omitempty"`
	// ExpiresIn is one of the ExpiresIn* forms.
	ExpiresIn string `json:"expires_in,omitempty"`

	// ClockSkew shifts the fake's clock: the Date header, Oracle's
	// expiresAt, token expiry and Check all use the clock plus ClockSkew.
	ClockSkew time.Duration `json:"-"`
}

// faultsJSON shadows the duration fields of Faults with strings in Go's
// duration syntax ("1.5s", "-3m") for the admin API.
type faultsJSON struct {
	plainFaults
	Delay      string `json:"delay,omitempty"`
	RetryAfter string `json:"retry_after,omitempty"`
	ClockSkew  string `json:"clock_skew,omitempty"`
}

type plainFaults Faults

// MarshalJSON writes durations as strings such as "1.5s".
func (f Faults) MarshalJSON() ([]byte, error) {
	w := faultsJSON{plainFaults: plainFaults(f)}
	w.Delay = durationString(f.Delay)
	w.RetryAfter = durationString(f.RetryAfter)
	w.ClockSkew = durationString(f.ClockSkew)
	return json.Marshal(w)
}

// UnmarshalJSON reads durations as strings such as "1.5s". Unknown fields
// are rejected.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var w faultsJSON
	if err := decodeStrict(b, &w); err != nil {
		return err
	}
	out := Faults(w.plainFaults)
	var err error
	if out.Delay, err = parseDuration("delay", w.Delay); err != nil {
		return err
	}
	if out.RetryAfter, err = parseDuration("retry_after", w.RetryAfter); err != nil {
		return err
	}
	if out.ClockSkew, err = parseDuration("clock_skew", w.ClockSkew); err != nil {
		return err
	}
	*f = out
	return nil
}

func durationString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func parseDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a duration such as 1.5s", field, s)
	}
	return d, nil
}

// maxFaultDuration bounds Delay, RetryAfter and the size of ClockSkew.
const maxFaultDuration = 100 * 365 * 24 * time.Hour

// Validate reports what is wrong with the configuration, if anything.
func (f Faults) Validate() error {
	for _, p := range f.Providers {
		if !knownProvider(p) {
			return fmt.Errorf("providers: unknown provider %q", p)
		}
	}
	switch f.Outage {
	case OutageNone, OutageError, OutageReset, OutageRateLimit, OutageHTML:
	default:
		return fmt.Errorf("outage: %q is not one of error, reset, rate_limit, html", f.Outage)
	}
	switch f.ExpiresIn {
	case ExpiresInVendor, ExpiresInNumber, ExpiresInString, ExpiresInOmit:
	default:
		return fmt.Errorf("expires_in: %q is not one of number, string, omit", f.ExpiresIn)
	}
	counts := map[string]int{
		"max_in_flight": f.MaxInFlight, "reset_next": f.ResetNext, "fail_next": f.FailNext,
		"rate_limit_next": f.RateLimitNext, "html_next": f.HTMLNext,
	}
	for name, n := range counts {
		if n < 0 {
			return fmt.Errorf("%s: %d is negative", name, n)
		}
	}
	if f.ErrorRatePercent < 0 || f.ErrorRatePercent > 100 {
		return fmt.Errorf("error_rate_percent: %d is not between 0 and 100", f.ErrorRatePercent)
	}
	if f.FailStatus != 0 && (f.FailStatus < 400 || f.FailStatus > 599) {
		return fmt.Errorf("fail_status: %d is not between 400 and 599", f.FailStatus)
	}
	if f.HTMLStatus != 0 && (f.HTMLStatus < 200 || f.HTMLStatus > 599) {
		return fmt.Errorf("html_status: %d is not between 200 and 599", f.HTMLStatus)
	}
	if f.Delay < 0 || f.Delay > maxFaultDuration {
		return errors.New("delay: must be between 0 and 100 years")
	}
	if f.RetryAfter < 0 || f.RetryAfter > maxFaultDuration {
		return errors.New("retry_after: must be between 0 and 100 years")
	}
	if f.ClockSkew < -maxFaultDuration || f.ClockSkew > maxFaultDuration {
		return errors.New("clock_skew: must be within 100 years")
	}
	return nil
}

// clone returns a copy that shares no slice with f.
func (f Faults) clone() Faults {
	f.Providers = slices.Clone(f.Providers)
	return f
}

// appliesTo reports whether the faults apply to provider.
func (f Faults) appliesTo(provider string) bool {
	return len(f.Providers) == 0 || slices.Contains(f.Providers, provider)
}

func (f Faults) failStatus() int {
	if f.FailStatus == 0 {
		return http.StatusServiceUnavailable
	}
	return f.FailStatus
}

func (f Faults) htmlStatus() int {
	if f.HTMLStatus == 0 {
		return http.StatusBadGateway
	}
	return f.HTMLStatus
}

// takeFault decides, under s.mu, which fault (if any) answers a token
// request for provider instead of the vendor, counts down the counters it
// uses, and returns it with the faults in force. inFlight is the number of
// token requests being answered, this one included.
func (s *Server) takeFault(provider string, inFlight int) (string, Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &s.faults
	snapshot := f.clone()
	if !f.appliesTo(provider) {
		return "", snapshot
	}
	switch f.Outage {
	case OutageError:
		return FaultError, snapshot
	case OutageReset:
		return FaultReset, snapshot
	case OutageRateLimit:
		return FaultRateLimit, snapshot
	case OutageHTML:
		return FaultHTML, snapshot
	}
	if f.MaxInFlight > 0 && inFlight > f.MaxInFlight {
		return FaultInFlight, snapshot
	}
	if f.ResetNext > 0 {
		f.ResetNext--
		return FaultReset, snapshot
	}
	if f.FailNext > 0 {
		f.FailNext--
		return FaultError, snapshot
	}
	if p := f.ErrorRatePercent; p > 0 {
		s.rateCount++
		n := s.rateCount
		if n*p/100 > (n-1)*p/100 {
			return FaultError, snapshot
		}
	}
	if f.RateLimitNext > 0 {
		f.RateLimitNext--
		return FaultRateLimit, snapshot
	}
	if f.HTMLNext > 0 {
		f.HTMLNext--
		return FaultHTML, snapshot
	}
	return "", snapshot
}
