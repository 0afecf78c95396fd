package provider

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Attempt is one HTTP request of a token fetch, as ClientOptions.Observe
// sees it when the request has ended (its body read).
type Attempt struct {
	// Op names the request: "" for a token request, else the IAM
	// operation (OpListServiceAccounts, ...).
	Op string
	// Status is the vendor's HTTP status; 0 when no response arrived.
	Status int
	// Err is the network failure when no complete response arrived.
	Err error
	// Duration runs from sending the request to the end of its body.
	Duration time.Duration
}

// Outcomes of an attempt, as Attempt.Outcome names them.
const (
	Outcome2xx       = "2xx"
	Outcome3xx       = "3xx"
	Outcome4xx       = "4xx"
	Outcome5xx       = "5xx"
	OutcomeThrottled = "throttled" // 429
	OutcomeTimeout   = "timeout"   // no response before a deadline
	OutcomeNetwork   = "network_error"
)

// Outcomes lists every value Attempt.Outcome returns.
var Outcomes = []string{Outcome2xx, Outcome3xx, Outcome4xx, Outcome5xx, OutcomeThrottled, OutcomeTimeout, OutcomeNetwork}

// Outcome classifies the attempt: its status class, throttled for a 429,
// timeout when no response arrived before a deadline, network_error for any
// other failure without a response.
func (a Attempt) Outcome() string {
	var ne net.Error
	switch {
	case a.Status == http.StatusTooManyRequests:
		return OutcomeThrottled
	case a.Status >= 200 && a.Status < 300:
		return Outcome2xx
	case a.Status >= 300 && a.Status < 400:
		return Outcome3xx
	case a.Status >= 400 && a.Status < 500:
		return Outcome4xx
	case a.Status >= 500:
		return Outcome5xx
	case errors.Is(a.Err, context.DeadlineExceeded), errors.As(a.Err, &ne) && ne.Timeout():
		return OutcomeTimeout
	default:
		return OutcomeNetwork
	}
}
