package provider

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/hashicorp/go-hclog"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testkit"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 10 * time.Second

// fastOptions retries quickly, so retry tests take milliseconds.
func fastOptions() ClientOptions {
	return ClientOptions{RetryWaitMin: time.Millisecond, RetryWaitMax: 2 * time.Millisecond, Now: func() time.Time { return testNow }}
}

// vendor is an httptest token endpoint that counts its requests. respond
// gets the request number (from 1).
type vendor struct {
	*httptest.Server
	hits atomic.Int32
}

func newVendor(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, n int)) *vendor {
	t.Helper()
	v := &vendor{}
	v.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		respond(w, r, int(v.hits.Add(1)))
	}))
	t.Cleanup(v.Close)
	return v
}

func newTestClient(t *testing.T, opts ClientOptions) *Client {
	t.Helper()
	c, err := NewClient(opts)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body) //nolint:gosec // G705: a test server writing its own fixture
}

const okBody = `{"access_token":"tok","token_type":"Bearer","expires_in":900}`

// mustFetch fetches params with a new client of opts and fails the test on
// an error.
func mustFetch(t *testing.T, opts ClientOptions, params Params) Token {
	t.Helper()
	tok, err := newTestClient(t, opts).Fetch(fetchCtx(t), params)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	return tok
}

func fetchCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// asError returns err as an *Error or fails the test.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want *Error", err)
	}
	return pe
}

// TestFetchEveryProvider runs each provider end to end against an endpoint
// that checks the request the way the vendor documents it.
func TestFetchEveryProvider(t *testing.T) {
	t.Parallel()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("acme:"+testSecret))
	form := func(pairs ...string) string {
		var b strings.Builder
		for i := 0; i+1 < len(pairs); i += 2 {
			if i > 0 {
				b.WriteByte('&')
			}
			b.WriteString(pairs[i] + "=" + pairs[i+1])
		}
		return b.String()
	}
	esc := "cl1ent-S3cret%2Fwith%2Bspecial%26chars%3D" // testSecret, form-encoded
	cases := map[string]struct {
		provider  string
		path      string
		wantAuth  string
		wantType  string
		wantBody  string
		status    int
		respBody  string
		wantExtra map[string]string
	}{
		"saas security": {
			provider: PaloAltoSaaSSecurity, path: "/oauth/token", wantAuth: basic, wantType: contentTypeForm,
			wantBody: form("grant_type", "client_credentials", "scope", "api_access"),
			status:   200, respBody: saasDocBody,
			wantExtra: map[string]string{"tenant": "test tenant", "jti": "d66abfad-8c3c-40d1-8c1f-91cc0e1931f1"},
		},
		"scm": {
			provider: PaloAltoSCM, path: "/am/oauth2/access_token", wantAuth: basic, wantType: contentTypeForm,
			wantBody: form("grant_type", "client_credentials", "scope", "tsg_id%3A1234567890"),
			status:   200, respBody: scmDocBody,
			wantExtra: map[string]string{"tsg_id": "1234567890"},
		},
		"oracle casb": {
			provider: OracleCASB, path: "/api/v1/token", wantType: contentTypeJSON,
			wantBody: `{"accessKey":"BLHZKSBNTO7DIYRB3DRQ","accessSecret":"` + testAccessSecret + `"}`,
			// The server sets Date from the real clock: expiresAt is an hour after it.
			status: 201, respBody: `{"accessToken":"tok","tenantId":"tid","expiresAt":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`,
			wantExtra: map[string]string{"tenant_id": "tid"},
		},
		"bright pattern": {
			provider: BrightPattern, path: "/configapi/v2/oauth/token", wantType: contentTypeForm,
			wantBody: form("grant_type", "client_credentials", "client_id", "acme", "client_secret", esc, "scope", "example.com"),
			status:   200, respBody: brightDocBody,
			wantExtra: map[string]string{},
		},
		"oauth2": {
			provider: OAuth2, path: "/token", wantType: contentTypeForm,
			wantAuth: "Basic " + base64.StdEncoding.EncodeToString([]byte("acme:"+esc)),
			wantBody: form("grant_type", "client_credentials"),
			status:   200, respBody: okBody,
			wantExtra: map[string]string{},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var problems []string
			v := newVendor(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				body, _ := io.ReadAll(r.Body)
				mu.Lock()
				defer mu.Unlock()
				check := func(what, got, want string) {
					if got != want {
						problems = append(problems, what+" = "+got+", want "+want)
					}
				}
				check("method", r.Method, http.MethodPost)
				check("path", r.URL.Path, tc.path)
				check("Authorization", r.Header.Get("Authorization"), tc.wantAuth)
				check("Content-Type", r.Header.Get("Content-Type"), tc.wantType)
				check("Accept", r.Header.Get("Accept"), "application/json")
				check("User-Agent", r.Header.Get("User-Agent"), "vault-plugin-secrets-palo/v9.9.9")
				check("body", string(body), tc.wantBody)
				reply(w, tc.status, tc.respBody)
			})
			opts := fastOptions()
			opts.UserAgent = "vault-plugin-secrets-palo/v9.9.9"
			tok := mustFetch(t, opts, testParams(tc.provider, v.URL+tc.path))
			mu.Lock()
			defer mu.Unlock()
			for _, p := range problems {
				t.Error(p)
			}
			if tok.AccessToken == "" || !tok.IssuedAt.Equal(testNow) || !tok.ExpiresAt.After(testNow) {
				t.Errorf("token = %+v", tok)
			}
			if len(tok.Extra) != len(tc.wantExtra) {
				t.Errorf("Extra = %v, want %v", tok.Extra, tc.wantExtra)
			}
			for k, want := range tc.wantExtra {
				if tok.Extra[k] != want {
					t.Errorf("Extra[%s] = %q, want %q", k, tok.Extra[k], want)
				}
			}
		})
	}
}

