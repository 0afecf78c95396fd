package provider

import (
	"encoding/json"
	"html"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// maxExcerpt is the longest vendor text (message or body excerpt) an
	// error carries, in characters.
	maxExcerpt = 200
	// maxCode is the longest vendor error code an error carries.
	maxCode = 64
	// redactedMark replaces every occurrence of a secret.
	redactedMark = "[redacted]"
	// maxRedactRounds bounds the redaction loop (see redactor.redact).
	maxRedactRounds = 4
)

// redactor removes a config's secrets from text that came back from a
// vendor. It knows every form in which a secret could be echoed: as sent
// (raw, form-encoded, JSON-escaped, inside the Basic header) and as an
// HTML page might show it.
type redactor struct {
	forms  []string // longest first
	marker string   // what replaces a secret
}

func newRedactor(secrets ...string) redactor {
	seen := map[string]bool{}
	var forms []string
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			forms = append(forms, s)
		}
	}
	for _, s := range secrets {
		add(s)
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
		add(html.EscapeString(s))
		if b, err := json.Marshal(s); err == nil {
			j := string(b[1 : len(b)-1])
			add(j)
			add(strings.ReplaceAll(j, "/", `\/`))
		}
	}
	sort.SliceStable(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	r := redactor{forms: forms}
	// A (silly) secret such as "dact" is part of "[redacted]" itself; then
	// a marker that holds no secret is used instead.
	for _, m := range []string{redactedMark, "***", ""} {
		if r.marker = m; !r.contains(m) {
			break
		}
	}
	return r
}

// redact replaces every known form of a secret in s. A replacement can, in
// contrived cases, combine with its neighbours into a new occurrence (a
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

// contains reports whether s holds any form of a secret.
func (r redactor) contains(s string) bool {
	for _, f := range r.forms {
		if strings.Contains(s, f) {
			return true
		}
	}
	return false
}

var (
	// blockRe matches HTML elements whose content is not text to show, and
	// comments.
	blockRe = regexp.MustCompile(`(?is)<script\b.*?</script\s*>|<style\b.*?</style\s*>|<!--.*?-->`)
	// tagRe matches an HTML tag.
	tagRe = regexp.MustCompile(`<[^<>]*>`)
)

// sanitize turns vendor text (an error message or a whole body) into a
// short single line that is safe to show: valid UTF-8, HTML tags and
// entities removed, control and format characters removed, whitespace
// folded, every secret replaced by "[redacted]", and at most limit
// characters long. Tags and control characters become spaces, so removing
// them cannot join two fragments into a secret; redaction still runs before
// and after each step.
func sanitize(s string, r redactor, limit int) string {
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
	s = r.redact(s)
	return truncate(s, limit)
}

// truncate shortens s to at most limit characters, marking a cut with
// "...".
func truncate(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	if limit <= 3 {
		return string([]rune(s)[:limit])
	}
	return strings.TrimSpace(string([]rune(s)[:limit-3])) + "..."
}
