package provider

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// The Strata Cloud Manager IAM API (the vendor's OpenAPI ServiceAccounts.yaml)
// manages service accounts with a bearer token from the SCM auth service,
// scoped (tsg_id:<id>) to the service account's TSG or a parent of it:
//
//	GET  {iam_url}/iam/v1/service_accounts                       200, [{id, name, client_id, tsg_id, ...}]
//	GET  {iam_url}/iam/v1/service_accounts/{id}                  200, {id, name, client_id, tsg_id, ...}
//	POST {iam_url}/iam/v1/service_accounts/{id}/operations/reset 201, the account plus client_secret
//
// Errors come as RFC 6749 {"error","error_description"} or in the SCM API
// shape {"_errors":[{"code","message","details"}],"_request_id"}. Whether the
// old secret keeps working after a reset is not documented: callers assume it
// stops at once.

// Names of the IAM operations, as errors name them.
const (
	OpListServiceAccounts = "service account list"
	OpGetServiceAccount   = "service account lookup"
	OpResetSecret         = "service account secret reset"
)

const serviceAccountsPath = "/iam/v1/service_accounts"

// The config fields of secret rotation (paloalto_scm).
var (
	IAMURL = Field{
		Name: "iam_url", Label: "IAM URL", Destination: true, RotationOnly: true,
		Description: "The Strata Cloud Manager IAM API base URL that rotate-root uses. Must be https://; http:// is accepted for loopback hosts only.",
		Check:       func(v string) error { return checkURL("iam_url", v) },
	}
	ServiceAccountID = Field{
		Name: "service_account_id", Label: "Service account ID", RotationOnly: true,
		Description: "The IAM id (a UUID) of the service account whose secret rotate-root resets; its client_id must be the " +
			"config's. When empty, the engine lists the service accounts, uses the one whose client_id is the config's, and says which.",
		Check: checkServiceAccountID,
	}
)

// serviceAccountIDRe is the form of a service account's IAM id: a UUID, such
// as 2f56a901-4b71-45dc-a8d6-6b77eb41934d.
var serviceAccountIDRe = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

// checkServiceAccountID accepts a UUID only: the id goes into the reset
// request's path, where a name, a path or ".." would reach another URL.
// Its message does not quote the value.
func checkServiceAccountID(v string) error {
	if !serviceAccountIDRe.MatchString(v) {
		return errors.New("service_account_id: must be the service account's IAM id, a UUID such as " +
			"2f56a901-4b71-45dc-a8d6-6b77eb41934d (not its name, client_id, a path or a URL); leave it empty to find it by client_id")
	}
	return nil
}

// ServiceAccount is an SCM IAM service account.
type ServiceAccount struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	ClientID string `json:"client_id"`
	TSGID    string `json:"tsg_id"`
}

// IAMRequest is what every IAM call needs.
type IAMRequest struct {
	// BaseURL is the IAM API base URL (the config's iam_url).
	BaseURL string
	// Token is the bearer token: secret, never logged or quoted.
	Token string
	// Secrets are the credentials the token was minted with, so that an
	// echo of them in a vendor message is redacted too.
	Secrets []string
}

func (r IAMRequest) redactor() redactor {
	return newRedactor(append([]string{r.Token}, r.Secrets...)...)
}

// saClientIDRe matches a service account's client id and captures its TSG:
// name@<tsg id>.iam.panserviceaccount.com.
var saClientIDRe = regexp.MustCompile(`@([0-9]{1,20})\.iam\.panserviceaccount\.com$`)

