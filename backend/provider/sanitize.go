package provider

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

const (
	// maxExcerpt is the longest excerpt of a vendor body (or network
	// error) an error carries, in characters.
	maxExcerpt = 200
	// maxMessage is the longest vendor message (error_description,
	// message) an error carries: some servers put the cause at the end of
	// a long generic sentence.
	maxMessage = 500
	// maxCode is the longest vendor error code an error carries.
	maxCode = 64
	// redactedMark replaces every occurrence of a secret.
	redactedMark = "[redacted]"
	// echoMark replaces a whole text that holds a secret in an encoding
	// redact does not replace in place.
	echoMark = "[redacted: the vendor's text echoes a credential]"
	// maxRedactRounds bounds the redaction loop (see redactor.redact).
	maxRedactRounds = 4
	// maxDecodeDepth is how many decodings echoes stacks: two finds the
	// Basic header of RFC 6749, base64 over the form-encoded secret.
	maxDecodeDepth = 2
	// formGrowth bounds how many characters one byte of a secret takes in
	// the forms the decoders undo (six for a \u escape, more for a named
	// entity or two stacked encodings): an excerpt's cut is checked this
	// far past the edge for a secret that straddles it.
	formGrowth = 12
	// minPartial is the shortest tail of a secret (the secret without its
	// first one or two bytes) that is searched for on its own.
	minPartial = 6
)

// redactor removes a config's secrets from text that came back from a
// vendor. It replaces in place the forms Go's own encoders give a secret
// (raw, form-, path-, JSON- and HTML-escaped), and recognises any other by
// decoding (see echoes).
type redactor struct {
	secrets []string // as given
	forms   []string // replaced in place, longest first
	needles []string // what no decoding of a shown text may hold
	overlap int      // characters past a cut that are checked (see sanitize)
	marker  string   // replaces a form
	hidden  string   // replaces a whole text that echoes a secret
}

// newRedactor returns a redactor for the given secret values; empty ones
// are ignored.
func newRedactor(secrets ...string) redactor {
	var r redactor
	for _, s := range secrets {
		if s == "" {
			continue
		}
		r.secrets = append(r.secrets, s)
		r.forms = appendNew(r.forms, literalForms(s)...)
		r.needles = appendNew(r.needles, needles(s)...)
		r.overlap = max(r.overlap, formGrowth*len(s)+8)
	}
	slices.SortStableFunc(r.forms, func(a, b string) int { return len(b) - len(a) })
	// A (silly) secret such as "dact" is part of "[redacted]" itself; then
	// a marker that holds no secret is used instead.
	r.marker = r.firstClean(redactedMark, "***", "")
	r.hidden = r.firstClean(echoMark, r.marker)
	return r
}

// with returns a redactor of r's secrets and more.
func (r redactor) with(more ...string) redactor {
	return newRedactor(append(slices.Clone(r.secrets), more...)...)
}

// literalForms are the forms of secret that redact replaces in place.
func literalForms(secret string) []string {
	forms := []string{secret, url.QueryEscape(secret), url.PathEscape(secret), html.EscapeString(secret)}
	if b, err := json.Marshal(secret); err == nil {
		j := string(b[1 : len(b)-1])
		forms = append(forms, j, strings.ReplaceAll(j, "/", `\/`))
	}
	return forms
}

// needles are what a decoding must not hold for secret: the secret, and
// the secret with '+' read as a space (an encoder that writes spaces as '+'
// but leaves '+' alone); each also without its first one or two bytes,
// which an escape just before an encoded secret can swallow ("%" followed
// by "ab%3D" decodes as byte 0xab and "="). A tail is searched only while
// it is at least minPartial bytes long.
func needles(secret string) []string {
	var out []string
	for _, s := range []string{secret, strings.ReplaceAll(secret, "+", " ")} {
		out = append(out, s)
		for i := 1; i <= 2 && len(s)-i >= minPartial && utf8.RuneStart(s[i]); i++ {
			out = append(out, s[i:])
		}
	}
	return out
}

// appendNew appends to list each s that is not empty and not in it yet.
func appendNew(list []string, ss ...string) []string {
	for _, s := range ss {
		if s != "" && !slices.Contains(list, s) {
			list = append(list, s)
		}
	}
	return list
}

