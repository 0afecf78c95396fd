package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLatestFix(t *testing.T) {
	t.Parallel()
	// ev builds a SEMVER range from events written "i:0", "f:1.2.3".
	ev := func(events ...string) osvRange {
		r := osvRange{Type: "SEMVER"}
		for _, e := range events {
			kind, v, _ := strings.Cut(e, ":")
			var event struct {
				Introduced string `json:"introduced,omitempty"`
				Fixed      string `json:"fixed,omitempty"`
			}
			if kind == "i" {
				event.Introduced = v
			} else {
				event.Fixed = v
			}
			r.Events = append(r.Events, event)
		}
		return r
	}
	tests := map[string]struct {
		ranges []osvRange
		want   string
	}{
		"one fix":                   {[]osvRange{ev("i:0", "f:0.3.7")}, "0.3.7"},
		"the newest of two fixes":   {[]osvRange{ev("i:0", "f:1.2.3", "i:1.3.0", "f:1.3.10")}, "1.3.10"},
		"semver, not string, order": {[]osvRange{ev("i:0", "f:1.9.0", "i:1.10.0", "f:1.10.2")}, "1.10.2"},
		"never fixed":               {[]osvRange{ev("i:0")}, ""},
		"re-introduced after a fix": {[]osvRange{ev("i:0", "f:1.0.1", "i:1.1.0")}, ""},
		"non-SEMVER ranges ignored": {[]osvRange{{Type: "GIT"}}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := latestFix(tc.ranges); got != tc.want {
				t.Fatalf("latestFix = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestConvertVulnDB(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "db")
	entries := map[string]string{
		"GO-2021-0113": `{"id":"GO-2021-0113","modified":"0001-01-01T00:00:00Z","published":"2021-10-06T17:51:21Z",
			"aliases":["CVE-2021-38561"],"affected":[{"package":{"name":"golang.org/x/text"},
			"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"0.3.7"}]}]}]}`,
		"GO-2026-0001": `{"id":"GO-2026-0001","modified":"0001-01-01T00:00:00Z","published":"0001-01-01T00:00:00Z",
			"affected":[{"package":{"name":"example.com/a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]},
			{"package":{"name":"golang.org/x/text"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"0.9.0"}]}]}]}`,
	}
	for id, e := range entries {
		if err := os.WriteFile(filepath.Join(src, id+".json"), []byte(e), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n, err := convertVulnDB(src, dst, "v0.0.0-20261105234957-e22db6528018")
	if err != nil || n != 2 {
		t.Fatalf("convertVulnDB = %d, %v; want 2 entries", n, err)
	}
	for id, e := range entries {
		if b, err := os.ReadFile(filepath.Join(dst, "ID", id+".json")); err != nil || string(b) != e {
			t.Errorf("ID/%s.json = %q, %v; want the source entry byte for byte", id, b, err)
		}
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dst, "index", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// The snapshot time stands in for an entry with neither time set.
	if got, want := read("db"), `{"modified":"2026-11-05T23:49:57Z"}`; got != want {
		t.Errorf("index/db.json = %s, want %s", got, want)
	}
	wantModules := `[{"path":"example.com/a","vulns":[{"id":"GO-2026-0001","modified":"2026-11-05T23:49:57Z"}]},` +
		`{"path":"golang.org/x/text","vulns":[{"id":"GO-2021-0113","modified":"2021-10-06T17:51:21Z","fixed":"0.3.7"},` +
		`{"id":"GO-2026-0001","modified":"2026-11-05T23:49:57Z","fixed":"0.9.0"}]}]`
	if got := read("modules"); got != wantModules {
		t.Errorf("index/modules.json =\n%s\nwant\n%s", got, wantModules)
	}
	var vulns []vulnMeta
	if err := json.Unmarshal([]byte(read("vulns")), &vulns); err != nil || len(vulns) != 2 || vulns[0].Aliases[0] != "CVE-2021-38561" {
		t.Errorf("index/vulns.json = %s, %v", read("vulns"), err)
	}

	// A file whose name is not its entry's id is refused, and dst is kept.
	if err := os.WriteFile(filepath.Join(src, "GO-2026-0002.json"), []byte(`{"id":"GO-2026-0003"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := convertVulnDB(src, dst, "v0.0.0-20261105234957-e22db6528018"); err == nil {
		t.Fatal("convertVulnDB accepted an entry whose id does not match its file name")
	}
	if read("modules") != wantModules {
		t.Error("a failed conversion changed the existing database")
	}
}
