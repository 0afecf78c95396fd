package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend"
)

// TestParseOptions sets environment variables, so it does not run in
// parallel.
func TestParseOptions(t *testing.T) {
	t.Setenv("PLUGIN_VERSION", "")
	t.Setenv("MOUNT_PATH", "team/palo")
	cases := map[string]struct {
		args    []string
		ok      bool
		code    int
		out     string // in stdout (ok false) or stderr
		version string
	}{
		"the program's own version by default": {args: []string{"--file", "f.json"}, ok: true, version: backend.Version},
		"a version given":                      {args: []string{"--version", "v9.8.7"}, ok: true, version: "v9.8.7"},
		"help":                                 {args: []string{"--help"}, out: "Usage: palo-configure"},
		"an unknown argument":                  {args: []string{"extra"}, code: 1, out: `unknown argument "extra"`},
		"an empty mount":                       {args: []string{"--mount", "/"}, code: 1, out: "--mount must not be empty"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			o, code, ok := parseOptions(tc.args, &stdout, &stderr)
			if ok != tc.ok || code != tc.code {
				t.Fatalf("ok %v code %d, want %v %d; stderr %s", ok, code, tc.ok, tc.code, stderr.String())
			}
			if !strings.Contains(stdout.String()+stderr.String(), tc.out) {
				t.Errorf("output %q, want %q in it", stdout.String()+stderr.String(), tc.out)
			}
			if ok && (o.Version != tc.version || o.Mount != "team/palo") {
				t.Errorf("version %q mount %q, want %q and team/palo from MOUNT_PATH", o.Version, o.Mount, tc.version)
			}
		})
	}
}
