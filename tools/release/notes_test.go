package main

import (
	"strings"
	"testing"
)

const changelog = `# Changelog

## [Unreleased]

### Added

- Something new.

## [1.2.0] - 2026-11-30

### Fixed

- A bug.

### Added

- A feature.

## [v1.1.0] - 2026-10-01

- Older.
`

func TestReleaseNotes(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		changelog, version, want, err string
	}{
		"a section in the middle": {
			changelog: changelog, version: "v1.2.0",
			want: "### Fixed\n\n- A bug.\n\n### Added\n\n- A feature.\n",
		},
		"the last section, heading with a v": {changelog: changelog, version: "v1.1.0", want: "- Older.\n"},
		"a version without a section":        {changelog: changelog, version: "v1.3.0", err: "no section for v1.3.0"},
		"a prefix of a version is not it":    {changelog: changelog, version: "v1.2.0-rc.1", err: "no section for v1.2.0-rc.1"},
		"not vX.Y.Z":                         {changelog: changelog, version: "1.2.0", err: "not of the form vX.Y.Z"},
		"Unreleased is not a version":        {changelog: changelog, version: "Unreleased", err: "not of the form vX.Y.Z"},
		"an empty section": {
			changelog: "## [2.0.0] - 2026-12-01\n\n## [1.0.0]\n\n- x\n", version: "v2.0.0",
			err: "the section for v2.0.0 is empty",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := releaseNotes(tc.changelog, tc.version)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("releaseNotes(%q) = %q, %v; want an error containing %q", tc.version, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("releaseNotes(%q) = %q, %v; want %q", tc.version, got, err, tc.want)
			}
		})
	}
}
