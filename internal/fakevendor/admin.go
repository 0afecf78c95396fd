package fakevendor

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// The admin API lets out-of-process tests (end-to-end tests against a real
// Vault, the demo, benchmarks) drive the fake. It has no authentication: it
// is a test tool and must be served on loopback only. See Server.ServeHTTP
// for the routes.

const adminPrefix = "/_fake/"

// maxAdminBody bounds an admin request body.
const maxAdminBody = 1 << 20

// CheckResult is the answer of GET /_fake/check.
type CheckResult struct {
	// Minted is true when the token was minted here.
	Minted bool `json:"minted"`
	// Valid is true when it was minted here and has not expired at the
	// fake's now.
	Valid bool       `json:"valid"`
	Info  *TokenInfo `json:"info,omitempty"`
}

func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Date", httpDate(s.Now()))
	route := r.Method + " " + r.URL.Path
	switch route {
	case "GET /_fake/faults", "PUT /_fake/faults":
		adminResource(w, r, s.Faults, s.SetFaults)
	case "GET /_fake/stats":
		adminJSON(w, http.StatusOK, s.Stats())
	case "POST /_fake/stats/reset":
		s.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	case "POST /_fake/accounts":
		adminSet(w, r, s.AddAccount, http.StatusCreated, func(a Account) any {
			return map[string]string{"provider": a.Provider, "id": a.ID()}
		})
	case "PUT /_fake/oauth2/jwks":
		id := r.URL.Query().Get("client_id")
		adminSet(w, r, func(set jose.JSONWebKeySet) error { return s.SetJWKS(id, set) }, http.StatusOK, func(set jose.JSONWebKeySet) any {
			return map[string]any{"client_id": id, "keys": len(set.Keys)}
		})
	case "GET /_fake/oauth2/last_request":
		rec, ok := s.LastOAuth2Request(r.URL.Query().Get("client_id"))
		if !ok {
			adminError(w, http.StatusNotFound, "client_id: no token request recorded for this oauth2 client")
			return
		}
		adminJSON(w, http.StatusOK, rec)
	case "GET /_fake/lifetimes", "PUT /_fake/lifetimes":
		adminResource(w, r, s.lifetimeStrings, s.setLifetimeStrings)
	case "GET /_fake/check":
		info, valid := s.Check(r.URL.Query().Get("token"))
		res := CheckResult{Minted: info.Provider != "", Valid: valid}
		if res.Minted {
			res.Info = &info
		}
		adminJSON(w, http.StatusOK, res)
	case "GET /_fake/now":
		adminJSON(w, http.StatusOK, map[string]time.Time{"now": s.Now()})
	case "GET /_fake/iam/faults", "PUT /_fake/iam/faults":
		adminResource(w, r, s.IAMFaults, s.SetIAMFaults)
	case "GET /_fake/iam/accounts":
		adminJSON(w, http.StatusOK, s.IAMAccounts())
	default:
		adminError(w, http.StatusNotFound, "no admin route "+r.Method+" "+r.URL.Path)
	}
}

func (s *Server) lifetimeStrings() map[string]string {
	out := map[string]string{}
	for _, p := range Providers() {
		out[p] = s.Lifetime(p).String()
	}
	return out
}

// setLifetimeStrings validates every lifetime before setting any, so a bad
// request changes nothing.
func (s *Server) setLifetimeStrings(in map[string]string) error {
	parsed := map[string]time.Duration{}
	for p, v := range in {
		d, err := time.ParseDuration(v)
		if err != nil || !knownProvider(p) || d < 0 || d > maxLifetime {
			return errors.New(`lifetimes: want {"<provider>": "<duration between 0s and 100 years>"}`)
		}
		parsed[p] = d
	}
	for p, d := range parsed {
		_ = s.SetLifetime(p, d) // validated above
	}
	return nil
}

// adminResource answers a GET with get's value, and a PUT by setting the
// body's value (adminSet) and answering with get's value after it.
func adminResource[T any](w http.ResponseWriter, r *http.Request, get func() T, set func(T) error) {
	if r.Method == http.MethodGet {
		adminJSON(w, http.StatusOK, get())
		return
	}
	adminSet(w, r, set, http.StatusOK, func(T) any { return get() })
}

// adminSet decodes the body into a T and hands it to set: a body that does
// not decode, or an error of set, is a 400 naming what is wrong; a success
// is answered with status and answer's value.
func adminSet[T any](w http.ResponseWriter, r *http.Request, set func(T) error, status int, answer func(T) any) {
	var v T
	if !adminDecode(w, r, &v) {
		return
	}
	if err := set(v); err != nil {
		adminError(w, http.StatusBadRequest, err.Error())
		return
	}
	adminJSON(w, status, answer(v))
}

// adminDecode reads a JSON body strictly into v, answering 400 on failure.
func adminDecode(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	if err == nil {
		err = decodeStrict(b, v)
	}
	if err != nil {
		// Only the decoder's own message (field names and types), never the
		// body, which may hold a secret.
		adminError(w, http.StatusBadRequest, "invalid JSON body: "+jsonErrorKind(err))
		return false
	}
	return true
}

// jsonErrorKind describes a decoding error without quoting the input.
// Faults.UnmarshalJSON's own errors quote durations only, never a secret.
func jsonErrorKind(err error) string {
	var (
		typeErr   *json.UnmarshalTypeError
		syntaxErr *json.SyntaxError
		sizeErr   *http.MaxBytesError
	)
	switch {
	case errors.As(err, &typeErr):
		return "field " + typeErr.Field + " has the wrong type"
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "malformed JSON"
	case errors.As(err, &sizeErr):
		return "too large"
	default:
		// `json: unknown field "name"` (a field name, not a value), errBadBody
		// or a message of Faults.UnmarshalJSON.
		return err.Error()
	}
}

func adminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func adminError(w http.ResponseWriter, status int, msg string) {
	adminJSON(w, status, map[string]string{"error": msg})
}