func TestFetchRetriesThenSucceeds(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		status int
		header http.Header
	}{
		"503":                     {status: 503},
		"500":                     {status: 500},
		"408":                     {status: 408},
		"429":                     {status: 429},
		"429 with Retry-After: 0": {status: 429, header: http.Header{"Retry-After": {"0"}}},
		"503 with a past date":    {status: 503, header: http.Header{"Retry-After": {"Mon, 02 Jan 2006 15:04:05 GMT"}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v := newVendor(t, func(w http.ResponseWriter, r *http.Request, n int) {
				body, _ := io.ReadAll(r.Body)
				if string(body) != "grant_type=client_credentials" {
					reply(w, 400, `{"error":"invalid_request","error_description":"body not replayed"}`)
					return
				}
				if n < 3 {
					for k, vals := range tc.header {
						w.Header()[k] = vals
					}
					reply(w, tc.status, `{"message":"busy"}`)
					return
				}
				reply(w, 200, okBody)
			})
			tok := mustFetch(t, fastOptions(), testParams(OAuth2, v.URL))
			if tok.AccessToken != "tok" {
				t.Errorf("token = %q", tok.AccessToken)
			}
			if got := v.hits.Load(); got != 3 || tok.Attempts != 3 {
				t.Errorf("vendor saw %d requests, the token reports %d attempts; want 3", got, tok.Attempts)
			}
		})
	}
}

func TestFetchNeverRetries4xx(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		status   int
		body     string
		wantKind Kind
	}{
		"400":                {status: 400, body: `{"error":"invalid_scope"}`, wantKind: KindRequest},
		"400 invalid_client": {status: 400, body: `{"error":"invalid_client","error_description":"Client authentication failed"}`, wantKind: KindCredentials},
		"401":                {status: 401, body: ``, wantKind: KindCredentials},
		"403":                {status: 403, body: `{"message":"Forbidden"}`, wantKind: KindCredentials},
		"404":                {status: 404, body: `not found`, wantKind: KindRequest},
		"200 without token":  {status: 200, body: oracleRuntimeFailure, wantKind: KindRequest},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v := newVendor(t, func(w http.ResponseWriter, _ *http.Request, _ int) { reply(w, tc.status, tc.body) })
			c := newTestClient(t, fastOptions())
			_, err := c.Fetch(fetchCtx(t), testParams(BrightPattern, v.URL))
			pe := asError(t, err)
			if pe.Kind != tc.wantKind || pe.StatusCode != tc.status || pe.Attempts != 1 {
				t.Errorf("kind, status, attempts = %v, %d, %d; want %v, %d, 1", pe.Kind, pe.StatusCode, pe.Attempts, tc.wantKind, tc.status)
			}
			if got := v.hits.Load(); got != 1 {
				t.Errorf("vendor saw %d requests, want 1", got)
			}
			if IsCredentialError(err) != (tc.wantKind == KindCredentials) || IsTransient(err) {
				t.Errorf("IsCredentialError, IsTransient = %v, %v", IsCredentialError(err), IsTransient(err))
			}
		})
	}
}

