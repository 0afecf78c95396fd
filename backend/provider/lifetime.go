package provider

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// MaxLifetime caps every token lifetime. The vendors grant 15 minutes to
// about 2 hours; a longer lifetime is far more likely a vendor or parsing
// anomaly (milliseconds sent as seconds, a clock in the wrong year) than a
// real grant. Such a lifetime is clamped, not rejected: assuming a shorter
// life is always safe, it only costs an earlier refresh, and the token is
// still usable. Token.LifetimeClamped says it happened.
const MaxLifetime = 24 * time.Hour

// Lifetime parsing rules, shared by all vendors:
//
//   - expires_in is a JSON number or a string holding a decimal number
//     ("3599", " 3599 ", "3599.0", "3.6e3"), in seconds. Fractions are
//     truncated to whole seconds. Hexadecimal, "NaN", "Inf" and anything
//     else that is not a plain decimal number are rejected.
//   - expiresAt is an RFC 3339 time, with or without fractional seconds,
//     with "Z" or a numeric offset.
//   - A missing field, JSON null, or an empty (or blank) string means the
//     vendor gave no lifetime: Params.DefaultTTL is assumed and
//     Token.LifetimeDefaulted is set. It never means "forever".
//   - A lifetime of zero or less (after truncation) is an error: the token
//     would already be expired.
//   - Any other JSON type (bool, object, array) is an error.
//   - A lifetime over MaxLifetime is clamped to it.

var (
	errLifetimeExpired = errors.New("is zero or negative: the token would already be expired")
	errLifetimeType    = errors.New("is neither a number nor a string")
	errLifetimeNumber  = errors.New("is not a decimal number of seconds")
	errLifetimeTime    = errors.New("is not an RFC 3339 time")
)

// decimalRe is a plain decimal number, as JSON writes numbers (with an
// optional leading plus sign and dot forms such as "3599." or ".5").
var decimalRe = regexp.MustCompile(`^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$`)

// maxDurationSeconds is the largest whole number of seconds a
// time.Duration holds.
const maxDurationSeconds = math.MaxInt64 / int64(time.Second)

// ParseExpiresIn reads a relative lifetime in seconds (a JSON number or a
// numeric string). present is false when the value is missing, null or an
// empty string; err is set for anything unusable, including a lifetime of
// zero or less. Lifetimes too large for a time.Duration saturate at its
// largest whole number of seconds; callers clamp to MaxLifetime.
func ParseExpiresIn(raw json.RawMessage) (d time.Duration, present bool, err error) {
	text, present, err := scalarText(raw)
	if err != nil || !present {
		return 0, present, err
	}
	if !decimalRe.MatchString(text) {
		return 0, true, errLifetimeNumber
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, true, errLifetimeNumber
	}
	// ErrRange leaves f at ±Inf (too large) or 0 (too small); both are
	// handled below as finite decimals would be.
	f = math.Trunc(f)
	if f < 1 {
		return 0, true, errLifetimeExpired
	}
	if f >= float64(maxDurationSeconds) {
		return time.Duration(maxDurationSeconds) * time.Second, true, nil
	}
	return time.Duration(f) * time.Second, true, nil
}

// ParseExpiresAt reads an absolute expiry written in RFC 3339. present is
// false when the value is missing, null or an empty string.
func ParseExpiresAt(raw json.RawMessage) (t time.Time, present bool, err error) {
	text, present, err := scalarText(raw)
	if err != nil || !present {
		return time.Time{}, present, err
	}
	// A JSON number is not a time: epoch seconds and milliseconds cannot be
	// told apart, so guessing is worse than failing.
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte(`"`)) {
		if t, err := time.Parse(time.RFC3339Nano, text); err == nil {
			return t, true, nil
		}
	}
	return time.Time{}, true, errLifetimeTime
}

// scalarText returns the text of a JSON number or string, trimmed of
// whitespace. present is false for a missing value, null and a blank string.
func scalarText(raw json.RawMessage) (text string, present bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", false, nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", true, errLifetimeType
		}
		s = strings.TrimSpace(s)
		return s, s != "", nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", true, errLifetimeNumber
		}
		return n.String(), true, nil
	default:
		return "", true, errLifetimeType
	}
}

// expiry is a resolved token expiry.
type expiry struct {
	at        time.Time
	defaulted bool
	clamped   bool
}

// errNoDefaultTTL is returned when a response has no lifetime and no
// default is configured.
var errNoDefaultTTL = errors.New("the response carries no lifetime and no default token TTL is configured")

// relativeExpiry resolves an expires_in value received at now.
func relativeExpiry(raw json.RawMessage, now time.Time, defaultTTL time.Duration) (expiry, error) {
	d, present, err := ParseExpiresIn(raw)
	if err != nil {
		return expiry{}, err
	}
	if !present {
		return defaultExpiry(now, defaultTTL)
	}
	return clampExpiry(now, d, false), nil
}

// absoluteExpiry resolves an expiresAt value received at now. When the
// response carries a parsable Date header, the lifetime is measured on the
// vendor's clock (expiresAt - Date) and then applied to the local clock, so a
// skewed local clock cannot stretch or shrink it. Without Date, expiresAt is
// taken as is.
func absoluteExpiry(raw json.RawMessage, date string, now time.Time, defaultTTL time.Duration) (expiry, error) {
	at, present, err := ParseExpiresAt(raw)
	if err != nil {
		return expiry{}, err
	}
	if !present {
		return defaultExpiry(now, defaultTTL)
	}
	ref := now
	if d, err := http.ParseTime(date); err == nil {
		ref = d
	}
	life := at.Sub(ref) // saturates rather than overflows
	if life <= 0 {
		return expiry{}, errLifetimeExpired
	}
	return clampExpiry(now, life, false), nil
}

func defaultExpiry(now time.Time, defaultTTL time.Duration) (expiry, error) {
	if defaultTTL <= 0 {
		return expiry{}, errNoDefaultTTL
	}
	return clampExpiry(now, defaultTTL, true), nil
}

func clampExpiry(now time.Time, life time.Duration, defaulted bool) expiry {
	clamped := life > MaxLifetime
	if clamped {
		life = MaxLifetime
	}
	return expiry{at: now.Add(life), defaulted: defaulted, clamped: clamped}
}
