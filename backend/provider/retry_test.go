package provider

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"
)

func TestRetryDecision(t *testing.T) {
	t.Parallel()
	urlErr := func(err error) error { return &url.Error{Op: "Post", URL: "https://vendor.example/token", Err: err} }
	cases := map[string]struct {
		ctxErr error
		status int
		err    error
		want   bool
	}{
		"200":                        {status: 200, want: false},
		"201":                        {status: 201, want: false},
		"302":                        {status: 302, want: false},
		"400":                        {status: 400, want: false},
		"401":                        {status: 401, want: false},
		"403":                        {status: 403, want: false},
		"404":                        {status: 404, want: false},
		"408":                        {status: 408, want: true},
		"429":                        {status: 429, want: true},
		"500":                        {status: 500, want: true},
		"502":                        {status: 502, want: true},
		"503":                        {status: 503, want: true},
		"504":                        {status: 504, want: true},
		"503 after cancel":           {ctxErr: context.Canceled, status: 503, want: false},
		"503 after deadline":         {ctxErr: context.DeadlineExceeded, status: 503, want: false},
		"connection refused":         {err: urlErr(syscall.ECONNREFUSED), want: true},
		"connection reset":           {err: urlErr(syscall.ECONNRESET), want: true},
		"truncated body":             {err: fmt.Errorf("reading body: %w", errors.New("unexpected EOF")), want: true},
		"context canceled error":     {err: urlErr(context.Canceled), want: false},
		"deadline error":             {err: urlErr(context.DeadlineExceeded), want: false},
		"network error after cancel": {ctxErr: context.Canceled, err: urlErr(syscall.ECONNRESET), want: false},
		"unknown authority":          {err: urlErr(x509.UnknownAuthorityError{}), want: false},
		"wrong host name":            {err: urlErr(x509.HostnameError{Host: "x"}), want: false},
		"invalid certificate":        {err: urlErr(x509.CertificateInvalidError{}), want: false},
		"verification error":         {err: urlErr(&tls.CertificateVerificationError{Err: errors.New("bad")}), want: false},
		"plain HTTP server":          {err: urlErr(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), want: false},
		"body too large":             {err: errBodyTooLarge, want: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := retryDecision(tc.ctxErr, tc.status, tc.err); got != tc.want {
				t.Errorf("retryDecision(%v, %d, %v) = %v, want %v", tc.ctxErr, tc.status, tc.err, got, tc.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	const (
		ms   = time.Millisecond
		minW = 250 * ms
		maxW = 5 * time.Second
	)
	now := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	h := func(kv ...string) http.Header {
		hdr := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			hdr.Set(kv[i], kv[i+1])
		}
		return hdr
	}
	date := func(t time.Time) string { return t.Format(http.TimeFormat) }
	cases := map[string]struct {
		minW, maxW time.Duration
		attempt    int
		header     http.Header
		rnd        float64
		want       time.Duration
	}{
		"first retry, low jitter":        {attempt: 0, rnd: 0, want: 250 * ms},
		"first retry, mid jitter":        {attempt: 0, rnd: 0.5, want: 375 * ms},
		"first retry, high jitter":       {attempt: 0, rnd: 0.999, want: 499750 * time.Microsecond},
		"second retry":                   {attempt: 1, rnd: 0, want: 500 * ms},
		"third retry":                    {attempt: 2, rnd: 0.5, want: 1500 * ms},
		"fourth retry":                   {attempt: 3, rnd: 0, want: 2 * time.Second},
		"capped":                         {attempt: 4, rnd: 0, want: 2500 * ms},
		"capped, high jitter":            {attempt: 10, rnd: 0.999, want: 4997500 * time.Microsecond},
		"huge attempt does not overflow": {attempt: 1 << 30, rnd: 0.5, want: 3750 * ms},
		"jitter out of range ignored":    {attempt: 0, rnd: 7, want: 250 * ms},
		"max below min":                  {minW: time.Second, maxW: 10 * ms, attempt: 3, rnd: 0.5, want: time.Second},
		"zero min uses the default":      {minW: -1, maxW: maxW, attempt: 0, rnd: 0, want: DefaultRetryWaitMin},
		"Retry-After seconds":            {attempt: 0, header: h("Retry-After", "3"), want: 3 * time.Second},
		"Retry-After seconds padded":     {attempt: 0, header: h("Retry-After", " 2 "), want: 2 * time.Second},
		"Retry-After shorter than backoff": {
			attempt: 3, header: h("Retry-After", "1"), want: 2 * time.Second,
		},
		"Retry-After zero":                {attempt: 0, header: h("Retry-After", "0"), want: 250 * ms},
		"Retry-After capped":              {attempt: 0, header: h("Retry-After", "3600"), want: MaxRetryAfter},
		"Retry-After enormous":            {attempt: 0, header: h("Retry-After", "99999999999999999999"), want: MaxRetryAfter},
		"Retry-After plus sign ignored":   {attempt: 0, header: h("Retry-After", "+5"), want: 250 * ms},
		"Retry-After negative ignored":    {attempt: 0, header: h("Retry-After", "-5"), want: 250 * ms},
		"Retry-After garbage ignored":     {attempt: 0, header: h("Retry-After", "soon"), want: 250 * ms},
		"Retry-After date vs local clock": {attempt: 0, header: h("Retry-After", date(now.Add(7*time.Second))), want: 7 * time.Second},
		"Retry-After date vs Date header": {
			// The vendor's clock is 1 minute behind ours: the wait is
			// measured on its clock, not ours (which would give 0).
			attempt: 0, header: h("Retry-After", date(now.Add(-50*time.Second)), "Date", date(now.Add(-time.Minute))),
			want: 10 * time.Second,
		},
		"Retry-After date in the past": {attempt: 1, header: h("Retry-After", date(now.Add(-time.Hour))), want: 500 * ms},
		"Retry-After date far ahead":   {attempt: 0, header: h("Retry-After", date(now.Add(24*time.Hour))), want: MaxRetryAfter},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			lo, hi := tc.minW, tc.maxW
			if lo == 0 && hi == 0 {
				lo, hi = minW, maxW
			}
			if got := backoff(lo, hi, tc.attempt, tc.header, now, tc.rnd); got != tc.want {
				t.Errorf("backoff = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestBackoffBounds checks the documented range for every attempt and
// jitter value on a grid.
func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	minW, maxW := 100*time.Millisecond, 3*time.Second
	for attempt := range 12 {
		prevLow := time.Duration(0)
		for i := range 100 {
			rnd := float64(i) / 100
			got := backoff(minW, maxW, attempt, nil, time.Time{}, rnd)
			if got < minW || got > maxW {
				t.Fatalf("attempt %d rnd %v: %v outside [%v, %v]", attempt, rnd, got, minW, maxW)
			}
			if i == 0 {
				if got < prevLow {
					t.Fatalf("attempt %d: lowest wait %v fell below the previous attempt's", attempt, got)
				}
				prevLow = got
			}
		}
	}
}

func TestFitsDeadline(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	cases := map[string]struct {
		deadline time.Time
		has      bool
		wait     time.Duration
		want     bool
	}{
		"no deadline":         {wait: time.Hour, want: true},
		"ends before":         {deadline: now.Add(time.Second), has: true, wait: 999 * time.Millisecond, want: true},
		"ends at the instant": {deadline: now.Add(time.Second), has: true, wait: time.Second, want: false},
		"ends after":          {deadline: now.Add(time.Second), has: true, wait: 2 * time.Second, want: false},
		"deadline passed":     {deadline: now.Add(-time.Second), has: true, wait: 0, want: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := fitsDeadline(now, tc.deadline, tc.has, tc.wait); got != tc.want {
				t.Errorf("fitsDeadline = %v, want %v", got, tc.want)
			}
		})
	}
}
