package provider

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Policy says how a vendor call is repeated: how often, after which waits,
// and which failures are worth another try.
type Policy struct {
	// Attempts is the most tries, the first included.
	Attempts int
	// WaitMin and WaitMax bound the jittered, exponential wait before each
	// repeat (see backoff).
	WaitMin, WaitMax time.Duration
	// Again reports whether a failed try may be repeated.
	Again func(err error) bool
	// After, if set, is told the outcome of each try: err is nil on
	// success; again says whether another try follows after wait.
	After func(n int, err error, again bool, wait time.Duration)
}

// Retry calls try (n counts the tries from 1) until it succeeds, fails in a
// way pol.Again refuses, has been made pol.Attempts times, or ctx ends. A
// wait that would not end before ctx's deadline is never started: Retry
// stops there instead. A failure that carries a vendor's Retry-After (an
// *Error of a response with that header) waits at least that long, capped
// at MaxRetryAfter. It returns the last try's result.
//
// Every repeated vendor call goes through Retry: token requests, IAM reads,
// secret resets whose outcome is unknown, and the checks of a rotation.
func Retry[T any](ctx context.Context, pol Policy, try func(n int) (T, error)) (T, error) {
	for n := 1; ; n++ {
		v, err := try(n)
		wait, again := pol.next(ctx, n, err)
		if pol.After != nil {
			pol.After(n, err, again, wait)
		}
		if !again {
			return v, err
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return v, err
		case <-timer.C:
		}
	}
}

// next decides whether failed try n is followed by another, and after how
// long.
func (p Policy) next(ctx context.Context, n int, err error) (time.Duration, bool) {
	if err == nil || n >= p.Attempts || ctx.Err() != nil || p.Again == nil || !p.Again(err) {
		return 0, false
	}
	now := time.Now()
	jitter := rand.Float64() //nolint:gosec // G404: jitter needs no cryptographic randomness
	wait := backoff(p.WaitMin, p.WaitMax, n-1, retryHeader(err), now, jitter)
	deadline, has := ctx.Deadline()
	return wait, fitsDeadline(now, deadline, has, wait)
}

// Floor is the shortest wait after the n-th failure (n from 1), without
// jitter: WaitMin doubling, at most WaitMax/2. A schedule that must be
// predictable (a failed scheduled rotation) waits this long.
func (p Policy) Floor(n int) time.Duration {
	return backoff(p.WaitMin, p.WaitMax, n-1, nil, time.Time{}, 0)
}

// transientPolicy repeats the failures that a repeat may cure (network
// errors, 408, 429, 5xx; see retryDecision) up to retryMax times (0:
// DefaultRetryMax; negative: never), waiting between waitMin and waitMax
// (0: the defaults). Token requests and IAM reads use it.
func transientPolicy(retryMax int, waitMin, waitMax time.Duration) Policy {
	switch {
	case retryMax == 0:
		retryMax = DefaultRetryMax
	case retryMax < 0:
		retryMax = 0
	}
	if waitMin <= 0 {
		waitMin = DefaultRetryWaitMin
	}
	if waitMax <= 0 {
		waitMax = DefaultRetryWaitMax
	}
	return Policy{Attempts: retryMax + 1, WaitMin: waitMin, WaitMax: max(waitMax, waitMin), Again: transient}
}

// transient reports whether a failed HTTP attempt is worth repeating.
func transient(err error) bool {
	var pe *Error
	if !errors.As(err, &pe) {
		return false
	}
	return retryDecision(nil, pe.StatusCode, pe.Err)
}

// retryHeader is the header of the response that failed with err, for its
// Retry-After; nil without one.
func retryHeader(err error) http.Header {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.header
	}
	return nil
}

