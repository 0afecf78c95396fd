package main

import (
	"debug/buildinfo"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The test binary carries build information like any Go binary: an SBOM
// listing its modules passes, one that lacks a module or lists another
// version of it fails, naming the module.
func TestCheckSBOM(t *testing.T) {
	t.Parallel()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil || len(info.Deps) < 2 {
		t.Fatalf("build information of the test binary: %v, %d modules", err, len(info.Deps))
	}
	type comp struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	write := func(t *testing.T, comps []comp) string {
		t.Helper()
		b, err := json.Marshal(map[string]any{
			"bomFormat":  "CycloneDX",
			"metadata":   map[string]any{"component": comp{Name: info.Main.Path}},
			"components": comps,
		})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "sbom.json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	var all []comp
	for _, d := range info.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		all = append(all, comp{d.Path, d.Version})
	}
	if n, err := checkSBOM(bin, write(t, all)); err != nil || n != len(all) {
		t.Fatalf("checkSBOM with every module = %d, %v; want %d, nil", n, err, len(all))
	}
	dropped := all[1:]
	if _, err := checkSBOM(bin, write(t, dropped)); err == nil || !strings.Contains(err.Error(), all[0].Name+"@"+all[0].Version) {
		t.Errorf("checkSBOM without %s = %v, want it named as missing", all[0].Name, err)
	}
	other := append([]comp{{all[0].Name, "v0.0.0-other"}}, all[1:]...)
	if _, err := checkSBOM(bin, write(t, other)); err == nil || !strings.Contains(err.Error(), all[0].Name) {
		t.Errorf("checkSBOM with another version of %s = %v, want it named", all[0].Name, err)
	}
}
