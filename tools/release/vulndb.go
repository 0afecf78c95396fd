package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// The layout govulncheck reads from -db file://DIR (the v1 schema of
// https://go.dev/security/vuln/database#api): index/db.json,
// index/modules.json, index/vulns.json and ID/<id>.json.

// osvEntry is the part of an OSV entry the indexes need.
type osvEntry struct {
	ID        string    `json:"id"`
	Modified  time.Time `json:"modified"`
	Published time.Time `json:"published"`
	Aliases   []string  `json:"aliases,omitempty"`
	Affected  []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
		Ranges []osvRange `json:"ranges"`
	} `json:"affected"`
}

type osvRange struct {
	Type   string `json:"type"`
	Events []struct {
		Introduced string `json:"introduced,omitempty"`
		Fixed      string `json:"fixed,omitempty"`
	} `json:"events"`
}

type dbMeta struct {
	Modified time.Time `json:"modified"`
}

type moduleMeta struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Fixed    string    `json:"fixed,omitempty"`
}

type vulnMeta struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
}

// convertVulnDB reads every src/*.json OSV entry (data/osv of the
// golang.org/x/vulndb module) and writes the database to dst, which it
// replaces. Entries are copied byte for byte; the indexes are derived.
// vulndb leaves "modified" (and in newer entries "published") at the zero
// time in its source files, since the published database fills them in from
// the repository's history; the indexes then use the publication time, or
// else the time of the vulndb snapshot, taken from its pseudo-version.
func convertVulnDB(src, dst, version string) (int, error) {
	snapshot, err := module.PseudoVersionTime(version)
	if err != nil {
		return 0, fmt.Errorf("the vulndb version %q: %w", version, err)
	}
	files, err := filepath.Glob(filepath.Join(src, "*.json"))
	if err != nil {
		return 0, err
	}
	if len(files) == 0 {
		return 0, fmt.Errorf("no OSV entries in %s", src)
	}
	tmp := dst + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return 0, err
	}
	for _, d := range []string{"index", "ID"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o750); err != nil {
			return 0, err
		}
	}
	var db dbMeta
	modules := map[string]*moduleMeta{}
	var vulns []vulnMeta
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return 0, err
		}
		var e osvEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return 0, fmt.Errorf("%s: %w", f, err)
		}
		if e.ID == "" || e.ID+".json" != filepath.Base(f) {
			return 0, fmt.Errorf("%s: entry id %q does not match the file name", f, e.ID)
		}
		modified := e.Modified
		if modified.IsZero() {
			modified = e.Published
		}
		if modified.IsZero() {
			modified = snapshot
		}
		if modified.After(db.Modified) {
			db.Modified = modified
		}
		vulns = append(vulns, vulnMeta{ID: e.ID, Modified: modified, Aliases: e.Aliases})
		for _, a := range e.Affected {
			m := modules[a.Package.Name]
			if m == nil {
				m = &moduleMeta{Path: a.Package.Name}
				modules[a.Package.Name] = m
			}
			m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: modified, Fixed: latestFix(a.Ranges)})
		}
		if err := os.WriteFile(filepath.Join(tmp, "ID", e.ID+".json"), raw, 0o600); err != nil {
			return 0, err
		}
	}
	mods := make([]*moduleMeta, 0, len(modules))
	for _, m := range modules {
		slices.SortStableFunc(m.Vulns, func(a, b moduleVuln) int { return strings.Compare(a.ID, b.ID) })
		mods = append(mods, m)
	}
	slices.SortFunc(mods, func(a, b *moduleMeta) int { return strings.Compare(a.Path, b.Path) })
	for name, v := range map[string]any{"db": db, "modules": mods, "vulns": vulns} {
		b, err := json.Marshal(v)
		if err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(tmp, "index", name+".json"), b, 0o600); err != nil {
			return 0, err
		}
	}
	if err := os.RemoveAll(dst); err != nil {
		return 0, err
	}
	return len(files), os.Rename(tmp, dst)
}

// latestFix is the newest fixed version of the SEMVER ranges (without a "v"),
// or "" when the vulnerability is re-introduced after it or never fixed: the
// "fixed" of index/modules.json, which lets govulncheck skip entries that
// cannot affect the versions in use.
func latestFix(ranges []osvRange) string {
	latest := ""
	for _, r := range ranges {
		if r.Type != "SEMVER" {
			continue
		}
		for _, e := range r.Events {
			if e.Fixed != "" && semverLess(latest, e.Fixed) {
				latest = e.Fixed
			}
		}
		for _, e := range r.Events {
			if e.Introduced != "" && e.Introduced != "0" && semverLess(latest, e.Introduced) {
				latest = ""
				break
			}
		}
	}
	return latest
}

// semverLess compares OSV versions, which carry no "v"; "" sorts first.
func semverLess(a, b string) bool {
	if a == "" {
		return b != ""
	}
	return semver.Compare("v"+a, "v"+b) < 0
}
