package provider

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"
)

var testNow = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

func TestParseExpiresIn(t *testing.T) {
	t.Parallel()
	saturated := time.Duration(maxDurationSeconds) * time.Second
	runFieldCases(t, ParseExpiresIn, func(a, b time.Duration) bool { return a == b }, map[string]fieldCase[time.Duration]{
		"missing":                  {raw: "", wantPresent: false},
		"null":                     {raw: `null`, wantPresent: false},
		"empty string":             {raw: `""`, wantPresent: false},
		"blank string":             {raw: `"  \t "`, wantPresent: false},
		"integer":                  {raw: `7199`, want: 7199 * time.Second, wantPresent: true},
		"integer with spaces":      {raw: ` 900 `, want: 900 * time.Second, wantPresent: true},
		"numeric string":           {raw: `"3599"`, want: 3599 * time.Second, wantPresent: true},
		"numeric string padded":    {raw: `" 3480\n"`, want: 3480 * time.Second, wantPresent: true},
		"float truncated":          {raw: `3599.9`, want: 3599 * time.Second, wantPresent: true},
		"float string":             {raw: `"3599.0"`, want: 3599 * time.Second, wantPresent: true},
		"exponent":                 {raw: `3.6e3`, want: time.Hour, wantPresent: true},
		"exponent string":          {raw: `"3.6E3"`, want: time.Hour, wantPresent: true},
		"plus sign string":         {raw: `"+60"`, want: time.Minute, wantPresent: true},
		"trailing dot string":      {raw: `"60."`, want: time.Minute, wantPresent: true},
		"one second":               {raw: `1`, want: time.Second, wantPresent: true},
		"zero":                     {raw: `0`, wantPresent: true, wantErr: errLifetimeExpired},
		"zero string":              {raw: `"0"`, wantPresent: true, wantErr: errLifetimeExpired},
		"negative":                 {raw: `-5`, wantPresent: true, wantErr: errLifetimeExpired},
		"negative string":          {raw: `"-3600"`, wantPresent: true, wantErr: errLifetimeExpired},
		"negative zero":            {raw: `-0`, wantPresent: true, wantErr: errLifetimeExpired},
		"under a second":           {raw: `0.5`, wantPresent: true, wantErr: errLifetimeExpired},
		"underflow":                {raw: `1e-400`, wantPresent: true, wantErr: errLifetimeExpired},
		"ten years":                {raw: `315360000`, want: 315360000 * time.Second, wantPresent: true},
		"overflows a duration":     {raw: `"99999999999999999999"`, want: saturated, wantPresent: true},
		"overflows a float":        {raw: `1e400`, want: saturated, wantPresent: true},
		"NaN string":               {raw: `"NaN"`, wantPresent: true, wantErr: errLifetimeNumber},
		"Inf string":               {raw: `"Inf"`, wantPresent: true, wantErr: errLifetimeNumber},
		"hex string":               {raw: `"0x10"`, wantPresent: true, wantErr: errLifetimeNumber},
		"underscore string":        {raw: `"3_600"`, wantPresent: true, wantErr: errLifetimeNumber},
		"word":                     {raw: `"soon"`, wantPresent: true, wantErr: errLifetimeNumber},
		"number with unit":         {raw: `"3600s"`, wantPresent: true, wantErr: errLifetimeNumber},
		"bool":                     {raw: `true`, wantPresent: true, wantErr: errLifetimeType},
		"object":                   {raw: `{"seconds":3600}`, wantPresent: true, wantErr: errLifetimeType},
		"array":                    {raw: `[3600]`, wantPresent: true, wantErr: errLifetimeType},
		"invalid JSON number":      {raw: `12abc`, wantPresent: true, wantErr: errLifetimeNumber},
		"unterminated JSON string": {raw: `"3600`, wantPresent: true, wantErr: errLifetimeType},
	})
}

// fieldCase is a lifetime field as a response holds it and what parsing it
// must give.
type fieldCase[T any] struct {
	raw         string // "" means the field is missing
	want        T
	wantPresent bool
	wantErr     error
}