// firstClean returns the first candidate that no decoding shows a secret
// in ("" always qualifies).
func (r redactor) firstClean(candidates ...string) string {
	for _, c := range candidates {
		if !r.echoes(c) {
			return c
		}
	}
	return ""
}

// redact replaces every literal form of a secret in s. A replacement can,
// in contrived cases, combine with its neighbours into a new occurrence (a
// secret made of the marker's own characters), so it repeats a few times
// and, if a secret still remains, gives up on the text altogether.
func (r redactor) redact(s string) string {
	for range maxRedactRounds {
		if !r.contains(s) {
			return s
		}
		for _, f := range r.forms {
			s = strings.ReplaceAll(s, f, r.marker)
		}
	}
	if r.contains(s) {
		return r.marker
	}
	return s
}

// contains reports whether s holds a literal form of a secret.
func (r redactor) contains(s string) bool {
	return slices.ContainsFunc(r.forms, func(f string) bool { return strings.Contains(s, f) })
}

// decoders each undo one encoding a vendor may have applied to a secret it
// echoes; echoes stacks them.
var decoders = []func(string) string{
	unescapePercent, unescapeForm, unescapeJSON, html.UnescapeString, decodeBase64Runs,
}

// echoes reports whether s, or any stack of up to maxDecodeDepth decodings
// of it, holds a secret: percent-encoded (either case of hex), form-encoded,
// JSON-escaped, HTML entities, or base64 in either alphabet. Its cost grows
// with len(s) (a base64 decoding is up to three times as long), so callers
// pass short texts.
func (r redactor) echoes(s string) bool {
	if len(r.needles) == 0 {
		return false
	}
	level := []string{s}
	for depth := 0; len(level) > 0; depth++ {
		var next []string
		for _, t := range level {
			if slices.ContainsFunc(r.needles, func(n string) bool { return strings.Contains(t, n) }) {
				return true
			}
			if depth == maxDecodeDepth {
				continue
			}
			for _, decode := range decoders {
				if u := decode(t); u != t {
					next = append(next, u)
				}
			}
		}
		level = next
	}
	return false
}

