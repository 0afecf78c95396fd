// Package testclock is a clock for tests: it stands still until the test
// moves it, so time-dependent behaviour is tested without sleeping.
package testclock

import (
	"sync"
	"time"
)

// Clock is a clock that moves only by Advance. It is safe for concurrent
// use; pass its Now wherever the code under test takes a clock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock standing at start.
func New(start time.Time) *Clock {
	return &Clock{now: start}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
