package fakevendor

import (
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is the fake vendor. It is an http.Handler serving every provider's
// token path (see TokenPath) and the admin API under /_fake/. It is safe for
// concurrent use; every setter takes effect for the next request.
type Server struct {
	// Set by New, read-only afterwards.
	clock                  func() time.Time
	logf                   func(RequestRecord)
	scmInvalidClientStatus int
	oracleUnknownKeyStatus int
	jwksClient             *http.Client

	mu        sync.Mutex
	accounts  map[accountKey]Account
	lifetimes map[string]time.Duration
	faults    Faults
	rateCount int // token requests counted by Faults.ErrorRatePercent
	tokens    map[string]TokenInfo
	stats     Stats
	iam       iamState
	oauth2    oauth2State
}

type accountKey struct{ provider, id string }

// RequestRecord describes one answered token request. It never holds a
// secret.
type RequestRecord struct {
	Time     time.Time // the fake's now when the request finished
	Provider string
	Method   string
	Path     string
	// ClientID is the account id the request presented (client id, or
	// access key for Oracle CASB), whether or not it is known; empty if none.
	ClientID string
	// Status is the HTTP status sent, 0 if none was (a reset connection, or
	// a client that gave up during a delay).
	Status int
	// Fault names the injected fault that decided the response (a Fault*
	// constant), empty if none; FaultDelay if the client gave up while the
	// response was delayed.
	Fault string
	// Delayed is true when Faults.Delay held the response.
	Delayed bool
	// TokenIssued is true when the response carried a usable token.
	TokenIssued bool
}

// Option configures a Server in New.
type Option func(*Server)

// WithClock sets the fake's clock; the default is time.Now. Faults.ClockSkew
// is added to it.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.clock = now }
}

// WithRequestLog calls fn once for every answered token request, just
// before the response is sent. fn may be called concurrently.
func WithRequestLog(fn func(RequestRecord)) Option {
	return func(s *Server) { s.logf = fn }
}

// WithSCMInvalidClientStatus sets the status of SCM's invalid_client error
// (bad or missing client credentials): 401 (the default) or 400, which the
// real service often sends. New panics on any other value.
func WithSCMInvalidClientStatus(status int) Option {
	return func(s *Server) { s.scmInvalidClientStatus = status }
}

// WithOracleUnknownKeyStatus sets how Oracle CASB answers an unknown access
// key: 200 (the default) answers with the vendor document's failure example, a
// runtime-response body whose inner status says 200 and which carries no
// token; 400, 401, 403, 404 or 500 answer with that status and a
// {status, entity, metadata} body. New panics on any other value.
func WithOracleUnknownKeyStatus(status int) Option {
	return func(s *Server) { s.oracleUnknownKeyStatus = status }
}

// New returns a fake vendor without accounts and without faults. It panics
// if an option was given an invalid value (a programming error in a test).
func New(opts ...Option) *Server {
	s := &Server{
		clock:                  time.Now,
		scmInvalidClientStatus: http.StatusUnauthorized,
		oracleUnknownKeyStatus: http.StatusOK,
		accounts:               map[accountKey]Account{},
		lifetimes:              map[string]time.Duration{},
		tokens:                 map[string]TokenInfo{},
		stats:                  newStats(),
		jwksClient:             &http.Client{Timeout: jwksFetchTimeout},
		oauth2: oauth2State{
			last: map[string]OAuth2Request{}, jtis: map[string]time.Time{}, jwks: map[string]jwksEntry{},
		},
	}
	for p, d := range defaultLifetimes {
		s.lifetimes[p] = d
	}
	for _, o := range opts {
		o(s)
	}
	if s.clock == nil || s.jwksClient == nil {
		panic("fakevendor: WithClock(nil) or WithJWKSClient(nil)")
	}
	if err := ValidateSCMInvalidClientStatus(s.scmInvalidClientStatus); err != nil {
		panic("fakevendor: " + err.Error())
	}
	if err := ValidateOracleUnknownKeyStatus(s.oracleUnknownKeyStatus); err != nil {
		panic("fakevendor: " + err.Error())
	}
	return s
}

// ValidateSCMInvalidClientStatus reports whether status is accepted by
// WithSCMInvalidClientStatus.
func ValidateSCMInvalidClientStatus(status int) error {
	if status != http.StatusBadRequest && status != http.StatusUnauthorized {
		return fmt.Errorf("SCM invalid_client status %d is not 400 or 401", status)
	}
	return nil
}

