package testkit

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// SecretForms returns every form in which secret could leak: as it is; form-,
// path-, JSON- and HTML-escaped; every byte percent-encoded in lower-case
// hex and every character as a JSON \u escape; in base64 in both alphabets,
// padded or not; and, when clientID is not empty, in the HTTP Basic header
// built with it (plain and form-escaped, as RFC 6749 section 2.3.1 asks).
// Each form is listed once; an empty secret has none.
func SecretForms(clientID, secret string) []string {
	if secret == "" {
		return nil
	}
	j, _ := json.Marshal(secret)
	var hexForm, unicode strings.Builder
	for _, b := range []byte(secret) {
		fmt.Fprintf(&hexForm, "%%%02x", b)
	}
	for _, r := range secret {
		fmt.Fprintf(&unicode, "\\u%04x", r)
	}
	forms := []string{
		secret, url.QueryEscape(secret), url.PathEscape(secret), string(j[1 : len(j)-1]), html.EscapeString(secret),
		hexForm.String(), unicode.String(),
		base64.StdEncoding.EncodeToString([]byte(secret)), base64.URLEncoding.EncodeToString([]byte(secret)),
		base64.RawURLEncoding.EncodeToString([]byte(secret)),
	}
	if clientID != "" {
		enc := base64.StdEncoding.EncodeToString
		forms = append(forms,
			enc([]byte(clientID+":"+secret)),
			enc([]byte(url.QueryEscape(clientID)+":"+url.QueryEscape(secret))))
	}
	slices.Sort(forms)
	return slices.Compact(forms)
}

// AssertNoSecret fails the test when text holds any of forms (a secret, or
// one of its SecretForms), naming what and where but never the secret itself.
// Empty forms are skipped.
func AssertNoSecret(t testing.TB, what, text string, forms ...string) {
	t.Helper()
	for i, f := range forms {
		if at := strings.Index(text, f); f != "" && at >= 0 {
			t.Errorf("%s holds a secret (form %d of %d, %d characters at offset %d)", what, i+1, len(forms), len(f), at)
		}
	}
}
