package provider

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
)

// observed collects what an observer of WithObserver sees: each attempt's
// outcome, after its Op when it has one.
type observed struct {
	mu       sync.Mutex
	outcomes []string
}

func (o *observed) observe(a Attempt) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if a.Op != "" {
		o.outcomes = append(o.outcomes, a.Op+": "+a.Outcome())
		return
	}
	o.outcomes = append(o.outcomes, a.Outcome())
}

func (o *observed) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	got := o.outcomes
	o.outcomes = nil
	return got
}

// TestWithObserverSeesEveryAttemptOfItsContext: the observer a context
// carries sees every attempt of a token fetch (without an Op) and of an
// IAM call (with its Op) made with that context, retries included, and
// nothing made with another context.
func TestWithObserverSeesEveryAttemptOfItsContext(t *testing.T) {
	t.Parallel()
	v := newVendor(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 1 {
			reply(w, 503, `{"message":"busy"}`)
			return
		}
		reply(w, 200, okBody)
	})
	c := newTestClient(t, fastOptions())
	var o observed
	ctx := WithObserver(fetchCtx(t), o.observe)
	if _, err := c.Fetch(ctx, testParams(OAuth2, v.URL)); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if got, want := o.take(), []string{Outcome5xx, Outcome2xx}; !slices.Equal(got, want) {
		t.Fatalf("a fetch with a retry: observed %q, want %q", got, want)
	}

	if _, err := c.Fetch(fetchCtx(t), testParams(OAuth2, v.URL)); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if got := o.take(); len(got) != 0 {
		t.Fatalf("a fetch with another context was observed: %q", got)
	}

	srv, _ := iamServer(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusForbidden) })
	ctx, cancel := context.WithCancel(ctx) // derived contexts carry the observer
	defer cancel()
	if _, err := c.ListServiceAccounts(ctx, iamReq(srv.URL)); err == nil {
		t.Fatal("a refused IAM call succeeded")
	}
	if got, want := o.take(), []string{OpListServiceAccounts + ": " + Outcome4xx}; !slices.Equal(got, want) {
		t.Fatalf("an IAM call: observed %q, want %q", got, want)
	}
}
