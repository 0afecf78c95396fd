package provider

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-hclog"
)

// DefaultUserAgent is sent when ClientOptions.UserAgent is empty.
const DefaultUserAgent = "vault-plugin-secrets-palo"

// ClientOptions configures a Client. The zero value is usable.
type ClientOptions struct {
	// CACertPEM is a PEM bundle of certificates trusted in addition to the
	// system roots.
	CACertPEM string
	// ProxyURL is the proxy for every request (http://, https:// or
	// socks5://). When empty, HTTPS_PROXY, HTTP_PROXY and NO_PROXY of the
	// process apply.
	ProxyURL string
	// UserAgent names the plugin and its version; DefaultUserAgent if empty.
	UserAgent string
	// RetryMax is how many times a failed request may be retried: 0 selects
	// DefaultRetryMax, a negative value disables retries.
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the backoff between attempts
	// (defaults DefaultRetryWaitMin and DefaultRetryWaitMax).
	RetryWaitMin, RetryWaitMax time.Duration
	// MaxBodyBytes limits a response body; DefaultMaxBodyBytes if zero or
	// less. A larger body fails the fetch with KindResponse.
	MaxBodyBytes int64
	// Now is the clock for IssuedAt and ExpiresAt; time.Now if nil. Waits
	// and deadlines always use the real clock, as the context does.
	Now func() time.Time
	// Logger receives one debug line per attempt (never a secret or a
	// token); nothing is logged if nil.
	Logger hclog.Logger
	// Observe, when set, is called at the end of every HTTP attempt
	// (retries included) with its outcome and duration, for metrics. It
	// must be quick and safe for concurrent use.
	Observe func(Attempt)
}

// Client fetches tokens from vendor token endpoints. It is safe for
// concurrent use; one Client per config shares its connection pool.
type Client struct {
	http      *http.Client
	userAgent string
	retryMax  int
	waitMin   time.Duration
	waitMax   time.Duration
	maxBody   int64
	now       func() time.Time
	log       hclog.Logger
	observe   func(Attempt)
}

