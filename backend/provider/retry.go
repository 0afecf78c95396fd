package provider

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

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
