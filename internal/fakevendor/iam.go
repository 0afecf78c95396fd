package fakevendor

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Strata Cloud Manager IAM service accounts, as the vendor's OpenAPI
// document ServiceAccounts.yaml describes them, for every paloalto_scm
// account:
//
//	GET  /iam/v1/service_accounts                        200, a JSON array of service accounts
//	GET  /iam/v1/service_accounts/{id}                   200, one service account
//	POST /iam/v1/service_accounts/{id}/operations/reset  201, the account plus its new client_secret
//
// A service account is {id, name, client_id, tsg_id, contact_email,
// description}: id a UUID (Account.ServiceAccountID, or one derived from the
// client id), name the client id's part before "@", tsg_id the account's own
// TSG (the first of Account.TSGIDs; the others are its children).
//
// Every request carries "Authorization: Bearer <token>" with a paloalto_scm
// token this server minted and that has not expired. The token's TSG must
// cover the service account: be its TSG or a parent of it (a TSG whose
// account lists the service account's TSG among its children). A list shows
// the accounts the token covers. Errors are in the SCM API shape
// {"_errors":[{"code","message","details"}],"_request_id"}: 401 without a
// usable token, 403 for an account the token's TSG does not cover (or
// IAMFaults.RefuseReset), 404 for an unknown id, 405 for a wrong method.
//
// A reset replaces the account's secret at once; with
// IAMFaults.OldSecretGrace the old secret is accepted for that long after.
// IAMFaults.ResetStatus and ResetAnswer change how a real reset is answered
// (another 2xx status, a text body, no secret, another client id).

// iamPrefix is the path prefix of the IAM API.
const iamPrefix = "/iam/v1/service_accounts"

// Shapes of a reset answer (IAMFaults.ResetAnswer). Each follows a real
// reset.
const (
	ResetAnswerJSON          = ""                // the account and client_secret as JSON
	ResetAnswerText          = "text"            // text/plain "client_secret=<new>"
	ResetAnswerNoSecret      = "no_secret"       // the account as JSON without client_secret: the secret is lost
	ResetAnswerOtherClientID = "other_client_id" // JSON whose client_id is not the account's
)

// IAMFaults are the fault modes of the IAM API. The zero value injects
// nothing. They apply to reset requests only.
//
// For example, "the first reset is slow, its answer and the next two are
// lost, then the API answers again" is
// IAMFaults{SlowResetNext: 1, AnswerDelay: 2 * time.Second, LoseResetNext: 3},
// or {"slow_reset_next":1,"answer_delay":"2s","lose_reset_next":3} on
// PUT /_fake/iam/faults.
type IAMFaults struct {
	// RefuseReset answers every reset with 403: the service account's role
	// may not manage service accounts.
	RefuseReset bool `json:"refuse_reset,omitempty"`
	// FailResetNext answers the next this-many resets with FailStatus (503
	// by default), without resetting.
	FailResetNext int `json:"fail_reset_next,omitempty"`
	// FailStatus is the status of FailResetNext; 0 means 503.
	FailStatus int `json:"fail_status,omitempty"`
	// LoseResetNext resets the secret for the next this-many resets and then
	// (after AnswerDelay) closes the connection without a response: the
	// reset happened at the vendor and its answer, the only copy of the new
	// secret, is lost.
	LoseResetNext int `json:"lose_reset_next,omitempty"`
	// ResetDelay holds every reset this long before it is made, or until
	// the client gives up (then nothing is reset).
	ResetDelay time.Duration `json:"-"`
	// AnswerDelay holds the answer of every reset this long after the
	// secret was replaced, or until the client gives up (then the answer,
	// and the new secret, are lost).
	AnswerDelay time.Duration `json:"-"`
	// SlowResetNext, when positive, limits ResetDelay and AnswerDelay to
	// the next this-many resets: after the last of them both are set to 0.
	SlowResetNext int `json:"slow_reset_next,omitempty"`
	// ResetStatus is the status of a reset's answer: 200, 201 or 202; 0
	// means 201, as documented.
	ResetStatus int `json:"reset_status,omitempty"`
	// ResetAnswer is one of the ResetAnswer* shapes.
	ResetAnswer string `json:"reset_answer,omitempty"`
	// OldSecretGrace keeps the previous secret valid this long after a
	// reset; 0 (the default) stops it at once.
	OldSecretGrace time.Duration `json:"-"`
}

// iamFaultsJSON shadows the durations with Go duration strings ("1.5s").
type iamFaultsJSON struct {
	plainIAMFaults
	ResetDelay     string `json:"reset_delay,omitempty"`
	AnswerDelay    string `json:"answer_delay,omitempty"`
	OldSecretGrace string `json:"old_secret_grace,omitempty"`
}