func TestFetchGivesUpAfterRetryMax(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		retryMax     int
		wantAttempts int
	}{
		"default":  {retryMax: 0, wantAttempts: DefaultRetryMax + 1},
		"one":      {retryMax: 1, wantAttempts: 2},
		"disabled": {retryMax: -1, wantAttempts: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v := newVendor(t, func(w http.ResponseWriter, _ *http.Request, n int) {
				reply(w, 503, `{"message":"overloaded `+strconv.Itoa(n)+`"}`)
			})
			opts := fastOptions()
			opts.RetryMax = tc.retryMax
			c := newTestClient(t, opts)
			_, err := c.Fetch(fetchCtx(t), testParams(PaloAltoSCM, v.URL))
			pe := asError(t, err)
			last := "overloaded " + strconv.Itoa(tc.wantAttempts)
			if pe.Kind != KindTransient || pe.StatusCode != http.StatusServiceUnavailable || pe.Attempts != tc.wantAttempts || pe.Message != last {
				t.Errorf("error = %+v; want transient 503 %q after %d attempts", pe, last, tc.wantAttempts)
			}
			if got := int(v.hits.Load()); got != tc.wantAttempts {
				t.Errorf("vendor saw %d requests, want %d", got, tc.wantAttempts)
			}
			if tc.wantAttempts > 1 && !strings.Contains(err.Error(), "after "+strconv.Itoa(tc.wantAttempts)+" attempts") {
				t.Errorf("error %q does not count the attempts", err)
			}
		})
	}
}

// TestFetchWaitPastDeadlineNotStarted: a wait that would end after the
// deadline is not started; the last failure comes back at once, as itself.
func TestFetchWaitPastDeadlineNotStarted(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		status  int
		header  func() http.Header
		waitMin time.Duration
	}{
		"Retry-After seconds": {
			status: 429, header: func() http.Header { return http.Header{"Retry-After": {"30"}} },
		},
		"Retry-After HTTP date": {
			status: 503, header: func() http.Header {
				now := time.Now()
				return http.Header{
					"Date":        {now.UTC().Format(http.TimeFormat)},
					"Retry-After": {now.Add(45 * time.Second).UTC().Format(http.TimeFormat)},
				}
			},
		},
		"backoff longer than the deadline": {
			status: 502, header: func() http.Header { return http.Header{} }, waitMin: time.Hour,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v := newVendor(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				for k, vals := range tc.header() {
					w.Header()[k] = vals
				}
				reply(w, tc.status, `{"error":"temporarily_unavailable","error_description":"try later"}`)
			})
			opts := fastOptions()
			if tc.waitMin > 0 {
				opts.RetryWaitMin, opts.RetryWaitMax = tc.waitMin, tc.waitMin
			}
			c := newTestClient(t, opts)
			// The deadline is well short of the wait but long enough for
			// one request on a loaded machine.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := c.Fetch(ctx, testParams(OAuth2, v.URL))
			pe := asError(t, err)
			if pe.Kind != KindTransient || pe.StatusCode != tc.status || pe.Code != "temporarily_unavailable" || pe.Attempts != 1 {
				t.Errorf("error = %+v; want the vendor's transient %d after 1 attempt", pe, tc.status)
			}
			if pe.Err != nil {
				t.Errorf("the fetch waited for the deadline: Err = %v", pe.Err)
			}
			if got := v.hits.Load(); got != 1 {
				t.Errorf("vendor saw %d requests, want 1", got)
			}
		})
	}
}