// NewClient builds a Client. An invalid CA bundle or proxy URL is a
// KindConfig *Error.
func NewClient(opts ClientOptions) (*Client, error) {
	tlsConfig, err := newTLSConfig(opts.CACertPEM)
	if err != nil {
		return nil, err
	}
	transport := cleanhttp.DefaultPooledTransport() // proxy from the environment by default
	transport.TLSClientConfig = tlsConfig
	if opts.ProxyURL != "" {
		u, err := parseProxyURL(opts.ProxyURL)
		if err != nil {
			return nil, err
		}
		transport.Proxy = http.ProxyURL(u)
	}
	c := &Client{
		http: &http.Client{
			Transport: transport,
			// Redirects are never followed: a redirect could lead to
			// another host or scheme and would re-send the credentials.
			// The 3xx comes back as a response and is reported.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		userAgent: opts.UserAgent,
		retryMax:  opts.RetryMax,
		waitMin:   opts.RetryWaitMin,
		waitMax:   opts.RetryWaitMax,
		maxBody:   opts.MaxBodyBytes,
		now:       opts.Now,
		log:       opts.Logger,
		observe:   opts.Observe,
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	switch {
	case c.retryMax == 0:
		c.retryMax = DefaultRetryMax
	case c.retryMax < 0:
		c.retryMax = 0
	}
	if c.waitMin <= 0 {
		c.waitMin = DefaultRetryWaitMin
	}
	if c.waitMax <= 0 {
		c.waitMax = DefaultRetryWaitMax
	}
	c.waitMax = max(c.waitMax, c.waitMin)
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = hclog.NewNullLogger()
	}
	return c, nil
}

// CloseIdleConnections closes the pooled connections that are idle, for
// when a Client is replaced.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// newTLSConfig trusts the system roots plus the certificates of caPEM, and
// requires TLS 1.2 or later.
func newTLSConfig(caPEM string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if strings.TrimSpace(caPEM) == "" {
		return cfg, nil // nil RootCAs: the system roots
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	rest, n := []byte(caPEM), 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		n++
		if block.Type != "CERTIFICATE" {
			// The type is a label such as "PRIVATE KEY"; the content is
			// never quoted.
			return nil, &Error{Kind: KindConfig, Message: fmt.Sprintf("ca_cert: PEM block %d is a %q, not a CERTIFICATE", n, truncate(block.Type, 40))}
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, &Error{Kind: KindConfig, Message: fmt.Sprintf("ca_cert: certificate %d cannot be parsed: %v", n, err)}
		}
		pool.AddCert(cert)
	}
	if n == 0 {
		return nil, &Error{Kind: KindConfig, Message: "ca_cert holds no PEM certificate"}
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// parseProxyURL checks a proxy URL. Its error messages never quote the URL,
// which may hold a proxy password.
func parseProxyURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, &Error{Kind: KindConfig, Message: "proxy_url cannot be parsed as a URL"}
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, &Error{Kind: KindConfig, Message: "proxy_url must start with http://, https:// or socks5://"}
	}
	if u.Host == "" {
		return nil, &Error{Kind: KindConfig, Message: "proxy_url must name a host"}
	}
	return u, nil
}

// Fetch requests a token as p describes. The caller bounds the whole fetch,
// retries included, with ctx (the config's request_timeout). A failure is an
// *Error whose Attempts counts the requests made.
//
// The loop: send one attempt; stop if it succeeded, failed for good (any
// status but 408, 429 and 5xx; a certificate that does not verify), used up
// the retries, or if the wait before the next one would not end before the
// deadline; otherwise wait (exponential, jittered, at least Retry-After) and
// send again.
func (c *Client) Fetch(ctx context.Context, p Params) (Token, error) {
	d, req, err := newRequest(ctx, p)
	if err != nil {
		return Token{}, err
	}
	req.Header.Set("User-Agent", c.userAgent)
	f := &fetch{client: c, provider: d.Name, proto: d.Protocol, params: p, redact: p.redactor()}
	for n := 1; ; n++ {
		a := c.send(ctx, req)
		wait, retry := c.nextWait(ctx, a, n)
		f.logAttempt(n, a, retry, wait)
		if !retry {
			return f.result(ctx, a, n, false)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return f.result(ctx, a, n, true)
		case <-timer.C:
		}
	}
}

// newRequest builds the token request p describes, after checking that p
// names a known provider and has every field that provider requires.
func newRequest(ctx context.Context, p Params) (Descriptor, *http.Request, error) {
	d, ok := Describe(p.Provider)
	if !ok {
		return d, nil, &Error{
			Provider: sanitize(p.Provider, p.redactor(), 40),
			Kind:     KindConfig,
			Message:  "unknown provider; expected one of " + strings.Join(Names(), ", "),
		}
	}
	if err := d.checkParams(p); err != nil {
		return d, nil, err
	}
	req, err := d.Protocol.NewRequest(ctx, p)
	return d, req, err
}

// attempt is the outcome of one HTTP request: a complete response, or the
// failure that left it without one.
type attempt struct {
	resp       *Response // nil without a complete response
	receivedAt time.Time // when resp arrived, by Client.now
	err        error     // the network failure when resp is nil
	tooLarge   int       // the status of a response whose body was over the limit
	duration   time.Duration
}

// status is the attempt's HTTP status, 0 without a response.
func (a attempt) status() int {
	if a.resp != nil {
		return a.resp.StatusCode
	}
	return a.tooLarge
}

// send makes one HTTP request and reads its response through the size
// limit. Every attempt ends here, with a status or an error and its
// duration.
func (c *Client) send(ctx context.Context, req *http.Request) attempt {
	start := time.Now()
	a := c.roundTrip(ctx, req)
	a.duration = time.Since(start)
	if c.observe != nil {
		c.observe(Attempt{Status: a.status(), Err: a.err, Duration: a.duration})
	}
	return a
}

func (c *Client) roundTrip(ctx context.Context, req *http.Request) attempt {
	r := req.Clone(ctx)
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return attempt{err: err}
		}
		r.Body = body
	}
	resp, err := c.http.Do(r)
	if err != nil {
		return attempt{err: err}
	}
	defer resp.Body.Close()
	body, err := readBody(resp.Body, c.maxBody)
	switch {
	case errors.Is(err, errBodyTooLarge):
		return attempt{tooLarge: resp.StatusCode}
	case err != nil:
		return attempt{err: err} // the connection broke mid-body: a network failure
	}
	return attempt{
		resp:       &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: body},
		receivedAt: c.now(),
	}
}

