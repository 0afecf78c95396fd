package provider

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// messageKeys are the keys under which vendors put a human-readable error
// message, in order of preference within one JSON object: RFC 6749
// (error_description), Spring and Oracle (message), the usual variants of
// other frameworks, and last Oracle's JAX-RS "entity" when it is a plain
// string.
var messageKeys = []string{
	"error_description", "errordescription", "message", "errormessage", "error_message",
	"detail", "description", "msg", "reason", "title", "entity",
}

// oauthCodeRe matches an RFC 6749 style error code (invalid_client). A
// Spring body's "error" is an HTTP reason phrase ("Unauthorized") instead,
// which is treated as a message.
var oauthCodeRe = regexp.MustCompile(`^[a-z][a-z0-9_.-]*$`)

// Bounds of the search for a message inside a JSON body.
const (
	maxSearchDepth = 6
	maxSearchNodes = 1000
)

// vendorDetail extracts the vendor's error code and message from a response
// body. It understands RFC 6749 {error, error_description}, Spring
// {timestamp, status, error, message}, Oracle CASB {status, entity,
// metadata} (searching inside for a message) and {"runtime-response":
// {"message"}}. Both results are raw vendor text: sanitise before use.
// isJSON reports whether the body is JSON at all.
func vendorDetail(body []byte) (code, message string, isJSON bool) {
	v, ok := decodeJSON[any](body)
	if !ok {
		return "", "", false
	}
	obj, _ := v.(map[string]any)
	var reason string
	if e, ok := obj["error"].(string); ok {
		if oauthCodeRe.MatchString(e) {
			code = e
		} else {
			reason = e
		}
	}
	message = findMessage(v)
	if message == "" {
		message = reason
	}
	return code, message, true
}

// decodeJSON decodes body as exactly one JSON value (numbers inside an any
// stay json.Number), and when that fails, once more without trailing commas
// (see stripTrailingCommas).
func decodeJSON[T any](body []byte) (T, bool) {
	for _, b := range [][]byte{body, stripTrailingCommas(body)} {
		var v T
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			continue
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			continue // more than one value, or text after it: not a JSON document
		}
		return v, true
	}
	var zero T
	return zero, false
}

// findMessage searches a decoded JSON value breadth first for a non-empty
// string under one of messageKeys, so the outermost message wins and, within
// one object, the preferred key wins. The search is bounded in depth and
// size.
func findMessage(root any) string {
	type node struct {
		v     any
		depth int
	}
	queue := []node{{root, 0}}
	for visited := 0; len(queue) > 0 && visited < maxSearchNodes; visited++ {
		n := queue[0]
		queue = queue[1:]
		var children []any
		switch v := n.v.(type) {
		case map[string]any:
			lower := make(map[string]any, len(v))
			keys := make([]string, 0, len(v))
			for k, val := range v {
				lower[strings.ToLower(k)] = val
				keys = append(keys, k)
			}
			for _, k := range messageKeys {
				if s, ok := lower[k].(string); ok && strings.TrimSpace(s) != "" {
					return s
				}
			}
			sort.Strings(keys)
			for _, k := range keys {
				children = append(children, v[k])
			}
		case []any:
			children = v
		}
		if n.depth < maxSearchDepth {
			for _, c := range children {
				queue = append(queue, node{c, n.depth + 1})
			}
		}
	}
	return ""
}

// stripTrailingCommas removes commas that directly precede a closing brace or
// bracket outside strings. Bright Pattern's documented response ends with
// `"expires_in":"3599",}`; this is used only after a strict parse fails.
func stripTrailingCommas(b []byte) []byte {
	out := make([]byte, 0, len(b))
	inString, escaped := false, false
	pendingComma := -1 // index in out of a comma that may be trailing
	for _, c := range b {
		if inString {
			out = append(out, c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			out = append(out, c)
			continue
		case '}', ']':
			if pendingComma >= 0 {
				out = append(out[:pendingComma], out[pendingComma+1:]...)
			}
		case '"':
			inString = true
		}
		pendingComma = -1
		if c == ',' {
			pendingComma = len(out)
		}
		out = append(out, c)
	}
	return out
}

// classify maps a vendor status and OAuth2 error code to a Kind.
func classify(status int, code string) Kind {
	switch {
	case code == "invalid_client" || code == "unauthorized_client":
		return KindCredentials
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return KindCredentials
	case retryableStatus(status):
		return KindTransient
	case status >= 200 && status <= 499:
		return KindRequest
	default:
		return KindResponse
	}
}

// isSuccess reports whether a status is 2xx.
func isSuccess(status int) bool { return status >= 200 && status <= 299 }

// statusError turns a non-2xx vendor response into an *Error carrying the
// vendor's code and message (or a sanitised excerpt of the body).
func statusError(provider string, p Params, resp *Response) *Error {
	r := p.redactor()
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		if msg := redirectMessage(p, resp, r); msg != "" {
			return &Error{Provider: provider, Kind: KindRequest, StatusCode: resp.StatusCode, Message: msg}
		}
	}
	code, msg := detailOrExcerpt(resp.Body, r)
	return &Error{
		Provider:   provider,
		Kind:       classify(resp.StatusCode, code),
		StatusCode: resp.StatusCode,
		Code:       code,
		Message:    msg,
	}
}

