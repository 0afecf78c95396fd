package provider

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"weak"

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
	// Transports, when set, shares the HTTP client (connection pool, TLS
	// settings) with the other Clients of the same CA bundle and proxy.
	Transports *Transports
}

// Client fetches tokens from vendor token endpoints. It is safe for
// concurrent use; one Client per config shares its connection pool.
type Client struct {
	http      *http.Client
	userAgent string
	// policy repeats token requests and IAM reads.
	policy  Policy
	maxBody int64
	now     func() time.Time
	log     hclog.Logger
	observe func(Attempt)
}

// NewClient builds a Client. An invalid CA bundle or proxy URL is a
// KindConfig *Error.
func NewClient(opts ClientOptions) (*Client, error) {
	httpClient, err := opts.Transports.get(opts.CACertPEM, opts.ProxyURL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		http:      httpClient,
		userAgent: opts.UserAgent,
		policy:    transientPolicy(opts.RetryMax, opts.RetryWaitMin, opts.RetryWaitMax),
		maxBody:   opts.MaxBodyBytes,
		now:       opts.Now,
		log:       opts.Logger,
		observe:   opts.Observe,
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
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

// CloseIdleConnections closes the pooled connections that are idle.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// newHTTPClient is the HTTP client of a CA bundle and a proxy: TLS 1.2 or
// later, the system roots plus caPEM, the proxy (or the environment's), and
// redirects never followed (a redirect could lead to another host or
// scheme and would re-send the credentials; the 3xx comes back as a
// response and is reported).
func newHTTPClient(caPEM, proxyURL string) (*http.Client, error) {
	tlsConfig, err := newTLSConfig(caPEM)
	if err != nil {
		return nil, err
	}
	transport := cleanhttp.DefaultPooledTransport() // proxy from the environment by default
	transport.TLSClientConfig = tlsConfig
	if proxyURL != "" {
		u, err := parseProxyURL(proxyURL)
		if err != nil {
			return nil, err
		}
		transport.Proxy = http.ProxyURL(u)
	}
	return &http.Client{
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// Transports shares HTTP clients among the Clients whose CA bundle and
// proxy are the same: thousands of configs of one vendor need one
// connection pool and one copy of the trusted roots, not one each. A shared
// client is held for transportHold after its last use, so that a run of
// config writes (each verified with a Client that is dropped at once)
// reuses one pool; after that it is held weakly, and goes once no Client
// uses it and its idle connections have closed. The zero value is ready to
// use; a nil *Transports shares nothing.
type Transports struct {
	mu      sync.Mutex
	clients map[[sha256.Size]byte]*sharedClient
	// now is the clock; time.Now when nil (tests set it).
	now func() time.Time
}

// transportHold is how long a shared client is held after its last use.
const transportHold = 10 * time.Minute

// sharedClient is one shared HTTP client: held strongly until after, then
// weakly.
type sharedClient struct {
	strong *http.Client
	weak   weak.Pointer[http.Client]
	until  time.Time
}

// get returns the HTTP client of caPEM and proxyURL, shared when t is not
// nil.
func (t *Transports) get(caPEM, proxyURL string) (*http.Client, error) {
	if t == nil {
		return newHTTPClient(caPEM, proxyURL)
	}
	key := sha256.Sum256([]byte(fmt.Sprintf("%d:%s;%s", len(caPEM), caPEM, proxyURL)))
	now := time.Now()
	if t.now != nil {
		now = t.now()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, sc := range t.clients {
		if now.After(sc.until) {
			sc.strong = nil
		}
		if sc.weak.Value() == nil {
			delete(t.clients, k)
		}
	}
	if sc := t.clients[key]; sc != nil {
		if c := sc.weak.Value(); c != nil {
			sc.strong, sc.until = c, now.Add(transportHold)
			return c, nil
		}
	}
	c, err := newHTTPClient(caPEM, proxyURL)
	if err != nil {
		return nil, err
	}
	if t.clients == nil {
		t.clients = map[[sha256.Size]byte]*sharedClient{}
	}
	t.clients[key] = &sharedClient{strong: c, weak: weak.Make(c), until: now.Add(transportHold)}
	return c, nil
}

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
// *Error whose Attempts counts the requests made. Each attempt is a new
// request (a signed client assertion is never sent twice).
func (c *Client) Fetch(ctx context.Context, p Params) (Token, error) {
	d, err := checkParams(p)
	if err != nil {
		return Token{}, err
	}
	return exchange(ctx, c, request[Token]{
		provider: d.Name,
		redact:   p.redactor(),
		policy:   c.policy,
		build: func(ctx context.Context) (*http.Request, []string, error) {
			q := p
			if UsesKey(p.Values) {
				// A new assertion for each attempt: a server refuses a jti
				// it has seen. It is a credential while it lives.
				a, err := clientAssertion(p, c.now())
				if err != nil {
					return nil, nil, err
				}
				q.assertion = a
			}
			req, err := d.Protocol.NewRequest(ctx, q)
			return req, []string{q.assertion}, err
		},
		parse: func(resp *Response, at time.Time, n int) (Token, error) {
			tok, err := d.Protocol.ParseResponse(p, resp, at)
			tok.Attempts = n
			return tok, err
		},
	})
}

// checkParams returns p's provider after checking that p names a known
// provider and has every field that provider requires, with valid values:
// the protocol's last guard, since the engine refuses such a config before
// it is stored.
func checkParams(p Params) (Descriptor, error) {
	d, ok := Describe(p.Provider)
	if !ok {
		return d, &Error{
			Provider: sanitize(p.Provider, p.redactor(), 40),
			Kind:     KindConfig,
			Message:  "unknown provider; expected one of " + strings.Join(Names(), ", "),
		}
	}
	if missing := d.Missing(p.TokenURL, p.Values); len(missing) > 0 {
		return d, configError(d.Name, strings.Join(fieldNames(missing), ", ")+" is required")
	}
	if err := CheckTokenURL(p.TokenURL); err != nil {
		return d, configError(d.Name, err.Error())
	}
	for _, f := range d.Fields {
		if v := p.Values[f.Name]; v != "" && len(f.Values) > 0 {
			if err := f.Validate(v); err != nil {
				return d, configError(d.Name, err.Error())
			}
		}
	}
	return d, nil
}

// request is one kind of vendor request: how to build it and read its
// answer, how it is named in errors and logs, and how it is repeated.
type request[T any] struct {
	provider string
	// op names the request in errors and logs; "" is the token request.
	op     string
	redact redactor
	policy Policy
	// build makes the request of one attempt, and names the secrets it
	// carries besides the config's (a client assertion), to be redacted
	// from the answer too.
	build func(ctx context.Context) (*http.Request, []string, error)
	// parse reads a complete response, received at the given time, of
	// attempt n. An error that is not an *Error is vendor text and is
	// sanitised.
	parse func(resp *Response, at time.Time, n int) (T, error)
}

// exchange sends the request as its policy says (see Retry) and returns
// what parse made of the last response, or an *Error naming the provider,
// the request, the HTTP status and the vendor's message.
func exchange[T any](ctx context.Context, c *Client, r request[T]) (T, error) {
	var last attempt
	pol := r.policy
	pol.After = func(n int, err error, again bool, wait time.Duration) {
		c.logAttempt(r.provider, r.op, n, last, err, again, wait)
	}
	v, err := Retry(ctx, pol, func(n int) (T, error) {
		var zero T
		req, extra, err := r.build(ctx)
		if err != nil {
			return zero, err
		}
		req.Header.Set("User-Agent", c.userAgent)
		last = c.send(ctx, req, r.op)
		attemptReq := r
		if len(extra) > 0 && extra[0] != "" {
			attemptReq.redact = r.redact.with(extra...)
		}
		v, pe := attemptReq.outcome(ctx, last, n)
		if pe != nil {
			return zero, pe
		}
		return v, nil
	})
	var pe *Error
	if errors.As(err, &pe) && pe.Err == nil && ctx.Err() != nil {
		// The context ended while waiting to repeat a failed attempt.
		pe.Kind = KindTransient
		pe.Err = ctx.Err()
		pe.Message += " (then " + contextText(pe.Err) + " before the retry)"
	}
	return v, err
}

// outcome turns attempt n into a result or an *Error.
func (r request[T]) outcome(ctx context.Context, a attempt, n int) (T, *Error) {
	var (
		v  T
		pe *Error
	)
	switch {
	case a.tooLarge != 0:
		pe = &Error{
			Kind:       KindResponse,
			StatusCode: a.tooLarge,
			Message:    fmt.Sprintf("the response body is larger than %d bytes", a.limit),
			Err:        errBodyTooLarge,
		}
	case a.resp != nil:
		var err error
		if v, err = r.parse(a.resp, a.receivedAt, n); err == nil {
			return v, nil
		}
		if !errors.As(err, &pe) {
			pe = &Error{Kind: KindResponse, Message: sanitize(err.Error(), r.redact, maxExcerpt)}
		}
		pe.header = a.resp.Header
	default:
		pe = networkError(a.err, ctx.Err(), r.redact)
	}
	pe.Provider, pe.Op, pe.Attempts = r.provider, r.op, n
	return v, pe
}

// attempt is the outcome of one HTTP request: a complete response, or the
// failure that left it without one.
type attempt struct {
	resp       *Response // nil without a complete response
	receivedAt time.Time // when resp arrived, by Client.now
	err        error     // the network failure when resp is nil
	tooLarge   int       // the status of a response whose body was over the limit
	limit      int64     // that limit
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
// duration, and is reported to the observers.
func (c *Client) send(ctx context.Context, req *http.Request, op string) attempt {
	start := time.Now()
	a := c.roundTrip(ctx, req)
	a.duration = time.Since(start)
	seen := Attempt{Op: op, Status: a.status(), Err: a.err, Duration: a.duration}
	if c.observe != nil {
		c.observe(seen)
	}
	if f, ok := ctx.Value(observerKey{}).(func(Attempt)); ok {
		f(seen)
	}
	return a
}

func (c *Client) roundTrip(ctx context.Context, req *http.Request) attempt {
	resp, err := c.http.Do(req.WithContext(ctx))
	if err != nil {
		return attempt{err: err}
	}
	defer resp.Body.Close()
	body, err := readBody(resp.Body, c.maxBody)
	switch {
	case errors.Is(err, errBodyTooLarge):
		return attempt{tooLarge: resp.StatusCode, limit: c.maxBody}
	case err != nil:
		return attempt{err: err} // the connection broke mid-body: a network failure
	}
	return attempt{
		resp:       &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: body},
		receivedAt: c.now(),
	}
}

// logAttempt logs one attempt at debug level: never a secret or a token.
func (c *Client) logAttempt(provider, op string, n int, a attempt, err error, retry bool, wait time.Duration) {
	if !c.log.IsDebug() {
		return
	}
	msg := "vendor token request"
	args := []any{"provider", provider, "attempt", n, "status", a.status(), "duration", a.duration, "retry", retry}
	if op != "" {
		msg = "vendor IAM request"
		args = append(args, "operation", op)
	}
	if err != nil {
		args = append(args, "error", err.Error())
	}
	if retry {
		args = append(args, "wait", wait)
	}
	c.log.Debug(msg, args...)
}

// networkError describes a failure without a usable response. ctxErr is
// the request context's error, if it has ended.
func networkError(err, ctxErr error, r redactor) *Error {
	msg := sanitize(err.Error(), r, maxExcerpt)
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

// observerKey is the context key of WithObserver.
type observerKey struct{}

// WithObserver returns a context under which the Client reports every HTTP
// attempt it makes to f, besides ClientOptions.Observe: a caller counts
// the attempts of its own requests this way. f must be quick and safe for
// concurrent use.
func WithObserver(ctx context.Context, f func(Attempt)) context.Context {
	return context.WithValue(ctx, observerKey{}, f)
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