// nextWait decides whether attempt number n is followed by another, and
// after how long. An oversized body is final; so is a wait that would not
// end before the deadline.
func (c *Client) nextWait(ctx context.Context, a attempt, n int) (time.Duration, bool) {
	if a.tooLarge != 0 || n > c.retryMax || !retryDecision(ctx.Err(), a.status(), a.err) {
		return 0, false
	}
	var header http.Header
	if a.resp != nil {
		header = a.resp.Header
	}
	now := time.Now()
	jitter := rand.Float64() //nolint:gosec // G404: jitter needs no cryptographic randomness
	wait := backoff(c.waitMin, c.waitMax, n-1, header, now, jitter)
	deadline, has := ctx.Deadline()
	return wait, fitsDeadline(now, deadline, has, wait)
}

// fetch is what one Fetch knows across its attempts.
type fetch struct {
	client   *Client
	provider string
	proto    Protocol
	params   Params
	redact   redactor
}

func (f *fetch) logAttempt(n int, a attempt, retry bool, wait time.Duration) {
	if !f.client.log.IsDebug() {
		return
	}
	args := []any{"provider", f.provider, "attempt", n, "status", a.status(), "duration", a.duration, "retry", retry}
	if a.err != nil {
		args = append(args, "error", sanitize(a.err.Error(), f.redact, maxExcerpt))
	}
	if a.tooLarge != 0 {
		args = append(args, "error", "response body over the size limit")
	}
	if retry {
		args = append(args, "wait", wait)
	}
	f.client.log.Debug("vendor token request", args...)
}

// result turns the last of n attempts into the outcome of the fetch.
// waited is true when ctx ended while waiting to retry.
func (f *fetch) result(ctx context.Context, a attempt, n int, waited bool) (Token, error) {
	var pe *Error
	switch {
	case a.tooLarge != 0:
		pe = &Error{
			Kind:       KindResponse,
			StatusCode: a.tooLarge,
			Message:    fmt.Sprintf("the response body is larger than %d bytes", f.client.maxBody),
		}
	case a.resp != nil:
		tok, err := f.proto.ParseResponse(f.params, a.resp, a.receivedAt)
		if err == nil {
			tok.Attempts = n
			return tok, nil
		}
		if !errors.As(err, &pe) {
			pe = &Error{Kind: KindResponse, Message: sanitize(err.Error(), f.redact, maxExcerpt)}
		}
	default:
		pe = f.networkError(a.err, ctx.Err())
	}
	pe.Provider = f.provider
	pe.Attempts = n
	if waited && pe.Err == nil {
		// The context ended while waiting to retry a failed attempt.
		pe.Kind = KindTransient
		pe.Err = ctx.Err()
		pe.Message += " (then " + contextText(pe.Err) + " before the retry)"
	}
	return Token{}, pe
}

// networkError describes a failure without a usable response. ctxErr is
// the request context's error, if it has ended.
func (f *fetch) networkError(err, ctxErr error) *Error {
	msg := sanitize(err.Error(), f.redact, maxExcerpt)
	if ctxErr != nil {
		return &Error{Kind: KindTransient, Message: contextText(ctxErr) + ": " + msg, Err: ctxErr}
	}
	if isTLSError(err) {
		hint := " (check that token_url speaks https)"
		if isCertError(err) {
			hint = " (if the vendor uses a private CA, set ca_cert)"
		}
		return &Error{Kind: KindConfig, Message: "TLS failure: " + msg + hint, Err: err}
	}
	return &Error{Kind: KindTransient, Message: "network error: " + msg, Err: err}
}

// contextText describes why a context ended.
func contextText(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "the request timed out"
	}
	return "the request was cancelled"
}

// readBody reads at most limit bytes of body; a longer body is
// errBodyTooLarge.
func readBody(body io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errBodyTooLarge
	}
	return b, nil
}
