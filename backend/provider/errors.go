package provider

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Kind classifies a failed token fetch.
type Kind int

const (
	// KindTransient: network error, timeout, 408, 429, 5xx. Retried, and a
	// cached token may be served instead.
	KindTransient Kind = iota
	// KindCredentials: 401, 403, or an OAuth2 invalid_client /
	// unauthorized_client error. Never retried; further reads of the config
	// fail fast for a while.
	KindCredentials
	// KindRequest: any other 4xx, or a 2xx that carries no token (for
	// example Oracle's runtime-response failure inside a 200). Never retried.
	KindRequest
	// KindResponse: a response that cannot be used: not JSON, truncated,
	// oversized, an unusable lifetime. Not retried.
	KindResponse
	// KindConfig: the request could not be built (bad URL, bad CA bundle).
	KindConfig
)

func (k Kind) String() string {
	switch k {
	case KindTransient:
		return "transient"
	case KindCredentials:
		return "credentials"
	case KindRequest:
		return "request"
	case KindResponse:
		return "response"
	case KindConfig:
		return "config"
	default:
		return fmt.Sprintf("kind(%d)", int(k))
	}
}

// Error is a failed token fetch. Its message names the provider, the HTTP
// status and the vendor's own message, and never contains a secret: the
// vendor message is a sanitised excerpt of the body, and request details
// (headers, form bodies) are never included.
type Error struct {
	Provider string
	// Op names the request that failed; empty means the token request.
	Op   string
	Kind Kind
	// StatusCode is the vendor's HTTP status, 0 when no response arrived.
	StatusCode int
	// Code is the vendor's error code where it has one (OAuth2 "error").
	Code string
	// Message is the vendor's own message (error_description, message,
	// runtime-response message) or a sanitised body excerpt, or a
	// description of the network failure.
	Message string
	// Attempts is how many HTTP requests were made.
	Attempts int
	// Err is the underlying cause, if any (network error, context error).
	Err error
	// header is the failed response's header, for its Retry-After.
	header http.Header
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Provider)
	if e.Op == "" {
		b.WriteString(" token request failed")
	} else {
		b.WriteString(" " + e.Op + " failed")
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.StatusCode)
	}
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// IsCredentialError reports whether err is a credential failure (401, 403,
// invalid_client): the kind after which reads of a config fail fast.
func IsCredentialError(err error) bool {
	var pe *Error
	return errors.As(err, &pe) && pe.Kind == KindCredentials
}

// IsTransient reports whether err is a failure worth serving a cached token
// through: network errors, timeouts, 408, 429 and 5xx.
func IsTransient(err error) bool {
	var pe *Error
	return errors.As(err, &pe) && pe.Kind == KindTransient
}