func TestFetchDeadlineWhileVendorHangs(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	v := newVendor(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		select {
		case <-r.Context().Done():
		case <-release:
		case <-time.After(testTimeout):
		}
	})
	t.Cleanup(func() { close(release) })
	c := newTestClient(t, fastOptions())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Fetch(ctx, testParams(OAuth2, v.URL))
	pe := asError(t, err)
	if pe.Kind != KindTransient || !errors.Is(err, context.DeadlineExceeded) || !IsTransient(err) {
		t.Errorf("error = %+v; want transient wrapping DeadlineExceeded", pe)
	}
	if !strings.Contains(pe.Message, "timed out") {
		t.Errorf("message %q does not say it timed out", pe.Message)
	}
	if pe.Attempts != 1 {
		t.Errorf("attempts = %d, want 1", pe.Attempts)
	}
}

func TestFetchCancelledWhileWaitingToRetry(t *testing.T) {
	t.Parallel()
	v := newVendor(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		reply(w, 503, `{"message":"maintenance"}`)
	})
	// The client logs its decision to retry just before it starts waiting.
	waiting := &signalWriter{match: "retry=true", ch: make(chan struct{}, 1)}
	opts := fastOptions()
	opts.RetryWaitMin, opts.RetryWaitMax = time.Hour, time.Hour // no deadline: the wait starts
	opts.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: waiting})
	c := newTestClient(t, opts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.Fetch(ctx, testParams(OAuth2, v.URL))
		done <- err
	}()
	select {
	case <-waiting.ch:
	case <-time.After(testTimeout):
		t.Fatal("the client never decided to retry")
	}
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(testTimeout):
		t.Fatal("Fetch did not return after cancellation")
	}
	pe := asError(t, err)
	if pe.Kind != KindTransient || pe.StatusCode != http.StatusServiceUnavailable || !errors.Is(err, context.Canceled) || pe.Attempts != 1 {
		t.Errorf("error = %+v; want transient 503 wrapping Canceled after 1 attempt", pe)
	}
	if !strings.Contains(pe.Message, "maintenance") || !strings.Contains(pe.Message, "cancelled") {
		t.Errorf("message %q should name the vendor's failure and the cancellation", pe.Message)
	}
}

func TestFetchAlreadyCancelled(t *testing.T) {
	t.Parallel()
	v := newVendor(t, func(w http.ResponseWriter, _ *http.Request, _ int) { reply(w, 200, okBody) })
	c := newTestClient(t, fastOptions())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Fetch(ctx, testParams(OAuth2, v.URL))
	pe := asError(t, err)
	if pe.Kind != KindTransient || !errors.Is(err, context.Canceled) {
		t.Errorf("error = %+v; want transient wrapping Canceled", pe)
	}
	if got := v.hits.Load(); got != 0 {
		t.Errorf("vendor saw %d requests, want 0", got)
	}
}

func TestFetchNetworkErrorRetried(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens there any more
	opts := fastOptions()
	opts.RetryMax = 2
	c := newTestClient(t, opts)
	_, err := c.Fetch(fetchCtx(t), testParams(OAuth2, addr))
	pe := asError(t, err)
	if pe.Kind != KindTransient || pe.StatusCode != 0 || pe.Attempts != 3 || pe.Err == nil {
		t.Errorf("error = %+v; want transient network error after 3 attempts", pe)
	}
	if !strings.Contains(pe.Message, "network error") {
		t.Errorf("message %q", pe.Message)
	}
}

func TestFetchTruncatedBodyRetried(t *testing.T) {
	t.Parallel()
	v := newVendor(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 1 {
			// Promise more than is sent: the connection is closed mid-body.
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, `{"access_tok`)
			return
		}
		reply(w, 200, okBody)
	})
	tok := mustFetch(t, fastOptions(), testParams(OAuth2, v.URL))
	if tok.AccessToken != "tok" || v.hits.Load() != 2 {
		t.Errorf("token %q after %d requests; want tok after 2", tok.AccessToken, v.hits.Load())
	}
}

