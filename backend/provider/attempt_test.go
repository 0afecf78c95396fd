package provider

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestAttemptOutcome(t *testing.T) {
	t.Parallel()
	refused := &urlError{err: syscall.ECONNREFUSED}
	cases := map[string]struct {
		a    Attempt
		want string
	}{
		"200":                  {Attempt{Status: 200}, Outcome2xx},
		"302":                  {Attempt{Status: 302}, Outcome3xx},
		"401":                  {Attempt{Status: 401}, Outcome4xx},
		"429":                  {Attempt{Status: 429}, OutcomeThrottled},
		"503":                  {Attempt{Status: 503}, Outcome5xx},
		"deadline":             {Attempt{Err: context.DeadlineExceeded}, OutcomeTimeout},
		"net.Error timeout":    {Attempt{Err: &urlError{err: errTimeout{}}}, OutcomeTimeout},
		"connection refused":   {Attempt{Err: refused}, OutcomeNetwork},
		"cancelled":            {Attempt{Err: context.Canceled}, OutcomeNetwork},
		"body cut off (EOF)":   {Attempt{Err: errors.New("unexpected EOF")}, OutcomeNetwork},
		"status wins over err": {Attempt{Status: 500, Err: context.DeadlineExceeded}, Outcome5xx},
	}
	for name, tc := range cases {
		if got := tc.a.Outcome(); got != tc.want {
			t.Errorf("%s: Outcome() = %q, want %q", name, got, tc.want)
		}
		if !slices.Contains(Outcomes, tc.want) {
			t.Errorf("%s: %q is not in Outcomes", name, tc.want)
		}
	}
}

// urlError and errTimeout stand in for the errors net/http returns.
type urlError struct{ err error }

func (e *urlError) Error() string   { return "Post: " + e.err.Error() }
func (e *urlError) Unwrap() error   { return e.err }
func (e *urlError) Timeout() bool   { var t errTimeout; return errors.As(e.err, &t) }
func (e *urlError) Temporary() bool { return false }

type errTimeout struct{}

func (errTimeout) Error() string   { return "i/o timeout" }
func (errTimeout) Timeout() bool   { return true }
func (errTimeout) Temporary() bool { return true }

// TestObserveSeesEveryAttempt: Observe is called once per HTTP attempt,
// retries included, with the attempt's outcome and a duration that covers
// the vendor's answer.
func TestObserveSeesEveryAttempt(t *testing.T) {
	t.Parallel()
	const slow = 30 * time.Millisecond
	v := newVendor(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		switch n {
		case 1:
			reply(w, 503, `{"message":"busy"}`)
		case 2:
			reply(w, 429, `{"message":"slow down"}`)
		default:
			time.Sleep(slow)
			reply(w, 200, okBody)
		}
	})
	var mu sync.Mutex
	var seen []Attempt
	opts := fastOptions()
	opts.Observe = func(a Attempt) {
		mu.Lock()
		seen = append(seen, a)
		mu.Unlock()
	}
	c := newTestClient(t, opts)
	if _, err := c.Fetch(fetchCtx(t), testParams(OAuth2, v.URL)); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	var outcomes []string
	for _, a := range seen {
		outcomes = append(outcomes, a.Outcome())
	}
	if want := []string{Outcome5xx, OutcomeThrottled, Outcome2xx}; !slices.Equal(outcomes, want) {
		t.Fatalf("observed %q, want %q", outcomes, want)
	}
	if d := seen[2].Duration; d < slow || d > testTimeout {
		t.Errorf("the slow attempt took %s by Observe, want at least %s", d, slow)
	}

	// No answer at all: one attempt, a network error.
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	seen = nil
	opts.RetryMax = -1
	mu.Unlock()
	_, err := newTestClient(t, opts).Fetch(fetchCtx(t), testParams(OAuth2, addr))
	mu.Lock()
	if err == nil || len(seen) != 1 || seen[0].Outcome() != OutcomeNetwork {
		t.Errorf("a refused connection: err %v, observed %+v", err, seen)
	}
}
