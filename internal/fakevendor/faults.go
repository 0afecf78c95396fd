package fakevendor

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf16"
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
	// FaultEchoSecret is an error that echoes the secret (Faults.EchoSecret).
	FaultEchoSecret = "echo_secret"
	// FaultControlChar is a success with a control character in a field
	// (Faults.ControlCharField).
	FaultControlChar = "control_char"
)

// Encodings of the secret echoed by Faults.EchoSecret. Each but
// EchoJSONUnicode and EchoHTML puts the encoded secret into the error
// description of the provider's error body without escaping it further.
const (
	EchoRaw            = "raw"             // the secret as presented
	EchoPathEscape     = "path_escape"     // percent-encoded, space as %20 (url.PathEscape)
	EchoLowerHex       = "lower_hex"       // every byte but A-Z a-z 0-9 - . _ ~ as %xx in lower-case hex
	EchoForm           = "form"            // form-encoded, space as + (url.QueryEscape)
	EchoBase64         = "base64"          // standard alphabet, padded
	EchoBase64URL      = "base64url"       // URL alphabet, padded
	EchoBase64URLNoPad = "base64url_nopad" // URL alphabet, unpadded
	// EchoJSONUnicode writes every character as \uXXXX (UTF-16, surrogate
	// pairs beyond the BMP) inside an RFC 6749 body cut off mid-string.
	EchoJSONUnicode = "json_unicode"
	// EchoHTML puts the secret, HTML-escaped, into an HTML error page.
	EchoHTML = "html"
)

// echoEncoders encode the secret for each Echo* encoding.
var echoEncoders = map[string]func(string) string{
	EchoRaw:            func(s string) string { return s },
	EchoPathEscape:     url.PathEscape,
	EchoLowerHex:       lowerHexEscape,
	EchoForm:           url.QueryEscape,
	EchoBase64:         func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
	EchoBase64URL:      func(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) },
	EchoBase64URLNoPad: func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) },
	EchoJSONUnicode:    jsonUnicode,
	EchoHTML:           html.EscapeString,
}

// controlChars are the characters Faults.ControlChar names.
var controlChars = map[string]string{
	"cr": "\r", "lf": "\n", "crlf": "\r\n", "tab": "\t", "nul": "\x00", "esc": "\x1b", "del": "\x7f",
}

// controlCharFieldRe is the form of Faults.ControlCharField.
var controlCharFieldRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// tokenFields are the fields ControlCharField may not name: the token and
// its lifetime, whose faults are OmitToken and ExpiresIn.
var tokenFields = []string{"access_token", "accessToken", "expires_in", "expiresAt"}

