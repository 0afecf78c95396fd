package main

import (
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

// checkSBOM fails unless the CycloneDX document lists every module compiled
// into the binary (its build information, what `go version -m` prints) with
// the same version, and names the binary's main module as its subject.
func checkSBOM(binary, sbom string) (int, error) {
	info, err := buildinfo.ReadFile(binary)
	if err != nil {
		return 0, err
	}
	raw, err := os.ReadFile(sbom)
	if err != nil {
		return 0, err
	}
	var doc struct {
		BOMFormat string `json:"bomFormat"`
		Metadata  struct {
			Component struct {
				Name string `json:"name"`
			} `json:"component"`
		} `json:"metadata"`
		Components []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return 0, fmt.Errorf("%s: %w", sbom, err)
	}
	if doc.BOMFormat != "CycloneDX" {
		return 0, fmt.Errorf("%s: bomFormat %q, want CycloneDX", sbom, doc.BOMFormat)
	}
	if doc.Metadata.Component.Name != info.Main.Path {
		return 0, fmt.Errorf("%s describes %q, the binary is %q", sbom, doc.Metadata.Component.Name, info.Main.Path)
	}
	listed := map[string]bool{}
	for _, c := range doc.Components {
		listed[c.Name+"@"+c.Version] = true
	}
	var missing []string
	for _, d := range info.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		if !listed[d.Path+"@"+d.Version] {
			missing = append(missing, d.Path+"@"+d.Version)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return 0, fmt.Errorf("%s lacks modules compiled into %s: %s", sbom, binary, strings.Join(missing, ", "))
	}
	return len(info.Deps), nil
}