// runFieldCases parses each case's field with parse, in a subtest of its
// own, and checks the error, whether the field is present and the value
// (compared with equal).
func runFieldCases[T any](t *testing.T, parse func(json.RawMessage) (T, bool, error), equal func(a, b T) bool, cases map[string]fieldCase[T]) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, present, err := parse(json.RawMessage(tc.raw))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if present != tc.wantPresent {
				t.Errorf("present = %v, want %v", present, tc.wantPresent)
			}
			if !equal(got, tc.want) {
				t.Errorf("value = %v, want %v", got, tc.want)
			}
		})
	}
}

// expectExpiry checks an expiry against a case: the error, or else the
// time and whether it was defaulted or clamped.
func expectExpiry(t *testing.T, got expiry, err, wantErr error, want expiry) {
	t.Helper()
	if !errors.Is(err, wantErr) {
		t.Fatalf("err = %v, want %v", err, wantErr)
	}
	if err != nil {
		return
	}
	if !got.at.Equal(want.at) {
		t.Errorf("expires at %v, want %v", got.at, want.at)
	}
	if got.defaulted != want.defaulted || got.clamped != want.clamped {
		t.Errorf("defaulted, clamped = %v, %v; want %v, %v", got.defaulted, got.clamped, want.defaulted, want.clamped)
	}
}

func TestParseExpiresAt(t *testing.T) {
	t.Parallel()
	documented := time.Date(2017, 9, 11, 0, 19, 24, 0, time.UTC)
	runFieldCases(t, ParseExpiresAt, time.Time.Equal, map[string]fieldCase[time.Time]{
		"documented example":      {raw: `"2017-09-11T00:19:24Z"`, want: documented, wantPresent: true},
		"fractional seconds":      {raw: `"2017-09-11T00:19:24.123456Z"`, want: documented.Add(123456 * time.Microsecond), wantPresent: true},
		"positive offset":         {raw: `"2017-09-11T02:19:24+02:00"`, want: documented, wantPresent: true},
		"negative offset, frac":   {raw: `"2017-09-10T18:49:24.5-05:30"`, want: documented.Add(500 * time.Millisecond), wantPresent: true},
		"padded":                  {raw: `" 2017-09-11T00:19:24Z "`, want: documented, wantPresent: true},
		"missing":                 {raw: ``},
		"null":                    {raw: `null`},
		"empty string":            {raw: `""`},
		"epoch seconds":           {raw: `1505089164`, wantPresent: true, wantErr: errLifetimeTime},
		"epoch seconds as string": {raw: `"1505089164"`, wantPresent: true, wantErr: errLifetimeTime},
		"space separator":         {raw: `"2017-09-11 00:19:24Z"`, wantPresent: true, wantErr: errLifetimeTime},
		"no zone":                 {raw: `"2017-09-11T00:19:24"`, wantPresent: true, wantErr: errLifetimeTime},
		"HTTP date":               {raw: `"Mon, 11 Sep 2017 00:19:24 GMT"`, wantPresent: true, wantErr: errLifetimeTime},
		"garbage":                 {raw: `"tomorrow"`, wantPresent: true, wantErr: errLifetimeTime},
		"bool":                    {raw: `false`, wantPresent: true, wantErr: errLifetimeType},
		"object":                  {raw: `{}`, wantPresent: true, wantErr: errLifetimeType},
	})
}

func TestRelativeExpiry(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		raw           string
		defaultTTL    time.Duration
		wantLife      time.Duration
		wantDefaulted bool
		wantClamped   bool
		wantErr       error
	}{
		"given":                     {raw: `900`, defaultTTL: time.Hour, wantLife: 900 * time.Second},
		"missing uses default":      {raw: ``, defaultTTL: 10 * time.Minute, wantLife: 10 * time.Minute, wantDefaulted: true},
		"null uses default":         {raw: `null`, defaultTTL: 10 * time.Minute, wantLife: 10 * time.Minute, wantDefaulted: true},
		"missing and no default":    {raw: ``, wantErr: errNoDefaultTTL},
		"default over the cap":      {raw: ``, defaultTTL: 48 * time.Hour, wantLife: MaxLifetime, wantDefaulted: true, wantClamped: true},
		"ten years clamped":         {raw: `315360000`, defaultTTL: time.Hour, wantLife: MaxLifetime, wantClamped: true},
		"just over the cap clamped": {raw: `86401`, defaultTTL: time.Hour, wantLife: MaxLifetime, wantClamped: true},
		"exactly the cap":           {raw: `86400`, defaultTTL: time.Hour, wantLife: MaxLifetime},
		"zero is an error":          {raw: `0`, defaultTTL: time.Hour, wantErr: errLifetimeExpired},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			exp, err := relativeExpiry(json.RawMessage(tc.raw), testNow, tc.defaultTTL)
			expectExpiry(t, exp, err, tc.wantErr, expiry{at: testNow.Add(tc.wantLife), defaulted: tc.wantDefaulted, clamped: tc.wantClamped})
		})
	}
}