func TestFetchBodyLimit(t *testing.T) {
	t.Parallel()
	const limit = 128
	exact := okBody + strings.Repeat(" ", limit-len(okBody))
	cases := map[string]struct {
		status   int
		body     string
		wantErr  bool
		wantKind Kind
	}{
		"exactly the limit":    {status: 200, body: exact},
		"one byte over":        {status: 200, body: exact + " ", wantErr: true, wantKind: KindResponse},
		"huge success":         {status: 200, body: `{"access_token":"` + strings.Repeat("x", 1<<20) + `"}`, wantErr: true, wantKind: KindResponse},
		"huge 503 not retried": {status: 503, body: strings.Repeat("<p>error</p>", 1000), wantErr: true, wantKind: KindResponse},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v := newVendor(t, func(w http.ResponseWriter, _ *http.Request, _ int) { reply(w, tc.status, tc.body) })
			opts := fastOptions()
			opts.MaxBodyBytes = limit
			c := newTestClient(t, opts)
			_, err := c.Fetch(fetchCtx(t), testParams(OAuth2, v.URL))
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
				return
			}
			pe := asError(t, err)
			if pe.Kind != tc.wantKind || pe.StatusCode != tc.status || !strings.Contains(pe.Message, "larger than 128 bytes") {
				t.Errorf("error = %+v", pe)
			}
			if got := v.hits.Load(); got != 1 {
				t.Errorf("vendor saw %d requests, want 1", got)
			}
		})
	}
}

func TestFetchDefaultBodyLimit(t *testing.T) {
	t.Parallel()
	v := newVendor(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		reply(w, 200, `{"access_token":"`+strings.Repeat("x", int(DefaultMaxBodyBytes))+`"}`)
	})
	c := newTestClient(t, fastOptions())
	_, err := c.Fetch(fetchCtx(t), testParams(OAuth2, v.URL))
	if pe := asError(t, err); pe.Kind != KindResponse {
		t.Errorf("error = %+v; want a response error", pe)
	}
}

func TestFetchHTMLErrorPage(t *testing.T) {
	t.Parallel()
	v := newVendor(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, htmlBadGateway)
	})
	opts := fastOptions()
	opts.RetryMax = -1
	c := newTestClient(t, opts)
	_, err := c.Fetch(fetchCtx(t), testParams(PaloAltoSaaSSecurity, v.URL))
	pe := asError(t, err)
	want := "paloalto_saas_security token request failed: HTTP 502: 502 Bad Gateway Bad Gateway The proxy received an invalid response & gave up."
	if err.Error() != want || pe.Kind != KindTransient {
		t.Errorf("error = %q (%v)\nwant      %q", err, pe.Kind, want)
	}
}

func TestFetchRedirectRefused(t *testing.T) {
	t.Parallel()
	elsewhere := newVendor(t, func(w http.ResponseWriter, _ *http.Request, _ int) { reply(w, 200, okBody) })
	v := newVendor(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		http.Redirect(w, r, elsewhere.URL+"/oauth/token?next=1", http.StatusTemporaryRedirect)
	})
	c := newTestClient(t, fastOptions())
	_, err := c.Fetch(fetchCtx(t), testParams(PaloAltoSaaSSecurity, v.URL+"/oauth/token"))
	pe := asError(t, err)
	if pe.Kind != KindRequest || pe.StatusCode != http.StatusTemporaryRedirect || pe.Attempts != 1 {
		t.Errorf("error = %+v; want a request error for the 307", pe)
	}
	if !strings.Contains(pe.Message, "redirected to "+elsewhere.URL+"/oauth/token;") || !strings.Contains(pe.Message, "token_url") {
		t.Errorf("message %q should name the target and token_url", pe.Message)
	}
	if got := elsewhere.hits.Load(); got != 0 {
		t.Errorf("the redirect was followed: target saw %d requests", got)
	}
}

func TestFetchUserAgent(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ set, want string }{
		"default": {set: "", want: DefaultUserAgent},
		"custom":  {set: "vault-plugin-secrets-palo/v1.2.3", want: "vault-plugin-secrets-palo/v1.2.3"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var got atomic.Value
			v := newVendor(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				got.Store(r.Header.Get("User-Agent"))
				reply(w, 200, okBody)
			})
			opts := fastOptions()
			opts.UserAgent = tc.set
			if _, err := newTestClient(t, opts).Fetch(fetchCtx(t), testParams(OAuth2, v.URL)); err != nil {
				t.Fatal(err)
			}
			if got.Load() != tc.want {
				t.Errorf("User-Agent = %v, want %q", got.Load(), tc.want)
			}
		})
	}
}

