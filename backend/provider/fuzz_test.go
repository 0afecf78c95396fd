package provider

import (
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/: the vendors' documented
// responses, every error shape, lifetimes of every kind, and bodies that
// echo the secrets. Run one target with, for example:
//
//	go test -run='^$' -fuzz='^FuzzParseOracleCASB$' -fuzztime=10s ./backend/provider

func FuzzParseSaaSSecurity(f *testing.F) { fuzzParse(f, PaloAltoSaaSSecurity) }
func FuzzParseSCM(f *testing.F)          { fuzzParse(f, PaloAltoSCM) }
func FuzzParseOracleCASB(f *testing.F)   { fuzzParse(f, OracleCASB) }
func FuzzParseBrightPattern(f *testing.F) {
	fuzzParse(f, BrightPattern)
}
func FuzzParseOAuth2(f *testing.F) { fuzzParse(f, OAuth2) }

// fuzzParse checks one provider's ParseResponse over any status, body and
// Date header: it never panics; a success has a non-blank token, was a 2xx,
// and expires after it was issued and within MaxLifetime; a failure is an
// *Error of this provider with no token; no token field or error holds a
// secret under any decoding; and no token field holds a control character
// (nor the access token white space).
func fuzzParse(f *testing.F, provider string) {
	proto := protocolOf(provider)
	p := testParams(provider, "")
	p.Values[AccessSecret.Name] = testAccessSecret // both secrets, whatever the provider
	f.Fuzz(func(t *testing.T, status int, body []byte, date string) {
		resp := &Response{StatusCode: status, Body: body}
		if date != "" {
			resp.Header = map[string][]string{"Date": {date}}
		}
		tok, err := proto.ParseResponse(p, resp, testNow)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if pe.Provider != provider || pe.StatusCode != status {
				t.Fatalf("error names %q, %d; want %q, %d", pe.Provider, pe.StatusCode, provider, status)
			}
			if !reflect.DeepEqual(tok, Token{}) {
				t.Fatalf("a failure returned a token: %+v", tok)
			}
			msg := err.Error()
			if !utf8.ValidString(msg) || utf8.RuneCountInString(pe.Message) > 2*maxExcerpt+60 {
				t.Fatalf("bad message %q", msg)
			}
			assertNoSecret(t, "error", msg, p)
			if p.redactor().echoes(msg) {
				t.Fatalf("a decoding of the error holds a secret: %s", msg)
			}
			return
		}
		if !isSuccess(status) {
			t.Fatalf("status %d gave a token", status)
		}
		if strings.TrimSpace(tok.AccessToken) == "" {
			t.Fatal("success without a token")
		}
		if !tok.IssuedAt.Equal(testNow) || !tok.ExpiresAt.After(tok.IssuedAt) || tok.Lifetime() > MaxLifetime {
			t.Fatalf("issued %v, expires %v", tok.IssuedAt, tok.ExpiresAt)
		}
		fields := []string{tok.AccessToken, tok.TokenType, tok.Scope}
		for k, v := range tok.Extra {
			fields = append(fields, k, v)
		}
		for _, field := range fields {
			assertNoSecret(t, "token field", field, p)
			if strings.ContainsFunc(field, lineBreaking) || p.redactor().echoes(field) {
				t.Fatalf("token field %q holds a control character or a secret", field)
			}
		}
		if strings.ContainsFunc(tok.AccessToken, unicode.IsSpace) {
			t.Fatalf("access token %q holds white space", tok.AccessToken)
		}
	})
}

// FuzzParseExpiresIn checks that any expires_in value either fails, is
// absent, or is a positive whole number of seconds, and that relativeExpiry
// then always gives an expiry after now and within MaxLifetime.
func FuzzParseExpiresIn(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, present, err := ParseExpiresIn(json.RawMessage(raw))
		switch {
		case err != nil:
			if !present || d != 0 {
				t.Fatalf("error %v with present=%v d=%v", err, present, d)
			}
		case !present:
			if d != 0 {
				t.Fatalf("absent with d=%v", d)
			}
		default:
			if d < time.Second || d%time.Second != 0 {
				t.Fatalf("lifetime %v is not a positive whole number of seconds", d)
			}
		}
		exp, err := relativeExpiry(json.RawMessage(raw), testNow, time.Minute)
		if err == nil && (!exp.at.After(testNow) || exp.at.Sub(testNow) > MaxLifetime) {
			t.Fatalf("expiry %v out of range", exp.at)
		}
		if err == nil && exp.defaulted == present {
			t.Fatalf("defaulted=%v but present=%v", exp.defaulted, present)
		}
	})
}

// FuzzParseExpiresAt checks absoluteExpiry over any expiresAt value and Date
// header: an expiry is always after now and within MaxLifetime.
func FuzzParseExpiresAt(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte, date string) {
		at, present, err := ParseExpiresAt(json.RawMessage(raw))
		if err != nil && (!present || !at.IsZero()) {
			t.Fatalf("error %v with present=%v at=%v", err, present, at)
		}
		exp, err := absoluteExpiry(json.RawMessage(raw), date, testNow, time.Minute)
		if err != nil {
			return
		}
		if !exp.at.After(testNow) || exp.at.Sub(testNow) > MaxLifetime {
			t.Fatalf("expiry %v out of range (raw %q, date %q)", exp.at, raw, date)
		}
	})
}

// FuzzSanitize checks that any vendor text becomes a short, valid, single
// line without control characters, in which no decoding holds a secret.
func FuzzSanitize(f *testing.F) {
	p := testParams(OAuth2, "")
	p.Values[AccessSecret.Name] = testAccessSecret
	r := p.redactor()
	f.Fuzz(func(t *testing.T, s string) {
		out := sanitize(s, r, maxExcerpt)
		if !utf8.ValidString(out) || utf8.RuneCountInString(out) > maxExcerpt {
			t.Fatalf("sanitize gave %q", out)
		}
		if strings.TrimSpace(out) != out || strings.Contains(out, "  ") {
			t.Fatalf("whitespace not folded: %q", out)
		}
		for _, c := range out {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("control character in %q", out)
			}
		}
		assertNoSecret(t, "sanitized text", out, p)
		if r.echoes(out) {
			t.Fatalf("a decoding of %q holds a secret", out)
		}
	})
}

// FuzzSanitizeEcho puts a secret, in one of the encodings of echoEncodings,
// between any two texts, and checks that sanitize never shows it: not the
// secret, not half of its encoded form, and no decoding of the output holds
// it.
func FuzzSanitizeEcho(f *testing.F) {
	names := slices.Sorted(maps.Keys(echoEncodings))
	secrets := slices.Sorted(maps.Values(echoSecrets))
	for i := range names {
		f.Add("bad secret ", "; try again", uint8(i), uint8(i))
	}
	f.Add(strings.Repeat("z ", maxExcerpt/2-3), " tail", uint8(0), uint8(0))
	f.Add(`{"error_description":"\`, "", uint8(1), uint8(2))
	f.Fuzz(func(t *testing.T, before, after string, enc, secret uint8) {
		s := secrets[int(secret)%len(secrets)]
		form := echoEncodings[names[int(enc)%len(names)]](s)
		out := sanitize(before+form+after, newRedactor(s), maxExcerpt)
		assertNoEcho(t, out, s, form)
	})
}