// ServiceAccountTSG returns the TSG a service account belongs to, read from
// its client id, and false when the client id does not have that form.
func ServiceAccountTSG(clientID string) (string, bool) {
	m := saClientIDRe.FindStringSubmatch(clientID)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// ListServiceAccounts lists the service accounts the token may see. Network
// failures, 408, 429 and 5xx are retried inside ctx, as token requests are.
func (c *Client) ListServiceAccounts(ctx context.Context, r IAMRequest) ([]ServiceAccount, error) {
	return iamCall(ctx, c, r, c.policy, OpListServiceAccounts, http.MethodGet, serviceAccountsPath,
		func(body []byte) ([]ServiceAccount, string) {
			var list []ServiceAccount
			if json.Unmarshal(body, &list) != nil {
				return nil, "the response is not a JSON list of service accounts"
			}
			return list, ""
		})
}

// GetServiceAccount reads service account id, retried like a list.
func (c *Client) GetServiceAccount(ctx context.Context, r IAMRequest, id string) (ServiceAccount, error) {
	return iamCall(ctx, c, r, c.policy, OpGetServiceAccount, http.MethodGet, serviceAccountsPath+"/"+url.PathEscape(id),
		func(body []byte) (ServiceAccount, string) {
			var sa ServiceAccount
			if json.Unmarshal(body, &sa) != nil || sa.ClientID == "" {
				return sa, "the response is not a service account with a client_id"
			}
			return sa, ""
		})
}

// ResetSecret resets the secret of service account id and returns the
// account and its new secret. Any 2xx answer that carries a client_secret
// is a success. It is made once: the caller decides whether to repeat it,
// since a reset whose answer is lost may still have happened (see
// ResetMayHaveHappened). The new secret is never part of an error, and an
// answer without one is never quoted.
func (c *Client) ResetSecret(ctx context.Context, r IAMRequest, id string) (ServiceAccount, string, error) {
	type answer struct {
		ServiceAccount
		ClientSecret string `json:"client_secret"`
	}
	out, err := iamCall(ctx, c, r, Policy{Attempts: 1}, OpResetSecret, http.MethodPost,
		serviceAccountsPath+"/"+url.PathEscape(id)+"/operations/reset",
		func(body []byte) (answer, string) {
			var a answer
			if err := json.Unmarshal(body, &a); err != nil {
				return a, fmt.Sprintf("the answer is not JSON (%d bytes, not quoted: it may hold the new secret)", len(body))
			}
			if strings.TrimSpace(a.ClientSecret) == "" {
				return a, "the answer carries no client_secret"
			}
			return a, ""
		})
	return out.ServiceAccount, out.ClientSecret, err
}

// ResetMayHaveHappened reports whether a failed ResetSecret may still have
// replaced the secret at the vendor: no answer arrived (a lost response, a
// timeout), the vendor failed (5xx) or answered success without a usable
// secret. A refusal (4xx) means the secret is unchanged.
func ResetMayHaveHappened(err error) bool {
	var pe *Error
	if !errors.As(err, &pe) {
		return true
	}
	return pe.StatusCode == 0 || pe.StatusCode >= 500 || isSuccess(pe.StatusCode)
}

// iamCall makes an IAM request with the bearer token, repeated as pol says,
// and returns what parse reads from a 2xx body. parse's complaint is our
// own text (never the body), made a KindResponse failure.
func iamCall[T any](ctx context.Context, c *Client, r IAMRequest, pol Policy, op, method, path string,
	parse func(body []byte) (T, string),
) (T, error) {
	rd := r.redactor()
	return exchange(ctx, c, request[T]{
		provider: PaloAltoSCM,
		op:       op,
		redact:   rd,
		policy:   pol,
		build: func(ctx context.Context) (*http.Request, []string, error) {
			req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(r.BaseURL, "/")+path, http.NoBody)
			if err != nil {
				return nil, nil, &Error{Provider: PaloAltoSCM, Op: op, Kind: KindConfig, Message: "the request cannot be built from iam_url"}
			}
			req.Header.Set("Authorization", "Bearer "+r.Token)
			req.Header.Set("Accept", contentTypeJSON)
			return req, nil, nil
		},
		parse: func(resp *Response, _ time.Time, _ int) (T, error) {
			if !isSuccess(resp.StatusCode) {
				var zero T
				code, msg := iamErrorDetail(resp.Body, rd)
				return zero, &Error{Kind: classify(resp.StatusCode, code), StatusCode: resp.StatusCode, Code: code, Message: msg}
			}
			v, complaint := parse(resp.Body)
			if complaint != "" {
				return v, &Error{Kind: KindResponse, StatusCode: resp.StatusCode, Message: complaint}
			}
			return v, nil
		},
	})
}