func TestFetchTLS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { reply(w, 200, okBody) }))
	t.Cleanup(srv.Close)
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))

	t.Run("custom CA accepted", func(t *testing.T) {
		t.Parallel()
		opts := fastOptions()
		opts.CACertPEM = "# a comment line, as in ca-bundle files\n" + caPEM
		tok, err := newTestClient(t, opts).Fetch(fetchCtx(t), testParams(OAuth2, srv.URL))
		if err != nil || tok.AccessToken != "tok" {
			t.Fatalf("Fetch = %+v, %v", tok, err)
		}
	})
	t.Run("unknown CA refused and not retried", func(t *testing.T) {
		t.Parallel()
		_, err := newTestClient(t, fastOptions()).Fetch(fetchCtx(t), testParams(OAuth2, srv.URL))
		pe := asError(t, err)
		if pe.Kind != KindConfig || pe.Attempts != 1 || !strings.Contains(pe.Message, "ca_cert") {
			t.Errorf("error = %+v; want a config error naming ca_cert after 1 attempt", pe)
		}
	})
	t.Run("TLS 1.1 refused", func(t *testing.T) {
		t.Parallel()
		c := newTestClient(t, fastOptions())
		tr := c.http.Transport.(*http.Transport)
		if tr.TLSClientConfig.MinVersion < 0x0303 {
			t.Errorf("MinVersion = %x, want TLS 1.2 or later", tr.TLSClientConfig.MinVersion)
		}
	})
	t.Run("plain HTTP to a TLS client is a config error", func(t *testing.T) {
		t.Parallel()
		plain := newVendor(t, func(w http.ResponseWriter, _ *http.Request, _ int) { reply(w, 200, okBody) })
		_, err := newTestClient(t, fastOptions()).Fetch(fetchCtx(t), testParams(OAuth2, strings.Replace(plain.URL, "http://", "https://", 1)))
		if pe := asError(t, err); pe.Kind != KindConfig || pe.Attempts != 1 {
			t.Errorf("error = %+v", pe)
		}
	})
}

func TestNewClientConfigErrors(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	keyB64 := base64.StdEncoding.EncodeToString(der)
	const proxyPassword = "pr0xy-Passw0rd"
	cases := map[string]struct {
		opts    ClientOptions
		wantMsg string
		secret  string
	}{
		"no PEM at all":      {opts: ClientOptions{CACertPEM: "not a certificate"}, wantMsg: "no PEM certificate"},
		"private key":        {opts: ClientOptions{CACertPEM: keyPEM}, wantMsg: `"EC PRIVATE KEY", not a CERTIFICATE`, secret: keyB64[:40]},
		"broken certificate": {opts: ClientOptions{CACertPEM: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, wantMsg: "certificate 1 cannot be parsed"},
		"proxy not a URL":    {opts: ClientOptions{ProxyURL: "http://user:" + proxyPassword + "@proxy:port"}, wantMsg: "proxy_url cannot be parsed", secret: proxyPassword},
		"proxy scheme":       {opts: ClientOptions{ProxyURL: "ftp://user:" + proxyPassword + "@proxy"}, wantMsg: "proxy_url must start with", secret: proxyPassword},
		"proxy without host": {opts: ClientOptions{ProxyURL: "http://"}, wantMsg: "proxy_url must name a host"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := NewClient(tc.opts)
			if c != nil {
				t.Error("NewClient returned a client with an error")
			}
			pe := asError(t, err)
			if pe.Kind != KindConfig || !strings.Contains(pe.Message, tc.wantMsg) {
				t.Errorf("error = %+v; want config error containing %q", pe, tc.wantMsg)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error %q quotes a secret", err)
			}
		})
	}
}

func TestFetchProxyOption(t *testing.T) {
	t.Parallel()
	var seenHost, seenURI atomic.Value
	proxy := newVendor(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		seenHost.Store(r.Host)
		seenURI.Store(r.RequestURI)
		reply(w, 200, okBody)
	})
	opts := fastOptions()
	opts.ProxyURL = proxy.URL
	c := newTestClient(t, opts)
	// Nothing listens on localhost:1: only the proxy can answer.
	tok, err := c.Fetch(fetchCtx(t), testParams(OAuth2, "http://localhost:1/oauth2/token"))
	if err != nil || tok.AccessToken != "tok" {
		t.Fatalf("Fetch = %+v, %v", tok, err)
	}
	if proxy.hits.Load() != 1 || seenHost.Load() != "localhost:1" || seenURI.Load() != "http://localhost:1/oauth2/token" {
		t.Errorf("proxy saw %d requests, host %v, URI %v", proxy.hits.Load(), seenHost.Load(), seenURI.Load())
	}
}