// Faults is the whole fault configuration of a Server. The zero value injects
// nothing. Set it with Server.SetFaults (or PUT /_fake/faults) and read it
// back with Server.Faults; the counters (ResetNext, FailNext, RateLimitNext,
// HTMLNext) count down as they are used.
//
// Faults apply to token requests only, never to the admin API. For one
// request they are tried in this order, and the first that fires decides the
// response: Outage, MaxInFlight, ResetNext, FailNext, ErrorRatePercent,
// RateLimitNext, HTMLNext, EchoSecret. Delay holds every response but a
// MaxInFlight rejection, whichever fault (if any) then answers. The body
// faults (TruncateBody, OmitToken, ExpiresIn, ControlCharField) shape a
// success. RefuseKIDs refuses private_key_jwt assertions.
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

	// EchoSecret, one of the Echo* encodings, answers every token request
	// with an error (status EchoStatus) whose body echoes the secret the
	// request presented (the Basic password, client_secret, Oracle's
	// accessSecret, or the client_assertion) in that encoding.
	EchoSecret string `json:"echo_secret,omitempty"`
	// EchoStatus is the status of EchoSecret answers, 400 to 599; 0 means
	// 400.
	EchoStatus int `json:"echo_status,omitempty"`

	// ControlCharField names a field of the success body (token_type,
	// scope, tenant, tenantId, tenant_id or any other name, which is then
	// added) whose value gets ControlChar and more text appended, such as
	// "Bearer\r\nX-Injected: 1". The token is remembered: the client got it.
	ControlCharField string `json:"control_char_field,omitempty"`
	// ControlChar is cr, lf, crlf, tab, nul, esc or del; empty means crlf.
	ControlChar string `json:"control_char,omitempty"`

	// RefuseKIDs makes these kids unknown to private_key_jwt: an assertion
	// signed with one is refused as if its key were not registered, as by a
	// server that has not learnt a new key yet.
	RefuseKIDs []string `json:"refuse_kids,omitempty"`

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
	if err := parseDurations(
		durationField{"delay", w.Delay, &out.Delay},
		durationField{"retry_after", w.RetryAfter, &out.RetryAfter},
		durationField{"clock_skew", w.ClockSkew, &out.ClockSkew},
	); err != nil {
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

// durationField is a duration in a JSON form: the field's name, the string
// read, and where its value goes.
type durationField struct {
	name string
	in   string
	out  *time.Duration
}

// parseDurations sets each field's duration from its string, such as
// "1.5s" ("" is zero), and stops at the first that is not a duration.
func parseDurations(fields ...durationField) error {
	for _, f := range fields {
		var d time.Duration
		if f.in != "" {
			var err error
			if d, err = time.ParseDuration(f.in); err != nil {
				return fmt.Errorf("%s: %q is not a duration such as 1.5s", f.name, f.in)
			}
		}
		*f.out = d
	}
	return nil
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
	return f.validateBodies()
}

// validateBodies checks the echo, control character and kid faults.
func (f Faults) validateBodies() error {
	if _, ok := echoEncoders[f.EchoSecret]; f.EchoSecret != "" && !ok {
		return fmt.Errorf("echo_secret: %q is not one of %s", f.EchoSecret, strings.Join(slices.Sorted(maps.Keys(echoEncoders)), ", "))
	}
	if f.EchoStatus != 0 && (f.EchoStatus < 400 || f.EchoStatus > 599) {
		return fmt.Errorf("echo_status: %d is not between 400 and 599", f.EchoStatus)
	}
	if f.ControlCharField != "" && (!controlCharFieldRe.MatchString(f.ControlCharField) || slices.Contains(tokenFields, f.ControlCharField)) {
		return fmt.Errorf("control_char_field: %q is not a JSON field name other than %s", f.ControlCharField, strings.Join(tokenFields, ", "))
	}
	if _, ok := controlChars[f.ControlChar]; f.ControlChar != "" && !ok {
		return fmt.Errorf("control_char: %q is not one of %s", f.ControlChar, strings.Join(slices.Sorted(maps.Keys(controlChars)), ", "))
	}
	if f.ControlChar != "" && f.ControlCharField == "" {
		return errors.New("control_char: needs control_char_field")
	}
	if slices.Contains(f.RefuseKIDs, "") {
		return errors.New("refuse_kids: a kid is empty")
	}
	return nil
}

// clone returns a copy that shares no slice with f.
func (f Faults) clone() Faults {
	f.Providers = slices.Clone(f.Providers)
	f.RefuseKIDs = slices.Clone(f.RefuseKIDs)
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
	if countDown(&f.ResetNext) {
		return FaultReset, snapshot
	}
	if countDown(&f.FailNext) {
		return FaultError, snapshot
	}
	if p := f.ErrorRatePercent; p > 0 {
		s.rateCount++
		n := s.rateCount
		if n*p/100 > (n-1)*p/100 {
			return FaultError, snapshot
		}
	}
	if countDown(&f.RateLimitNext) {
		return FaultRateLimit, snapshot
	}
	if countDown(&f.HTMLNext) {
		return FaultHTML, snapshot
	}
	if f.EchoSecret != "" {
		return FaultEchoSecret, snapshot
	}
	return "", snapshot
}

// countDown takes one from a "next n requests" counter that is not used
// up, and tells whether it did.
func countDown(n *int) bool {
	if *n <= 0 {
		return false
	}
	*n--
	return true
}

// echoResponse is the EchoSecret answer to a token request of provider.
func echoResponse(provider string, in *tokenRequest) response {
	f := in.faults
	status := f.EchoStatus
	if status == 0 {
		status = http.StatusBadRequest
	}
	echo := echoEncoders[f.EchoSecret](presentedSecret(in.r, in.body))
	switch f.EchoSecret {
	case EchoHTML:
		return htmlPage(status, "<p>Invalid client secret: "+echo+"</p>\r\n")
	case EchoJSONUnicode:
		return response{status: status, header: http.Header{}, body: []byte(
			`{"error":"invalid_client","error_description":"Client authentication failed for the secret ` + echo + `; check the clie`)}
	}
	const mark = "ECHOED-SECRET"
	resp := vendorError(provider, status, "invalid_client", "The client secret "+mark+" is wrong.")
	resp.body = bytes.Replace(resp.body, []byte(mark), []byte(echo), 1)
	return resp
}

// lowerHexEscape percent-encodes every byte but the unreserved characters
// of RFC 3986 with lower-case hex digits.
func lowerHexEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}

// jsonUnicode writes every character of s as a JSON \uXXXX escape.
func jsonUnicode(s string) string {
	var b strings.Builder
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, `\u%04x`, u)
	}
	return b.String()
}

// withControlChar returns the success body with ControlChar and more text
// appended to the field ControlCharField (which is added if missing).
func (f Faults) withControlChar(body []byte) []byte {
	var fields map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&fields) != nil {
		return body
	}
	ch := controlChars[f.ControlChar]
	if f.ControlChar == "" {
		ch = controlChars["crlf"]
	}
	v, _ := fields[f.ControlCharField].(string)
	fields[f.ControlCharField] = v + ch + "X-Injected: 1"
	return jsonResponse(0, fields).body
}