// iamErrorDetail reads the vendor's code and message from an SCM API error
// body ({"_errors":[{"code","message"}]}), or as any other vendor error body.
func iamErrorDetail(body []byte, r redactor) (code, msg string) {
	var scm struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"_errors"`
	}
	if json.Unmarshal(body, &scm) == nil && len(scm.Errors) > 0 && (scm.Errors[0].Code != "" || scm.Errors[0].Message != "") {
		return sanitize(scm.Errors[0].Code, r, maxCode), sanitize(scm.Errors[0].Message, r, maxMessage)
	}
	return detailOrExcerpt(body, r)
}

// scmSecretReset rotates a paloalto_scm config's client secret through the
// IAM API. Its steps, as errors name them:
//
//	token  fetch a bearer token with the stored secret, scoped to the
//	       service account's own TSG (from its client_id) or the config's
//	find   resolve the service account: service_account_id, checked to
//	       have the config's client_id, or the one account that has it
//	reset  reset the secret with the saved bearer token; an answer that is
//	       lost, a 5xx or a 2xx without a secret is repeated with the same
//	       token, and whichever reset answers last gives the secret stored
//
// Begin runs token and find and returns the bearer token as the pending
// state, usable until it expires; Finish runs reset.
type scmSecretReset struct{}

// Steps of a Strata Cloud Manager secret reset.
const (
	StepToken = "token"
	StepFind  = "find"
	StepReset = "reset"
)

// ResetAttempts bounds the resets of one run whose outcome is unknown.
const ResetAttempts = 3

// resetPolicy repeats a reset whose outcome is unknown, with the same
// bearer token.
var resetPolicy = Policy{Attempts: ResetAttempts, WaitMin: time.Second, WaitMax: 2 * time.Second, Again: ResetMayHaveHappened}

// Pending-state keys of a secret reset.
const (
	stateToken    = "token"
	stateAccount  = "service_account_id"
	stateClientID = "client_id"
)

func (scmSecretReset) Applies(Values) bool { return true }

func (scmSecretReset) Terms() Terms {
	return Terms{Credential: "secret", Changed: "reset", Saved: "saved token", Field: ClientSecret.Name}
}

func (scmSecretReset) Reports() []ResponseField {
	return []ResponseField{
		{"service_account_id", "The IAM id of the service account whose secret was reset."},
		{"service_account_name", "Its name, as the vendor reported it."},
	}
}

func (scmSecretReset) KeepsPending(err error) bool { return ResetMayHaveHappened(err) }

func (scmSecretReset) Begin(ctx context.Context, env RotationEnv) (Pending, error) {
	p := env.Params
	if tsg, ok := ServiceAccountTSG(p.Get(ClientID)); ok {
		p.Values = cloneValues(p.Values)
		p.Values[TSGID.Name] = tsg
	}
	tok, err := env.fetch(ctx, p)
	if err != nil {
		return Pending{}, stepError(StepToken, err)
	}
	iam := iamRequest(env.Params, tok.AccessToken)
	id, err := findServiceAccount(ctx, env, iam)
	if err != nil {
		return Pending{}, stepError(StepFind, err)
	}
	return Pending{
		StartedAt:  env.Now().UTC(),
		ValidUntil: tok.ExpiresAt.UTC(),
		State:      map[string]string{stateToken: tok.AccessToken, stateAccount: id, stateClientID: p.Get(ClientID)},
	}, nil
}

func (scmSecretReset) Finish(ctx context.Context, env RotationEnv, pend Pending) (Outcome, error) {
	iam := iamRequest(env.Params, pend.State[stateToken])
	id := pend.State[stateAccount]
	// The answer must be for the account the reset began with, whatever
	// the config says now (a record from an earlier version names none).
	clientID := cmp.Or(pend.State[stateClientID], env.Params.Get(ClientID))
	pol := resetPolicy
	pol.After = func(n int, err error, again bool, _ time.Duration) {
		if again {
			env.Log.Warn("the outcome of a secret reset is unknown; repeating it", "attempt", n, "error", err.Error())
		}
	}
	type reset struct {
		sa     ServiceAccount
		secret string
	}
	r, err := Retry(ctx, pol, func(int) (reset, error) {
		rctx, cancel := context.WithTimeout(ctx, env.Timeout)
		defer cancel()
		sa, secret, err := env.Client.ResetSecret(rctx, iam, id)
		if err == nil && sa.ClientID != "" && sa.ClientID != clientID {
			// The answer speaks of another account: its secret is not
			// this config's, and whether ours was reset is unknown.
			return reset{}, &Error{
				Provider: PaloAltoSCM, Op: OpResetSecret, Kind: KindResponse, StatusCode: http.StatusOK,
				Message: fmt.Sprintf("the answer is for client_id %q, not %q, the account this reset began with", truncate(sa.ClientID, 120), clientID),
			}
		}
		return reset{sa, secret}, err
	})
	if err != nil {
		return Outcome{}, stepError(StepReset, err)
	}
	if r.sa.ID == "" {
		r.sa.ID = id
	}
	return Outcome{
		Values: Values{ClientSecret.Name: r.secret},
		Info:   map[string]string{"service_account_id": r.sa.ID, "service_account_name": r.sa.Name},
	}, nil
}

// iamRequest is an IAM request with token for the config of p.
func iamRequest(p Params, token string) IAMRequest {
	return IAMRequest{BaseURL: p.Get(IAMURL), Token: token, Secrets: p.redactedForms()}
}

// findServiceAccount returns service_account_id, after checking that its
// client_id is the config's, or the id of the one service account whose
// client_id is the config's. A mismatch is a KindConfig error: nothing is
// reset.
func findServiceAccount(ctx context.Context, env RotationEnv, iam IAMRequest) (string, error) {
	clientID := env.Params.Get(ClientID)
	ctx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	if id := env.Params.Get(ServiceAccountID); id != "" {
		sa, err := env.Client.GetServiceAccount(ctx, iam, id)
		if err != nil {
			return "", err
		}
		if sa.ClientID != clientID {
			return "", iamConfigError(fmt.Sprintf("service_account_id %s belongs to client_id %q, not the config's client_id %q; "+
				"nothing was reset (set service_account_id to the config's own service account, or leave it empty to find it by client_id)",
				id, truncate(sa.ClientID, 120), clientID))
		}
		return id, nil
	}
	list, err := env.Client.ListServiceAccounts(ctx, iam)
	if err != nil {
		return "", err
	}
	var ids []string
	for _, sa := range list {
		if sa.ClientID == clientID && sa.ID != "" {
			ids = append(ids, sa.ID)
		}
	}
	switch len(ids) {
	case 0:
		return "", iamConfigError(fmt.Sprintf("none of the %d service accounts the token may see has client_id %q; set service_account_id", len(list), clientID))
	case 1:
		return ids[0], nil
	default:
		return "", iamConfigError(fmt.Sprintf("%d service accounts have client_id %q (%s); set service_account_id", len(ids), clientID, strings.Join(ids, ", ")))
	}
}

// iamConfigError is a service account that does not fit the config: a
// caller's mistake, made before anything changed.
func iamConfigError(msg string) *Error {
	return &Error{Provider: PaloAltoSCM, Op: OpGetServiceAccount, Kind: KindConfig, Message: msg}
}

// cloneValues returns a copy of v that can be changed without changing v.
func cloneValues(v Values) Values {
	out := make(Values, len(v)+1)
	for k, x := range v {
		out[k] = x
	}
	return out
}
