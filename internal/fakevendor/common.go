package fakevendor

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Request checking and response shapes shared by the vendors.

const (
	formType = "application/x-www-form-urlencoded"
	jsonType = "application/json"
)

// postForm checks that an OAuth2 token request is a POST with a form body
// and parses that body. It rejects OAuth parameters in the URL query and
// repeated parameters other than the repeatable ones (RFC 6749 section 3.2
// and 3.1). When the request is not acceptable it returns the vendor's
// answer and true; its answers never quote the request.
func postForm(in *tokenRequest, provider string, repeatable ...string) (url.Values, response, bool) {
	if in.r.Method != http.MethodPost {
		return nil, methodNotAllowed(provider), true
	}
	invalid := func(msg string) (url.Values, response, bool) {
		return nil, oauthError(http.StatusBadRequest, "invalid_request", msg), true
	}
	if !hasMediaType(in.r, formType) {
		return invalid("content type must be " + formType)
	}
	if err := checkQuery(in.r); err != nil {
		return invalid(err.Error())
	}
	form, err := url.ParseQuery(string(in.body))
	if err != nil {
		return invalid(errBadBody.Error())
	}
	for k, v := range form {
		if len(v) > 1 && !slices.Contains(repeatable, k) {
			return invalid("a parameter is included more than once")
		}
	}
	return form, response{}, false
}

// checkQuery rejects token-request parameters sent in the URL, where they
// end up in access logs.
func checkQuery(r *http.Request) error {
	q := r.URL.Query()
	for _, name := range []string{"grant_type", "client_id", "client_secret", "client_assertion", "scope", "accessKey", "accessSecret"} {
		if q.Has(name) {
			return errors.New("token request parameters belong in the request body, not the URL")
		}
	}
	return nil
}

// hasMediaType reports whether the request's Content-Type is want, with any
// parameters (such as charset).
func hasMediaType(r *http.Request, want string) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == want
}

// checkClient returns the account of provider whose id and secret match.
// With decode it also tries them form-decoded, as RFC 6749 section 2.3.1
// asks clients to encode HTTP Basic credentials; a server that follows the
// RFC accepts both spellings. Callers check Account.Disabled.
func (s *Server) checkClient(provider, id, secret string, decode bool) (Account, bool) {
	if a, ok := s.account(provider, id); ok && a.ClientSecret != "" && (secretEqual(a.ClientSecret, secret) || s.graceAccepts(provider, id, secret)) {
		return a, true
	}
	if !decode {
		return Account{}, false
	}
	did, err1 := url.QueryUnescape(id)
	dsecret, err2 := url.QueryUnescape(secret)
	if err1 != nil || err2 != nil || (did == id && dsecret == secret) {
		return Account{}, false
	}
	if a, ok := s.account(provider, did); ok && a.ClientSecret != "" && (secretEqual(a.ClientSecret, dsecret) || s.graceAccepts(provider, did, dsecret)) {
		return a, true
	}
	return Account{}, false
}

// maxIDLength bounds the account id kept in records and stats.
const maxIDLength = 256

// presentedID returns the account id a token request presents, for records
// and stats: the Basic user, the client_id form field, the iss of a client
// assertion or Oracle's accessKey. It never looks at a secret field.
func presentedID(provider string, r *http.Request, body []byte) string {
	var id string
	switch provider {
	case ProviderOracleCASB:
		var v struct {
			AccessKey string `json:"accessKey"`
		}
		if json.Unmarshal(body, &v) == nil {
			id = v.AccessKey
		}
	default:
		if user, _, ok := r.BasicAuth(); ok {
			id = user
		} else if form, err := url.ParseQuery(string(body)); err == nil {
			id = form.Get("client_id")
			if id == "" && form.Has("client_assertion") {
				id = assertionIssuer(form.Get("client_assertion"))
			}
		}
	}
	if len(id) > maxIDLength {
		id = id[:maxIDLength]
	}
	return id
}

// presentedSecret returns the secret a token request presents, for
// Faults.EchoSecret only: the Basic password, the client_secret or
// client_assertion form field, or Oracle's accessSecret.
func presentedSecret(r *http.Request, body []byte) string {
	if _, pw, ok := r.BasicAuth(); ok {
		return pw
	}
	var v struct {
		AccessSecret string `json:"accessSecret"`
	}
	if json.Unmarshal(body, &v) == nil {
		return v.AccessSecret
	}
	form, _ := url.ParseQuery(string(body))
	return form.Get("client_secret") + form.Get("client_assertion")
}

// jsonResponse marshals v as the body of a response with status.
func jsonResponse(status int, v any) response {
	b, err := json.Marshal(v)
	if err != nil { // only maps of strings, numbers and slices are passed
		panic(fmt.Sprintf("fakevendor: marshal response: %v", err))
	}
	return response{status: status, header: http.Header{}, body: b}
}

