// Package testkit holds what the engine's, the fake vendor's and the
// end-to-end tests share: readers that read throughout a change and count
// what failed, a listener that records every request sent to it, a log
// buffer safe for concurrent writes, the forms a secret takes on its way
// out with a check that a text holds none (secrets.go), and a signer of
// client assertions (jwt.go).
package testkit

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Readers are goroutines that call read in a loop, pausing between calls,
// until Stop.
type Readers struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	reads    atomic.Int64
	failures atomic.Int64
	first    atomic.Value
}

// StartReaders starts n readers that call read every pause.
func StartReaders(n int, pause time.Duration, read func() error) *Readers {
	r := &Readers{stop: make(chan struct{})}
	for range n {
		r.wg.Go(func() {
			for {
				select {
				case <-r.stop:
					return
				default:
				}
				r.reads.Add(1)
				if err := read(); err != nil {
					r.failures.Add(1)
					r.first.CompareAndSwap(nil, err.Error())
				}
				time.Sleep(pause)
			}
		})
	}
	return r
}

// Stop stops the readers and fails t if any read failed.
func (r *Readers) Stop(t testing.TB, during string) {
	t.Helper()
	close(r.stop)
	r.wg.Wait()
	if f := r.failures.Load(); f != 0 {
		t.Errorf("%d of %d reads failed during %s; first: %v", f, r.reads.Load(), during, r.first.Load())
	}
	t.Logf("%d reads during %s", r.reads.Load(), during)
}

// Recorder is a listener on loopback that records every request sent to
// it (method, URL, Authorization header and body) and answers 503: where a
// secret would go if a write could redirect it.
type Recorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

// NewRecorder starts a Recorder, closed at the end of t.
func NewRecorder(t testing.TB) *Recorder {
	t.Helper()
	r := &Recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.seen = append(r.seen, fmt.Sprintf("%s %s Authorization=%q body=%q", req.Method, req.URL, req.Header.Get("Authorization"), body))
		r.mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(r.Close)
	return r
}

// Requests returns what the Recorder was sent so far.
func (r *Recorder) Requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// SyncBuffer is a bytes.Buffer that loggers and commands may write to from
// several goroutines while the test reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