// ValidateOracleUnknownKeyStatus reports whether status is accepted by
// WithOracleUnknownKeyStatus.
func ValidateOracleUnknownKeyStatus(status int) error {
	switch status {
	case 200, 400, 401, 403, 404, 500:
		return nil
	}
	return fmt.Errorf("unknown-key status %d for Oracle CASB is not one of 200, 400, 401, 403, 404, 500", status)
}

// Now returns the fake's current time: its clock plus Faults.ClockSkew.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	skew := s.faults.ClockSkew
	s.mu.Unlock()
	return s.clock().Add(skew)
}

// AddAccount adds an account, or replaces the account of the same provider
// and id (to rotate a secret or disable an account). Its error never
// contains a secret.
func (s *Server) AddAccount(a Account) error {
	if err := a.Validate(); err != nil {
		return err
	}
	a = a.withDefaults()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[accountKey{a.Provider, a.ID()}] = a
	return nil
}

// RemoveAccount removes the account of provider with id (client id, or
// access key for Oracle CASB) and reports whether there was one.
func (s *Server) RemoveAccount(provider, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := accountKey{provider, id}
	_, ok := s.accounts[k]
	delete(s.accounts, k)
	return ok
}

func (s *Server) account(provider, id string) (Account, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[accountKey{provider, id}]
	return a, ok
}

// defaultLifetimes are the token lifetimes of the vendors as documented.
// Oracle CASB does not document one; an hour is assumed.
var defaultLifetimes = map[string]time.Duration{
	ProviderSaaSSecurity:  7199 * time.Second,
	ProviderSCM:           899 * time.Second,
	ProviderOracleCASB:    time.Hour,
	ProviderBrightPattern: 3599 * time.Second,
	ProviderOAuth2:        3600 * time.Second,
}

// maxLifetime bounds SetLifetime; ten years must fit.
const maxLifetime = 100 * 365 * 24 * time.Hour

// DefaultLifetime returns the documented token lifetime of a provider.
func DefaultLifetime(provider string) time.Duration {
	return defaultLifetimes[provider]
}

// SetLifetime sets the lifetime of the tokens minted for provider from now
// on: 0 (a token that is already expired), 1 s, 10 years or anything up to
// 100 years. Providers that send expires_in send it in whole seconds,
// rounded down.
func (s *Server) SetLifetime(provider string, d time.Duration) error {
	if !knownProvider(provider) {
		return fmt.Errorf("unknown provider %q", provider)
	}
	if d < 0 || d > maxLifetime {
		return fmt.Errorf("lifetime %s is not between 0 and 100 years", d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lifetimes[provider] = d
	return nil
}

// Lifetime returns the lifetime of the tokens minted for provider.
func (s *Server) Lifetime(provider string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lifetimes[provider]
}

// SetFaults replaces the whole fault configuration and restarts the request
// count of ErrorRatePercent.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f.clone()
	s.rateCount = 0
	return nil
}

// Faults returns the fault configuration in force, with its counters as
// far as they have counted down.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.clone()
}

// ServeHTTP answers the token paths of all providers and the admin API.
//
// The admin API (JSON; a test tool without authentication, to be served on
// loopback only):
//
//	GET  /_fake/faults          the Faults in force
//	PUT  /_fake/faults          replace them (durations as "1.5s")
//	GET  /_fake/stats           the Stats
//	POST /_fake/stats/reset     zero the Stats
//	POST /_fake/accounts        add or replace an Account
//	PUT  /_fake/oauth2/jwks?client_id=C         replace the JWKS of a private_key_jwt account
//	GET  /_fake/oauth2/last_request?client_id=C what its last token request carried (OAuth2Request)
//	GET  /_fake/lifetimes       lifetime per provider, as "14m59s"
//	PUT  /_fake/lifetimes       set some: {"paloalto_scm": "1s"}
//	GET  /_fake/check?token=T   {"minted": bool, "valid": bool, "info": TokenInfo}
//	GET  /_fake/now             {"now": the fake's time}
//	GET  /_fake/iam/faults      the IAMFaults in force
//	PUT  /_fake/iam/faults      replace them (durations as "1.5s")
//	GET  /_fake/iam/accounts    the service accounts and their resets (IAMAccount)
//
// The IAM API of Strata Cloud Manager is served under /iam/v1/ (see iam.go).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, adminPrefix) {
		s.serveAdmin(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, iamPrefix) {
		s.serveIAM(w, r)
		return
	}
	provider, ok := tokenPaths[r.URL.Path]
	if !ok {
		w.Header().Set("Date", httpDate(s.Now()))
		http.NotFound(w, r)
		return
	}
	s.serveToken(w, r, provider)
}