func TestAbsoluteExpiry(t *testing.T) {
	t.Parallel()
	vendorNow := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	httpDate := func(t time.Time) string { return t.UTC().Format(http.TimeFormat) }
	rfc := func(t time.Time) string { return `"` + t.Format(time.RFC3339Nano) + `"` }
	cases := map[string]struct {
		raw           string
		date          string
		now           time.Time
		wantExpiresAt time.Time
		wantDefaulted bool
		wantClamped   bool
		wantErr       error
	}{
		"no Date: taken as is": {
			raw: rfc(vendorNow.Add(15 * time.Minute)), now: vendorNow,
			wantExpiresAt: vendorNow.Add(15 * time.Minute),
		},
		"Date equal to local clock": {
			raw: rfc(vendorNow.Add(15 * time.Minute)), date: httpDate(vendorNow), now: vendorNow,
			wantExpiresAt: vendorNow.Add(15 * time.Minute),
		},
		"local clock 10 minutes ahead": {
			// Taken as is, the token would seem to have 5 minutes; measured
			// on the vendor's clock it has 15.
			raw: rfc(vendorNow.Add(15 * time.Minute)), date: httpDate(vendorNow), now: vendorNow.Add(10 * time.Minute),
			wantExpiresAt: vendorNow.Add(25 * time.Minute),
		},
		"local clock 10 minutes behind": {
			// Taken as is, the token would seem to have 25 minutes: a lease
			// would outlive it.
			raw: rfc(vendorNow.Add(15 * time.Minute)), date: httpDate(vendorNow), now: vendorNow.Add(-10 * time.Minute),
			wantExpiresAt: vendorNow.Add(5 * time.Minute),
		},
		"offset and fraction with Date": {
			raw: `"2025-03-04T12:15:00.750+02:00"`, date: httpDate(vendorNow), now: vendorNow,
			wantExpiresAt: vendorNow.Add(15*time.Minute + 750*time.Millisecond),
		},
		"unparsable Date ignored": {
			raw: rfc(vendorNow.Add(time.Hour)), date: "yesterday", now: vendorNow,
			wantExpiresAt: vendorNow.Add(time.Hour),
		},
		"expired on the vendor clock, not on ours": {
			raw: rfc(vendorNow.Add(-time.Minute)), date: httpDate(vendorNow), now: vendorNow.Add(-5 * time.Minute),
			wantErr: errLifetimeExpired,
		},
		"expired without Date": {
			raw: rfc(vendorNow.Add(-time.Second)), now: vendorNow,
			wantErr: errLifetimeExpired,
		},
		"equal to Date": {
			raw: rfc(vendorNow), date: httpDate(vendorNow), now: vendorNow,
			wantErr: errLifetimeExpired,
		},
		"year 9999 clamped": {
			raw: `"9999-12-31T23:59:59Z"`, date: httpDate(vendorNow), now: vendorNow,
			wantExpiresAt: vendorNow.Add(MaxLifetime), wantClamped: true,
		},
		"Date in 1970 clamped": {
			raw: rfc(vendorNow.Add(time.Hour)), date: "Thu, 01 Jan 1970 00:00:00 GMT", now: vendorNow,
			wantExpiresAt: vendorNow.Add(MaxLifetime), wantClamped: true,
		},
		"missing uses default": {
			raw: ``, date: httpDate(vendorNow), now: vendorNow,
			wantExpiresAt: vendorNow.Add(30 * time.Minute), wantDefaulted: true,
		},
		"not a time": {
			raw: `1741082400`, now: vendorNow, wantErr: errLifetimeTime,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			exp, err := absoluteExpiry(json.RawMessage(tc.raw), tc.date, tc.now, 30*time.Minute)
			expectExpiry(t, exp, err, tc.wantErr, expiry{at: tc.wantExpiresAt, defaulted: tc.wantDefaulted, clamped: tc.wantClamped})
		})
	}
}