// Retry and size defaults of ClientOptions.
const (
	DefaultRetryMax     = 3
	DefaultRetryWaitMin = 250 * time.Millisecond
	DefaultRetryWaitMax = 5 * time.Second
	// MaxRetryAfter caps a vendor's Retry-After: a longer wait is shortened
	// to it (and then, like every wait, must still fit in the deadline).
	MaxRetryAfter = 60 * time.Second
	// DefaultMaxBodyBytes is the largest response body read (1 MiB).
	DefaultMaxBodyBytes int64 = 1 << 20
)

// errBodyTooLarge marks a response body over the size limit.
var errBodyTooLarge = errors.New("response body too large")

// retryableStatus reports whether a vendor status is worth retrying: 408,
// 429 and 5xx. Every other status, 400, 401 and 403 above all, is final:
// repeating a bad login can lock a Bright Pattern user out.
func retryableStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests ||
		status >= 500 && status <= 599
}

// retryDecision reports whether an attempt should be retried. ctxErr is the
// request context's error (a cancelled or expired context is never
// retried), status the response status (0 without one) and err the network
// failure, if any (a failure that retrying cannot fix, such as an untrusted
// certificate, is not retried).
func retryDecision(ctxErr error, status int, err error) bool {
	switch {
	case ctxErr != nil:
		return false
	case err != nil:
		return !isPermanentNetError(err)
	default:
		return retryableStatus(status)
	}
}

// isPermanentNetError reports whether a network failure will recur on every
// attempt.
func isPermanentNetError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, errBodyTooLarge) || isTLSError(err)
}

// isTLSError reports whether err is a TLS failure caused by configuration:
// a certificate that does not verify, or a server that does not speak TLS.
func isTLSError(err error) bool {
	var recordHeader tls.RecordHeaderError
	return isCertError(err) || errors.As(err, &recordHeader) ||
		// net/http turns a RecordHeaderError from a plain-HTTP server into
		// this untyped error.
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

// isCertError reports whether err is a certificate that does not verify.
func isCertError(err error) bool {
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verification     *tls.CertificateVerificationError
	)
	return errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		errors.As(err, &verification)
}

// backoff returns how long to wait before retry number attempt+1 (attempt
// counts from 0). The wait is exponential and jittered: with base =
// min(max, min*2^(attempt+1)) it lies in [base/2, base), never below min
// and never above max. rnd is a random number in [0, 1). If header carries
// a Retry-After (seconds or an HTTP date), the wait is at least that long,
// capped at MaxRetryAfter. now is the local time; an HTTP date is measured
// against the response's Date header when it has one.
func backoff(minWait, maxWait time.Duration, attempt int, header http.Header, now time.Time, rnd float64) time.Duration {
	if minWait <= 0 {
		minWait = DefaultRetryWaitMin
	}
	if maxWait < minWait {
		maxWait = minWait
	}
	if rnd < 0 || rnd >= 1 {
		rnd = 0
	}
	base := minWait
	for i := 0; i <= attempt && base < maxWait; i++ {
		base *= 2
	}
	base = min(base, maxWait)
	wait := max(base/2+time.Duration(rnd*float64(base/2)), minWait)
	if ra, ok := retryAfter(header, now); ok && ra > wait {
		wait = ra
	}
	return wait
}

// retryAfter parses a Retry-After header: whole seconds or an HTTP date.
// The result is capped at MaxRetryAfter; a date in the past means no wait.
func retryAfter(header http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		// Out of range means more digits than a uint64 holds: a very long
		// wait, capped like any other.
		if err != nil || secs > uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	ref := now
	if date, err := http.ParseTime(header.Get("Date")); err == nil {
		ref = date
	}
	return min(max(at.Sub(ref), 0), MaxRetryAfter), true
}

// fitsDeadline reports whether a wait starting at now ends before the
// deadline (always, without one). A wait that would not is never started:
// the fetch stops and reports its last failure instead.
func fitsDeadline(now, deadline time.Time, hasDeadline bool, wait time.Duration) bool {
	return !hasDeadline || now.Add(wait).Before(deadline)
}