// maxBodyBytes bounds a token request body.
const maxBodyBytes = 64 << 10

// tokenRequest is one token request, its body read.
type tokenRequest struct {
	r      *http.Request
	body   []byte
	now    time.Time // the fake's now after any delay
	faults Faults    // the faults that apply to this request's provider
}

// response is an answer not yet written.
type response struct {
	status int
	header http.Header
	body   []byte
	// token and info are set when the body carries a freshly minted token.
	token string
	info  TokenInfo
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, provider string) {
	rec := RequestRecord{Provider: provider, Method: r.Method, Path: r.URL.Path}
	inFlight := s.enter()
	// finish counts and logs the request. It runs before the response is
	// sent, so a client that has its answer always finds it in Stats.
	finish := func() {
		rec.Time = s.Now()
		s.record(rec)
		if s.logf != nil {
			s.logf(rec)
		}
	}

	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	rec.ClientID = presentedID(provider, r, body)

	fault, faults := s.takeFault(provider, inFlight)
	if !faults.appliesTo(provider) {
		faults = Faults{}
	}
	if faults.Delay > 0 && fault != FaultInFlight {
		rec.Delayed = true
		t := time.NewTimer(faults.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			// The client gave up, or the server is shutting down: drop the
			// connection rather than answer an empty 200.
			t.Stop()
			rec.Fault = FaultDelay
			finish()
			panic(http.ErrAbortHandler)
		}
	}
	in := &tokenRequest{r: r, body: body, now: s.Now(), faults: faults}

	var resp response
	switch {
	case fault == FaultReset:
		rec.Fault = fault
		finish()
		resetConnection(w)
		return
	case fault != "":
		rec.Fault = fault
		resp = faultResponse(provider, fault, in)
	case readErr != nil:
		resp = vendorError(provider, http.StatusBadRequest, "invalid_request", "The request body is too large or unreadable.")
	default:
		resp = s.vendorResponse(provider, in)
	}

	if resp.token != "" {
		switch {
		case faults.TruncateBody:
			rec.Fault = FaultTruncate
			resp.body = resp.body[:len(resp.body)/2]
		case faults.OmitToken:
			rec.Fault = FaultNoToken // the vendor's builder left the token out
		default:
			if faults.ControlCharField != "" {
				rec.Fault = FaultControlChar
				resp.body = faults.withControlChar(resp.body)
			}
			s.remember(resp.token, resp.info)
			rec.TokenIssued = true
		}
	}
	rec.Status = resp.status
	finish()
	writeResponse(w, resp, in.now)
}

func (s *Server) vendorResponse(provider string, in *tokenRequest) response {
	switch provider {
	case ProviderSaaSSecurity:
		return s.saasToken(in)
	case ProviderSCM:
		return s.scmToken(in)
	case ProviderOracleCASB:
		return s.oracleToken(in)
	case ProviderBrightPattern:
		return s.brightToken(in)
	default:
		return s.oauth2Token(in)
	}
}

func writeResponse(w http.ResponseWriter, resp response, now time.Time) {
	h := w.Header()
	for k, v := range resp.header {
		h[k] = v
	}
	h.Set("Date", httpDate(now))
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json;charset=UTF-8")
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(resp.body)))
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// resetConnection closes the client's connection without a response, with
// a TCP reset where the connection allows it.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 cannot hand over its connection; abort the stream instead.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close sends RST rather than FIN
	}
	_ = conn.Close()
}

// secretEqual compares a presented secret with the stored one in constant
// time.
func secretEqual(stored, presented string) bool {
	return subtle.ConstantTimeCompare([]byte(stored), []byte(presented)) == 1
}

// errBadBody is returned when a body cannot be parsed at all.
var errBadBody = errors.New("the request body is malformed")