type plainIAMFaults IAMFaults

// MarshalJSON writes durations as strings such as "1.5s".
func (f IAMFaults) MarshalJSON() ([]byte, error) {
	return json.Marshal(iamFaultsJSON{
		plainIAMFaults: plainIAMFaults(f),
		ResetDelay:     durationString(f.ResetDelay),
		AnswerDelay:    durationString(f.AnswerDelay),
		OldSecretGrace: durationString(f.OldSecretGrace),
	})
}

// UnmarshalJSON reads durations as strings; unknown fields are rejected.
func (f *IAMFaults) UnmarshalJSON(b []byte) error {
	var w iamFaultsJSON
	if err := decodeStrict(b, &w); err != nil {
		return err
	}
	out := IAMFaults(w.plainIAMFaults)
	if err := parseDurations(
		durationField{"reset_delay", w.ResetDelay, &out.ResetDelay},
		durationField{"answer_delay", w.AnswerDelay, &out.AnswerDelay},
		durationField{"old_secret_grace", w.OldSecretGrace, &out.OldSecretGrace},
	); err != nil {
		return err
	}
	*f = out
	return nil
}

// Validate reports what is wrong with the faults, if anything.
func (f IAMFaults) Validate() error {
	switch {
	case f.FailResetNext < 0 || f.LoseResetNext < 0 || f.SlowResetNext < 0:
		return errors.New("fail_reset_next, lose_reset_next, slow_reset_next: must not be negative")
	case f.ResetStatus != 0 && f.ResetStatus != 200 && f.ResetStatus != 201 && f.ResetStatus != 202:
		return fmt.Errorf("reset_status: %d is not 200, 201 or 202", f.ResetStatus)
	case !slices.Contains([]string{ResetAnswerJSON, ResetAnswerText, ResetAnswerNoSecret, ResetAnswerOtherClientID}, f.ResetAnswer):
		return fmt.Errorf("reset_answer: %q is not one of text, no_secret, other_client_id", f.ResetAnswer)
	case f.FailStatus != 0 && (f.FailStatus < 400 || f.FailStatus > 599):
		return fmt.Errorf("fail_status: %d is not between 400 and 599", f.FailStatus)
	case f.ResetDelay < 0 || f.ResetDelay > maxFaultDuration || f.AnswerDelay < 0 || f.AnswerDelay > maxFaultDuration:
		return errors.New("reset_delay, answer_delay: must be between 0 and 100 years")
	case f.OldSecretGrace < 0 || f.OldSecretGrace > maxFaultDuration:
		return errors.New("old_secret_grace: must be between 0 and 100 years")
	}
	return nil
}

// ServiceAccount is a service account as the IAM API shows it.
type ServiceAccount struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	ClientID     string `json:"client_id"`
	TSGID        string `json:"tsg_id"`
	ContactEmail string `json:"contact_email"`
	Description  string `json:"description"`
}

// IAMAccount is what GET /_fake/iam/accounts reports of a service account:
// never its secret.
type IAMAccount struct {
	ServiceAccount
	// Resets counts the resets made (lost answers included).
	Resets int `json:"resets"`
	// LastResetAt is the fake's time of the latest reset.
	LastResetAt time.Time `json:"last_reset_at,omitzero"`
}

// iamState is the IAM part of a Server, guarded by Server.mu.
type iamState struct {
	faults IAMFaults
	resets map[string]int       // by client id
	last   map[string]time.Time // by client id
	// grace holds a replaced secret still accepted until its time.
	grace map[string]graceSecret // by client id
}

type graceSecret struct {
	secret string
	until  time.Time
}

// SetIAMFaults replaces the IAM fault configuration.
func (s *Server) SetIAMFaults(f IAMFaults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.iam.faults = f
	return nil
}

// IAMFaults returns the IAM faults in force, counters as far as they have
// counted down.
func (s *Server) IAMFaults() IAMFaults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.iam.faults
}

// IAMAccounts lists the service accounts (every paloalto_scm account) with
// their reset counts, sorted by client id.
func (s *Server) IAMAccounts() []IAMAccount {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []IAMAccount
	for k, a := range s.accounts {
		if k.provider != ProviderSCM {
			continue
		}
		out = append(out, IAMAccount{
			ServiceAccount: serviceAccountOf(a),
			Resets:         s.iam.resets[a.ClientID],
			LastResetAt:    s.iam.last[a.ClientID],
		})
	}
	slices.SortFunc(out, func(a, b IAMAccount) int { return strings.Compare(a.ClientID, b.ClientID) })
	return out
}

