package provider

import (
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
//	POST {iam_url}/iam/v1/service_accounts/{id}/operations/reset 201, the account plus client_secret
//
// Errors come as RFC 6749 {"error","error_description"} or in the SCM API
// shape {"_errors":[{"code","message","details"}],"_request_id"}. Whether the
// old secret keeps working after a reset is not documented: callers assume it
// stops at once.

// DefaultIAMURL is the IAM API base URL used when a config sets none.
const DefaultIAMURL = "https://api.sase.paloaltonetworks.com"

// Names of the IAM operations, as errors name them.
const (
	OpListServiceAccounts = "service account list"
	OpResetSecret         = "service account secret reset"
)

const serviceAccountsPath = "/iam/v1/service_accounts"

// Bounds of rotation_period (besides 0, off).
const (
	MinRotationPeriod = time.Hour
	MaxRotationPeriod = 10 * 365 * 24 * time.Hour
)

// The config fields of secret rotation (paloalto_scm).
var (
	IAMURL = Field{
		Name: "iam_url", Label: "IAM URL",
		Description: "The Strata Cloud Manager IAM API base URL that rotate-root uses. Must be https://; http:// is accepted for loopback hosts only.",
		Check:       func(v string) error { return checkURL("iam_url", v) },
	}
	ServiceAccountID = Field{
		Name: "service_account_id", Label: "Service account ID",
		Description: "The IAM id (a UUID) of the service account whose secret rotate-root resets. When empty, the engine " +
			"lists the service accounts, uses the one whose client_id is the config's, and says which.",
		Check: checkServiceAccountID,
	}
	RotationPeriod = Field{
		Name: "rotation_period", Label: "Rotation period", Duration: true,
		Description: fmt.Sprintf("Rotate the client secret this long after it was last set, by a write or a rotation "+
			"(at least %s; 0 turns scheduled rotation off).", MinRotationPeriod),
		Check: checkRotationPeriod,
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

// checkRotationPeriod checks a non-zero period, given as a Go duration.
func checkRotationPeriod(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d < MinRotationPeriod || d > MaxRotationPeriod {
		return fmt.Errorf("rotation_period: %s is out of range; use 0 (off) or %s to %s", truncate(v, 40), MinRotationPeriod, MaxRotationPeriod)
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
	// BaseURL is the IAM API base URL; DefaultIAMURL when empty.
	BaseURL string
	// Token is the bearer token: secret, never logged or quoted.
	Token string
	// ClientID and ClientSecret are the credentials the token was minted
	// with; an echo of the secret (alone or in a Basic header) in a vendor
	// message is redacted too.
	ClientID, ClientSecret string
}

func (r IAMRequest) redactor() redactor {
	return newRedactor(r.ClientSecret, r.Token)
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
	resp, err := c.iamCall(ctx, OpListServiceAccounts, http.MethodGet, serviceAccountsPath, r, true)
	if err != nil {
		return nil, err
	}
	var list []ServiceAccount
	if json.Unmarshal(resp.Body, &list) != nil {
		return nil, &Error{
			Provider: PaloAltoSCM, Op: OpListServiceAccounts, Kind: KindResponse, StatusCode: resp.StatusCode,
			Message: "the response is not a JSON list of service accounts: " + successBodySummary(resp.Body, r.redactor()),
		}
	}
	return list, nil
}

// ResetSecret resets the secret of service account id and returns the
// account and its new secret. It is never retried: the caller decides,
// since a reset whose answer is lost may still have happened (see
// ResetMayHaveHappened). The new secret is never part of an error.
func (c *Client) ResetSecret(ctx context.Context, r IAMRequest, id string) (ServiceAccount, string, error) {
	resp, err := c.iamCall(ctx, OpResetSecret, http.MethodPost, serviceAccountsPath+"/"+url.PathEscape(id)+"/operations/reset", r, false)
	if err != nil {
		return ServiceAccount{}, "", err
	}
	var out struct {
		ServiceAccount
		ClientSecret string `json:"client_secret"`
	}
	if json.Unmarshal(resp.Body, &out) != nil || strings.TrimSpace(out.ClientSecret) == "" {
		// A success body that is not what the vendor documents: the secret
		// may have been reset, and the body may hold it, so it is
		// described by its field names only.
		what := "the response carries no client_secret"
		if sum := successBodySummary(resp.Body, r.redactor()); sum != "" {
			what += ": " + sum
		}
		return ServiceAccount{}, "", &Error{
			Provider: PaloAltoSCM, Op: OpResetSecret, Kind: KindResponse, StatusCode: resp.StatusCode, Message: what,
		}
	}
	return out.ServiceAccount, out.ClientSecret, nil
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

// iamCall makes an IAM request, with retries when retry is set (see
// Fetch), and returns the response when its status is the operation's
// success (200 for a list, 201 for a reset), or an *Error.
func (c *Client) iamCall(ctx context.Context, op, method, path string, r IAMRequest, retry bool) (*Response, error) {
	base := r.BaseURL
	if base == "" {
		base = DefaultIAMURL
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(base, "/")+path, http.NoBody)
	if err != nil {
		return nil, &Error{Provider: PaloAltoSCM, Op: op, Kind: KindConfig, Message: "the request cannot be built from iam_url"}
	}
	req.Header.Set("Authorization", "Bearer "+r.Token)
	req.Header.Set("Accept", contentTypeJSON)
	req.Header.Set("User-Agent", c.userAgent)
	want := http.StatusOK
	if method == http.MethodPost {
		want = http.StatusCreated
	}
	rd := r.redactor()
	for n := 1; ; n++ {
		a := c.send(ctx, req)
		pe := iamOutcome(ctx, a, want, rd)
		if pe == nil {
			c.logIAM(op, n, a, nil)
			return a.resp, nil
		}
		pe.Provider, pe.Op, pe.Attempts = PaloAltoSCM, op, n
		c.logIAM(op, n, a, pe)
		wait, again := c.nextWait(ctx, a, n)
		if !retry || !again {
			return nil, pe
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, pe
		case <-timer.C:
		}
	}
}

// iamOutcome turns an attempt into an *Error, or nil when its status is
// want.
func iamOutcome(ctx context.Context, a attempt, want int, rd redactor) *Error {
	switch {
	case a.tooLarge != 0:
		return &Error{Kind: KindResponse, StatusCode: a.tooLarge, Message: "the response body is over the size limit"}
	case a.resp == nil:
		// No complete answer: for a reset, whether it happened is unknown.
		return (&fetch{redact: rd}).networkError(a.err, ctx.Err())
	case a.resp.StatusCode == want:
		return nil
	case isSuccess(a.resp.StatusCode):
		return &Error{
			Kind: KindResponse, StatusCode: a.resp.StatusCode,
			Message: fmt.Sprintf("the vendor answered %d, not the documented %d", a.resp.StatusCode, want),
		}
	}
	code, msg := iamErrorDetail(a.resp.Body, rd)
	return &Error{Kind: classify(a.resp.StatusCode, code), StatusCode: a.resp.StatusCode, Code: code, Message: msg}
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
		return sanitize(scm.Errors[0].Code, r, maxCode), sanitize(scm.Errors[0].Message, r, maxExcerpt)
	}
	return detailOrExcerpt(body, r)
}

// logIAM logs one IAM attempt at debug level, never a secret.
func (c *Client) logIAM(op string, n int, a attempt, err *Error) {
	if !c.log.IsDebug() {
		return
	}
	args := []any{"provider", PaloAltoSCM, "operation", op, "attempt", n, "status", a.status(), "duration", a.duration}
	if err != nil {
		args = append(args, "error", err.Error())
	}
	c.log.Debug("vendor IAM request", args...)
}