// oauthError is an RFC 6749 section 5.2 error.
func oauthError(status int, code, description string) response {
	resp := jsonResponse(status, map[string]string{"error": code, "error_description": description})
	if status == http.StatusUnauthorized {
		resp.header.Set("WWW-Authenticate", `Basic realm="oauth2"`)
	}
	return resp
}

// oracleError is Oracle CASB's {status, entity, metadata} error body, as
// the vendor's schema describes it (entity: an object; metadata: an object of
// arrays of objects). The entity's code is the status text, such as
// BAD_REQUEST.
func oracleError(status int, message string) response {
	code := strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_"))
	return jsonResponse(status, map[string]any{
		"status":   status,
		"entity":   map[string]string{"code": code, "message": message},
		"metadata": map[string][]map[string]string{},
	})
}

// vendorError is an error in the provider's own shape. Oracle CASB ignores
// code: its code is the status text.
func vendorError(provider string, status int, code, description string) response {
	if provider == ProviderOracleCASB {
		return oracleError(status, description)
	}
	return oauthError(status, code, description)
}

// methodNotAllowed answers a request that is not a POST.
func methodNotAllowed(provider string) response {
	resp := vendorError(provider, http.StatusMethodNotAllowed, "invalid_request", "The token endpoint accepts POST only.")
	resp.header.Set("Allow", http.MethodPost)
	return resp
}

// faultResponse is the answer of an injected fault other than a reset.
func faultResponse(provider, fault string, in *tokenRequest) response {
	f := in.faults
	var resp response
	switch fault {
	case FaultRateLimit, FaultInFlight:
		resp = vendorError(provider, http.StatusTooManyRequests, "too_many_requests", "Too many requests.")
	case FaultHTML:
		resp = htmlPage(f.htmlStatus(), "")
	case FaultEchoSecret:
		resp = echoResponse(provider, in)
	default: // FaultError
		status := f.failStatus()
		resp = vendorError(provider, status, "temporarily_unavailable", http.StatusText(status)+".")
	}
	if f.RetryAfter > 0 && (resp.status == http.StatusTooManyRequests || resp.status == http.StatusServiceUnavailable) {
		resp.header.Set("Retry-After", retryAfter(f, in.now))
	}
	return resp
}

// htmlPage is a proxy's HTML error page with status, and extra (HTML) in
// its body.
func htmlPage(status int, extra string) response {
	text := html.EscapeString(strconv.Itoa(status) + " " + http.StatusText(status))
	return response{
		status: status,
		header: http.Header{"Content-Type": {"text/html"}},
		body: []byte("<html>\r\n<head><title>" + text + "</title></head>\r\n<body>\r\n<center><h1>" +
			text + "</h1></center>\r\n" + extra + "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"),
	}
}

// retryAfter is the Retry-After value the faults ask for: whole seconds
// (rounded up) or an HTTP date.
func retryAfter(f Faults, now time.Time) string {
	if f.RetryAfterHTTPDate {
		return httpDate(now.Add(f.RetryAfter))
	}
	secs := int64((f.RetryAfter + time.Second - 1) / time.Second)
	return strconv.FormatInt(secs, 10)
}

// expiresIn returns the expires_in value of a lifetime in the form the
// faults ask for, and false when it is to be omitted. vendorString is the
// vendor's own form (Bright Pattern sends a string).
func expiresIn(f Faults, secs int64, vendorString bool) (any, bool) {
	switch f.ExpiresIn {
	case ExpiresInOmit:
		return nil, false
	case ExpiresInNumber:
		return secs, true
	case ExpiresInString:
		return strconv.FormatInt(secs, 10), true
	}
	if vendorString {
		return strconv.FormatInt(secs, 10), true
	}
	return secs, true
}

// mintOAuth mints a token for a provider that sends expires_in and fills
// the standard fields: the token (unless Faults.OmitToken), token_type and
// expires_in. The caller adds the vendor's other fields to the map.
func (s *Server) mintOAuth(in *tokenRequest, provider, tokenType string, vendorString bool, info TokenInfo) (map[string]any, response) {
	secs := int64(s.Lifetime(provider) / time.Second)
	token := newTokenValue(provider)
	info.Provider = provider
	info.IssuedAt = in.now
	info.ExpiresAt = in.now.Add(time.Duration(secs) * time.Second)
	fields := map[string]any{"token_type": tokenType}
	if !in.faults.OmitToken {
		fields["access_token"] = token
	}
	if v, ok := expiresIn(in.faults, secs, vendorString); ok {
		fields["expires_in"] = v
	}
	return fields, response{token: token, info: info}
}

// withBody completes a success response whose fields are final.
func (resp response) withBody(status int, fields map[string]any) response {
	out := jsonResponse(status, fields)
	out.token, out.info = resp.token, resp.info
	return out
}