func TestFetchUnknownProvider(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, fastOptions())
	_, err := c.Fetch(fetchCtx(t), Params{Provider: "palo\x00alto", Values: Values{"client_secret": testSecret}})
	pe := asError(t, err)
	if pe.Kind != KindConfig || !strings.Contains(pe.Message, "unknown provider") || strings.ContainsRune(pe.Provider, 0) {
		t.Errorf("error = %+v", pe)
	}
}

// TestFetchLogs checks that attempts are logged at debug level without any
// secret, even when the vendor echoes it.
func TestFetchLogs(t *testing.T) {
	t.Parallel()
	v := newVendor(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n%2 == 1 {
			body, _ := io.ReadAll(r.Body)
			reply(w, 503, `{"message":"cannot handle `+string(body)+` `+r.Header.Get("Authorization")+`"}`)
			return
		}
		reply(w, 200, okBody)
	})
	var buf testkit.SyncBuffer
	opts := fastOptions()
	opts.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: &buf})
	for _, provider := range []string{BrightPattern, PaloAltoSCM} {
		if _, err := newTestClient(t, opts).Fetch(fetchCtx(t), testParams(provider, v.URL)); err != nil {
			t.Fatal(err)
		}
	}
	out := buf.String()
	if !strings.Contains(out, "vendor token request") || !strings.Contains(out, "retry=true") || !strings.Contains(out, "status=503") ||
		!strings.Contains(out, "duration=") {
		t.Errorf("log lacks the attempts:\n%s", out)
	}
	assertNoSecret(t, "log", out, testParams(BrightPattern, ""))
}

// signalWriter signals ch (without blocking) when a write contains match.
type signalWriter struct {
	match string
	ch    chan struct{}
}

func (s *signalWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), s.match) {
		select {
		case s.ch <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// TestTransportsShareAPoolPerCAAndProxy: Clients of one CA bundle and proxy
// share one HTTP client, others get their own, and without Transports
// nothing is shared.
func TestTransportsShareAPoolPerCAAndProxy(t *testing.T) {
	t.Parallel()
	var shared Transports
	mk := func(opts ClientOptions) *Client {
		t.Helper()
		c, err := NewClient(opts)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	ca := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	a := mk(ClientOptions{CACertPEM: ca, Transports: &shared})
	b := mk(ClientOptions{CACertPEM: ca, Transports: &shared, UserAgent: "other"})
	other := mk(ClientOptions{CACertPEM: ca, ProxyURL: "http://127.0.0.1:3128", Transports: &shared})
	plain := mk(ClientOptions{CACertPEM: ca})
	if a.http != b.http {
		t.Error("two clients of one CA bundle and proxy do not share their HTTP client")
	}
	if a.http == other.http || a.http == plain.http {
		t.Error("a client of another proxy, or one without Transports, shares the HTTP client")
	}
	if _, err := NewClient(ClientOptions{CACertPEM: "not pem", Transports: &shared}); err == nil {
		t.Error("a bad CA bundle was accepted through Transports")
	}
}

// TestTransportsHoldAClientBetweenUses: a shared client outlives the
// Clients that used it for transportHold, so that writes one after another
// reuse one pool; after that, once nothing uses it, it goes.
func TestTransportsHoldAClientBetweenUses(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	shared := Transports{now: func() time.Time { return now }}
	first, err := shared.get("", "")
	if err != nil {
		t.Fatal(err)
	}
	held := weak.Make(first)
	first = nil //nolint:ineffassign,wastedassign // dropped, as a config write drops its Client
	runtime.GC()
	if again, _ := shared.get("", ""); again != held.Value() || again == nil {
		t.Fatal("a client used a moment ago was not reused")
	}
	now = now.Add(transportHold + time.Minute)
	_, _ = shared.get("x", "") // the next use lets the idle one go
	runtime.GC()
	runtime.GC()
	if held.Value() != nil {
		t.Error("a client unused for longer than transportHold, and used by no Client, is still held")
	}
}
