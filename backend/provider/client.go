package provider

import (
	"bytes"
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
	"github.com/hashicorp/go-retryablehttp"
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
func (c *Client) Fetch(ctx context.Context, p Params) (Token, error) {
	proto, req, err := newRequest(ctx, p)
	if err != nil {
		return Token{}, err
	}
	req.Header.Set("User-Agent", c.userAgent)
	rreq, err := retryablehttp.FromRequest(req)
	if err != nil {
		return Token{}, configError(proto.Name(), "the token request body cannot be prepared")
	}
	f := &fetch{client: c, ctx: ctx, proto: proto, params: p, redact: newRedactor(p)}
	rc := &retryablehttp.Client{
		HTTPClient:   c.http,
		RetryMax:     c.retryMax,
		RetryWaitMin: c.waitMin,
		RetryWaitMax: c.waitMax,
		CheckRetry:   f.checkRetry,
		Backoff:      f.backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	resp, doErr := rc.Do(rreq)
	if resp != nil {
		_ = resp.Body.Close() // already read into f by checkRetry
	}
	return f.result(doErr)
}

// newRequest builds the token request p describes, after checking that p
// names a known provider and has every field that provider requires.
func newRequest(ctx context.Context, p Params) (Protocol, *http.Request, error) {
	d, ok := Describe(p.Provider)
	if !ok {
		return nil, nil, &Error{
			Provider: sanitize(p.Provider, newRedactor(p), 40),
			Kind:     KindConfig,
			Message:  "unknown provider; expected one of " + strings.Join(Names(), ", "),
		}
	}
	if err := d.checkParams(p); err != nil {
		return nil, nil, err
	}
	req, err := d.Protocol.NewRequest(ctx, p)
	return d.Protocol, req, err
}

// fetch is the state of one Fetch across its attempts. checkRetry reads
// each response body (through the size limit) and decides about the retry;
// result turns the last attempt into a Token or an *Error.
type fetch struct {
	client *Client
	ctx    context.Context
	proto  Protocol
	params Params
	redact redactor

	attempts   int
	resp       *Response // the last attempt's complete response
	receivedAt time.Time
	netErr     error // the last attempt's failure when it has no complete response
	tooLarge   int   // the status of a response whose body was over the limit
	wait       time.Duration
}

// checkRetry is the retryablehttp.CheckRetry of one fetch. It is called once
// per attempt.
func (f *fetch) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	f.attempts++
	f.resp, f.netErr, f.tooLarge = nil, nil, 0
	var header http.Header
	status := 0
	if err == nil && resp != nil {
		body, readErr := readBody(resp.Body, f.client.maxBody)
		resp.Body = io.NopCloser(bytes.NewReader(nil))
		switch {
		case errors.Is(readErr, errBodyTooLarge):
			f.tooLarge = resp.StatusCode
			f.logAttempt(resp.StatusCode, nil, false)
			return false, nil
		case readErr != nil:
			err = readErr // the connection broke mid-body: a network failure
		default:
			status, header = resp.StatusCode, resp.Header
			f.resp = &Response{StatusCode: status, Header: resp.Header, Body: body}
			f.receivedAt = f.client.now()
		}
	}
	if err != nil {
		f.netErr = err
	}
	retry := retryDecision(ctx.Err(), status, err) && f.attempts <= f.client.retryMax
	if retry {
		now := time.Now()
		jitter := rand.Float64() //nolint:gosec // G404: jitter needs no cryptographic randomness
		f.wait = backoff(f.client.waitMin, f.client.waitMax, f.attempts-1, header, now, jitter)
		deadline, has := ctx.Deadline()
		retry = fitsDeadline(now, deadline, has, f.wait)
	}
	f.logAttempt(status, err, retry)
	return retry, nil
}

// backoff is the retryablehttp.Backoff of one fetch: the wait checkRetry
// already computed and checked against the deadline.
func (f *fetch) backoff(time.Duration, time.Duration, int, *http.Response) time.Duration {
	return f.wait
}

func (f *fetch) logAttempt(status int, err error, retry bool) {
	if !f.client.log.IsDebug() {
		return
	}
	args := []any{"provider", f.proto.Name(), "attempt", f.attempts, "status", status, "retry", retry}
	if err != nil {
		args = append(args, "error", sanitize(err.Error(), f.redact, maxExcerpt))
	}
	if f.tooLarge != 0 {
		args = append(args, "error", "response body over the size limit")
	}
	if retry {
		args = append(args, "wait", f.wait)
	}
	f.client.log.Debug("vendor token request", args...)
}

// result turns the last attempt into the outcome of the fetch. doErr is what
// retryablehttp returned: a network error, or the context's error when it
// ended while waiting to retry.
func (f *fetch) result(doErr error) (Token, error) {
	var pe *Error
	switch {
	case f.tooLarge != 0:
		pe = &Error{
			Kind:       KindResponse,
			StatusCode: f.tooLarge,
			Message:    fmt.Sprintf("the response body is larger than %d bytes", f.client.maxBody),
		}
	case f.resp != nil:
		tok, err := f.proto.ParseResponse(f.params, f.resp, f.receivedAt)
		if err == nil {
			return tok, nil
		}
		if !errors.As(err, &pe) {
			pe = &Error{Kind: KindResponse, Message: sanitize(err.Error(), f.redact, maxExcerpt)}
		}
	case f.netErr != nil:
		pe = f.networkError(f.netErr)
	case doErr != nil:
		pe = f.networkError(doErr)
	default:
		pe = &Error{Kind: KindTransient, Message: "no response from the vendor"}
	}
	pe.Provider = f.proto.Name()
	pe.Attempts = f.attempts
	if ctxErr := f.ctx.Err(); ctxErr != nil && doErr != nil && pe.Err == nil {
		// The context ended while waiting to retry a failed attempt.
		pe.Kind = KindTransient
		pe.Err = ctxErr
		pe.Message += " (then " + contextText(ctxErr) + " before the retry)"
	}
	return Token{}, pe
}

// networkError describes a failure without a usable response.
func (f *fetch) networkError(err error) *Error {
	msg := sanitize(err.Error(), f.redact, maxExcerpt)
	if ctxErr := f.ctx.Err(); ctxErr != nil {
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

// readBody reads at most limit bytes of body and closes it; a longer body is
// errBodyTooLarge.
func readBody(body io.ReadCloser, limit int64) ([]byte, error) {
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errBodyTooLarge
	}
	return b, nil
}
