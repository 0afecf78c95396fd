package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

var versionRE = regexp.MustCompile(`^v(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$`)

// releaseNotes returns the body of the "## [X.Y.Z]" (or "## [vX.Y.Z]")
// section of a Keep a Changelog file, without its heading, and fails when the
// version has no section or the section is empty: a release must say what it
// changes.
func releaseNotes(changelog, version string) (string, error) {
	m := versionRE.FindStringSubmatch(version)
	if m == nil {
		return "", fmt.Errorf("version %q is not of the form vX.Y.Z", version)
	}
	heading := regexp.MustCompile(`^## \[v?` + regexp.QuoteMeta(m[1]) + `\](?:\s|$)`)
	var body []string
	found := false
	for line := range strings.SplitSeq(changelog, "\n") {
		if strings.HasPrefix(line, "## ") {
			if found {
				break
			}
			found = heading.MatchString(line)
			continue
		}
		if found {
			body = append(body, line)
		}
	}
	if !found {
		return "", fmt.Errorf("no section for %s (a heading \"## [%s] - YYYY-MM-DD\"); move the Unreleased entries under it first", version, m[1])
	}
	notes := strings.TrimSpace(strings.Join(body, "\n"))
	if notes == "" {
		return "", errors.New("the section for " + version + " is empty")
	}
	return notes + "\n", nil
}