// unescapePercent decodes every %XX (either case of hex) and leaves
// anything else, '+' included, as it is.
func unescapePercent(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := hex.DecodeString(s[i+1 : i+3]); err == nil {
				b.WriteByte(v[0])
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unescapeForm decodes application/x-www-form-urlencoded text: '+' is a
// space, then as unescapePercent.
func unescapeForm(s string) string {
	return unescapePercent(strings.ReplaceAll(s, "+", " "))
}

// jsonEscapes maps the character after a backslash in a JSON string to what
// it stands for (\u is handled apart).
var jsonEscapes = map[byte]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// unescapeJSON decodes the escapes of a JSON string, \uXXXX (either case,
// surrogate pairs joined) included, wherever they are: the text may be a
// truncated body that does not parse. Anything else is left as it is.
func unescapeJSON(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			if c, ok := jsonEscapes[s[i+1]]; ok {
				b.WriteByte(c)
				i++
				continue
			}
			if c, n := jsonRune(s[i:]); n > 0 {
				b.WriteRune(c)
				i += n - 1
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// jsonRune decodes the \uXXXX escape that starts s, joined with a second
// one when the two are a surrogate pair, and returns the character and the
// bytes used (0 when s does not start with such an escape). A lone
// surrogate is U+FFFD.
func jsonRune(s string) (rune, int) {
	u := func(s string) (rune, bool) {
		if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(s[2:6], 16, 16)
		return rune(v), err == nil
	}
	c, ok := u(s)
	if !ok {
		return 0, 0
	}
	if utf16.IsSurrogate(c) {
		if c2, ok := u(s[6:]); ok {
			if pair := utf16.DecodeRune(c, c2); pair != utf8.RuneError {
				return pair, 12
			}
		}
		return utf8.RuneError, 6
	}
	return c, 6
}

// decodeBase64Runs decodes every run of base64 characters (either alphabet;
// padding, if any, ends a run) from each of its first four characters, so
// that an encoded secret is found whatever precedes it in the run. The
// decodings are joined by newlines.
func decodeBase64Runs(s string) string {
	out := make([]byte, 0, 3*len(s)) // four offsets, three bytes for four characters
	var run []byte
	for i := 0; i < len(s); {
		for i < len(s) && base64Values[s[i]] < 0 {
			i++
		}
		run = run[:0]
		for ; i < len(s) && base64Values[s[i]] >= 0; i++ {
			run = append(run, base64Std[base64Values[s[i]]])
		}
		for off := 0; off < 4 && len(run)-off >= 2; off++ {
			part := run[off:]
			if len(part)%4 == 1 {
				part = part[:len(part)-1] // a lone last character holds no whole byte
			}
			out, _ = base64.RawStdEncoding.AppendDecode(out, part)
			out = append(out, '\n')
		}
	}
	if len(out) == 0 {
		return s
	}
	return string(out)
}

// base64Std is the standard base64 alphabet.
const base64Std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// base64Values maps a base64 character of either alphabet to its value,
// any other byte to -1.
var base64Values = func() (t [256]int8) {
	for i := range t {
		t[i] = int8(strings.IndexByte(base64Std, byte(i)))
	}
	t['-'], t['_'] = 62, 63
	return t
}()

var (
	// blockRe matches HTML elements whose content is not text to show, and
	// comments.
	blockRe = regexp.MustCompile(`(?is)<script\b.*?</script\s*>|<style\b.*?</style\s*>|<!--.*?-->`)
	// tagRe matches an HTML tag.
	tagRe = regexp.MustCompile(`<[^<>]*>`)
)

// sanitize turns vendor text (an error message or a whole body) into a
// short single line that is safe to show (see clean), at most limit
// characters long. When the text shown, or the text just past the cut
// where a secret cut in two would end, holds a secret in any encoding
// echoes knows, nothing of it is shown: the result is a fixed mark. The
// decodings look at the excerpt only, never at a whole (up to 1 MiB) body.
func sanitize(s string, r redactor, limit int) string {
	s = clean(s, r)
	out := r.truncate(s, limit)
	if r.echoes(out) || (out != s && r.echoes(firstRunes(s, limit+r.overlap))) {
		if utf8.RuneCountInString(r.hidden) <= limit {
			return r.hidden
		}
		return truncate(r.marker, limit)
	}
	return out
}

// clean makes s a single line that is safe to show: valid UTF-8, HTML tags
// and entities removed, control and format characters removed, whitespace
// folded, and every literal form of a secret replaced by the marker. Tags
// and control characters become spaces, so removing them cannot join two
// fragments into a secret; redaction still runs before and after each
// step.
func clean(s string, r redactor) string {
	s = strings.ToValidUTF8(s, " ")
	s = r.redact(s)
	s = blockRe.ReplaceAllString(s, " ")
	s = tagRe.ReplaceAllString(s, " ")
	s = html.UnescapeString(s)
	s = tagRe.ReplaceAllString(s, " ") // tags that were entity-escaped
	s = strings.Map(func(c rune) rune {
		if unicode.IsControl(c) || unicode.Is(unicode.Cf, c) || c == utf8.RuneError {
			return ' '
		}
		return c
	}, s)
	s = r.redact(s)
	s = strings.Join(strings.Fields(s), " ")
	return r.redact(s)
}

// truncate shortens s to at most limit characters, marking a cut with
// "...".
func truncate(s string, limit int) string { return redactor{}.truncate(s, limit) }

// truncate is the package's truncate, except that the start of a secret
// form that ends the part shown is dropped, as an occurrence would be
// redacted: a cut must not leave a secret's first characters in view.
func (r redactor) truncate(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	if limit <= 3 {
		return firstRunes(s, limit)
	}
	head := firstRunes(s, limit-3)
	return strings.TrimSpace(head[:len(head)-r.formStartAtEnd(head)]) + "..."
}

// formStartAtEnd returns the length of the longest end of s that is the
// start of a literal form or needle, 0 if none.
func (r redactor) formStartAtEnd(s string) int {
	longest := 0
	for _, f := range slices.Concat(r.forms, r.needles) {
		for n := min(len(f)-1, len(s)); n > longest; n-- {
			if strings.HasSuffix(s, f[:n]) {
				longest = n
				break
			}
		}
	}
	return longest
}

// firstRunes returns the first n characters of s.
func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}