// ServiceAccountID returns the IAM id of a paloalto_scm account: its
// ServiceAccountID, or a UUID derived from its client id.
func ServiceAccountID(a Account) string {
	if a.ServiceAccountID != "" {
		return a.ServiceAccountID
	}
	h := sha256.Sum256([]byte("service-account:" + a.ClientID))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func serviceAccountOf(a Account) ServiceAccount {
	name, _, _ := strings.Cut(a.ClientID, "@")
	return ServiceAccount{
		ID:           ServiceAccountID(a),
		Name:         name,
		ClientID:     a.ClientID,
		TSGID:        a.TSGIDs[0],
		ContactEmail: "admin@example.com",
		Description:  "fake service account " + name,
	}
}

// graceAccepts reports whether secret is a replaced secret of the SCM
// account id still inside its grace period.
func (s *Server) graceAccepts(provider, id, secret string) bool {
	if provider != ProviderSCM {
		return false
	}
	now := s.Now()
	s.mu.Lock()
	g, ok := s.iam.grace[id]
	s.mu.Unlock()
	return ok && now.Before(g.until) && secretEqual(g.secret, secret)
}

// iamError is the SCM API error shape.
func iamError(status int, code, message string) response {
	return jsonResponse(status, map[string]any{
		"_errors":     []map[string]any{{"code": code, "message": message, "details": map[string]any{}}},
		"_request_id": newUUID(),
	})
}

// serveIAM answers the IAM API.
func (s *Server) serveIAM(w http.ResponseWriter, r *http.Request) {
	now := s.Now()
	rest := strings.TrimPrefix(r.URL.Path, iamPrefix)
	id, op, _ := strings.Cut(strings.TrimPrefix(rest, "/"), "/")
	var resp response
	switch {
	case rest != "" && !strings.HasPrefix(rest, "/"):
		resp = iamError(http.StatusNotFound, "E005", "Not found.")
	case id == "" && op == "":
		resp = s.iamList(r)
	case op == "":
		resp = s.iamGet(r, id)
	case op == "operations/reset":
		s.iamReset(w, r, id)
		return
	default:
		resp = iamError(http.StatusNotFound, "E005", "Not found.")
	}
	writeResponse(w, resp, now)
}

// iamCaller checks the bearer token and returns the TSG it is scoped to.
func (s *Server) iamCaller(r *http.Request) (string, *response) {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || tok == "" {
		resp := iamError(http.StatusUnauthorized, "E016", "Missing or malformed bearer token.")
		return "", &resp
	}
	info, valid := s.Check(tok)
	if !valid || info.Provider != ProviderSCM {
		resp := iamError(http.StatusUnauthorized, "E016", "The access token is invalid or has expired.")
		return "", &resp
	}
	return strings.TrimPrefix(info.Scope, "tsg_id:"), nil
}

// covers reports whether a token scoped to tsg may manage a service account
// of TSG target: its own TSG, or a parent of it. Called under s.mu.
func (s *Server) covers(tsg, target string) bool {
	if tsg == target {
		return true
	}
	for k, a := range s.accounts {
		if k.provider == ProviderSCM && a.TSGIDs[0] == tsg && slices.Contains(a.TSGIDs[1:], target) {
			return true
		}
	}
	return false
}

func (s *Server) iamList(r *http.Request) response {
	if r.Method != http.MethodGet {
		return iamError(http.StatusMethodNotAllowed, "E003", "Method not allowed.")
	}
	tsg, bad := s.iamCaller(r)
	if bad != nil {
		return *bad
	}
	s.mu.Lock()
	list := []ServiceAccount{}
	for k, a := range s.accounts {
		if k.provider == ProviderSCM && s.covers(tsg, a.TSGIDs[0]) {
			list = append(list, serviceAccountOf(a))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(list, func(a, b ServiceAccount) int { return strings.Compare(a.ClientID, b.ClientID) })
	return jsonResponse(http.StatusOK, list)
}

// lookupSA finds the service account with IAM id id that tsg covers, or
// the error response.
func (s *Server) lookupSA(tsg, id string) (Account, *response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookupSALocked(tsg, id)
}

// lookupSALocked is lookupSA under s.mu.
func (s *Server) lookupSALocked(tsg, id string) (Account, *response) {
	for k, a := range s.accounts {
		if k.provider != ProviderSCM || ServiceAccountID(a) != id {
			continue
		}
		if !s.covers(tsg, a.TSGIDs[0]) {
			resp := iamError(http.StatusForbidden, "E007", "Not authorized for the service account's TSG.")
			return Account{}, &resp
		}
		return a, nil
	}
	resp := iamError(http.StatusNotFound, "E005", "Service account not found.")
	return Account{}, &resp
}

func (s *Server) iamGet(r *http.Request, id string) response {
	if r.Method != http.MethodGet {
		return iamError(http.StatusMethodNotAllowed, "E003", "Method not allowed.")
	}
	tsg, bad := s.iamCaller(r)
	if bad != nil {
		return *bad
	}
	a, bad := s.lookupSA(tsg, id)
	if bad != nil {
		return *bad
	}
	return jsonResponse(http.StatusOK, serviceAccountOf(a))
}

// iamReset answers a reset, injecting its faults. It writes the response
// itself; a lost answer writes none.
func (s *Server) iamReset(w http.ResponseWriter, r *http.Request, id string) {
	answer := func(resp response) {
		writeResponse(w, resp, s.Now())
	}
	if r.Method != http.MethodPost {
		resp := iamError(http.StatusMethodNotAllowed, "E003", "Method not allowed.")
		resp.header.Set("Allow", http.MethodPost)
		answer(resp)
		return
	}
	tsg, bad := s.iamCaller(r)
	if bad == nil {
		_, bad = s.lookupSA(tsg, id)
	}
	if bad != nil {
		answer(*bad)
		return
	}

	s.mu.Lock()
	f := &s.iam.faults
	shape := *f
	delay, answerDelay, refuse := f.ResetDelay, f.AnswerDelay, f.RefuseReset
	if f.SlowResetNext > 0 {
		if f.SlowResetNext--; f.SlowResetNext == 0 {
			f.ResetDelay, f.AnswerDelay = 0, 0
		}
	}
	var fail, lose bool
	switch {
	case refuse:
	case f.FailResetNext > 0:
		f.FailResetNext--
		fail = true
	case f.LoseResetNext > 0:
		f.LoseResetNext--
		lose = true
	}
	failStatus, grace := f.FailStatus, f.OldSecretGrace
	s.mu.Unlock()
	if failStatus == 0 {
		failStatus = http.StatusServiceUnavailable
	}

	if !wait(r, delay) {
		panic(http.ErrAbortHandler) // the client gave up: nothing was reset
	}
	switch {
	case refuse:
		answer(iamError(http.StatusForbidden, "E007", "The caller's role does not allow managing service accounts."))
		return
	case fail:
		answer(iamError(failStatus, "E500", http.StatusText(failStatus)+"."))
		return
	}

	secret := "fake-scm-secret-" + rand.Text() + rand.Text()
	s.mu.Lock()
	sa, _ := s.lookupSALocked(tsg, id)
	cur, ok := s.accounts[accountKey{ProviderSCM, sa.ClientID}]
	if ok {
		if s.iam.grace == nil {
			s.iam.grace, s.iam.resets, s.iam.last = map[string]graceSecret{}, map[string]int{}, map[string]time.Time{}
		}
		now := s.clock().Add(s.faults.ClockSkew)
		if grace > 0 {
			s.iam.grace[cur.ClientID] = graceSecret{secret: cur.ClientSecret, until: now.Add(grace)}
		} else {
			delete(s.iam.grace, cur.ClientID)
		}
		cur.ClientSecret = secret
		s.accounts[accountKey{ProviderSCM, cur.ClientID}] = cur
		s.iam.resets[cur.ClientID]++
		s.iam.last[cur.ClientID] = now
	}
	s.mu.Unlock()
	if !ok { // removed meanwhile
		answer(iamError(http.StatusNotFound, "E005", "Service account not found."))
		return
	}
	if !wait(r, answerDelay) {
		panic(http.ErrAbortHandler) // the client gave up: the new secret is lost
	}
	if lose {
		resetConnection(w)
		return
	}
	answer(resetAnswer(shape, cur, secret))
}

// resetAnswer is the answer to a reset of account a whose new secret is
// secret, shaped by f.ResetStatus and f.ResetAnswer.
func resetAnswer(f IAMFaults, a Account, secret string) response {
	status := f.ResetStatus
	if status == 0 {
		status = http.StatusCreated
	}
	if f.ResetAnswer == ResetAnswerText {
		return response{
			status: status, header: http.Header{"Content-Type": {"text/plain;charset=UTF-8"}},
			body: []byte("client_secret=" + secret + "\n"),
		}
	}
	body := struct {
		ServiceAccount
		ClientSecret string `json:"client_secret,omitempty"`
	}{serviceAccountOf(a), secret}
	switch f.ResetAnswer {
	case ResetAnswerNoSecret:
		body.ClientSecret = ""
	case ResetAnswerOtherClientID:
		body.ClientID = "not-" + body.ClientID
	}
	return jsonResponse(status, body)
}

// wait holds a request for d and reports whether its client waited too.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}