// missingTokenError is the failure for a 2xx response without a token:
// KindRequest (or KindCredentials for an invalid_client code) carrying
// whatever message the vendor put in the body.
func missingTokenError(provider string, p Params, resp *Response, field string) *Error {
	r := p.redactor()
	rawCode, rawMsg, _ := vendorDetail(resp.Body)
	code, msg := sanitize(rawCode, r, maxCode), sanitize(rawMsg, r, maxMessage)
	if code == "" && msg == "" {
		msg = successBodySummary(resp.Body, r)
	}
	text := "the response carries no " + field
	if msg != "" {
		text += ": " + msg
	}
	kind := KindRequest
	if classify(resp.StatusCode, code) == KindCredentials {
		kind = KindCredentials
	}
	return &Error{Provider: provider, Kind: kind, StatusCode: resp.StatusCode, Code: code, Message: text}
}

// responseError is a KindResponse failure: a response that cannot be used.
// detail is our own description and must not contain vendor text; excerpt,
// when true, appends a sanitised excerpt of the body.
func responseError(provider string, p Params, resp *Response, detail string, excerpt bool) *Error {
	msg := detail
	if excerpt {
		if ex := successBodySummary(resp.Body, p.redactor()); ex != "" {
			msg += ": " + ex
		} else {
			msg += " (empty body)"
		}
	}
	return &Error{Provider: provider, Kind: KindResponse, StatusCode: resp.StatusCode, Message: msg}
}

// successBodySummary describes a 2xx body that could not be used. A success
// body may carry a token, in the field we expected or in another (a
// truncated body, an id_token, a form-encoded answer), in a form no
// redaction knows, so a success body is never quoted: a JSON object is
// summarised by its field names, anything else by its size and kind (an
// HTML page from a proxy or a captive portal, or other text).
func successBodySummary(body []byte, r redactor) string {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return ""
	}
	if trimmed[0] == '<' {
		return fmt.Sprintf("an HTML or XML page of %d bytes (not quoted: a success body may carry a token; a proxy or a captive portal may have answered)", len(body))
	}
	if trimmed[0] != '{' && trimmed[0] != '[' && trimmed[0] != '"' {
		return fmt.Sprintf("%d bytes of text that is not JSON (not quoted: a success body may carry a token)", len(body))
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &obj); err == nil {
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return sanitize("a JSON object with fields "+strings.Join(keys, ", "), r, maxExcerpt)
	}
	if json.Valid(trimmed) {
		return fmt.Sprintf("a JSON value of %d bytes that is not an object (not quoted: a success body may carry a token)", len(body))
	}
	return fmt.Sprintf("%d bytes that are not valid JSON (not quoted: a success body may carry a token)", len(body))
}

// detailOrExcerpt returns the sanitised vendor code and message of a body,
// or, when it names none, a sanitised excerpt of the body itself.
func detailOrExcerpt(body []byte, r redactor) (code, msg string) {
	rawCode, rawMsg, _ := vendorDetail(body)
	code = sanitize(rawCode, r, maxCode)
	msg = sanitize(rawMsg, r, maxMessage)
	if code == "" && msg == "" {
		msg = sanitize(string(body), r, maxExcerpt)
	}
	return code, msg
}

// redirectMessage explains a refused redirect, naming where the vendor
// pointed (scheme, host and path; never a query or user info). It returns
// "" when the response has no usable Location.
func redirectMessage(p Params, resp *Response, r redactor) string {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return ""
	}
	target, err := url.Parse(loc)
	if err != nil {
		return ""
	}
	if b, err := url.Parse(p.TokenURL); err == nil {
		target = b.ResolveReference(target)
	}
	target.User, target.RawQuery, target.Fragment = nil, "", ""
	where := sanitize(target.String(), r, 120)
	if where == "" {
		return ""
	}
	return fmt.Sprintf("the vendor redirected to %s; redirects are not followed: set token_url to the final address", where)
}
