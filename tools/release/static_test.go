package main

import (
	"strings"
	"testing"
)

// The positive case runs on every build: make build and make release check
// their binaries with the same function.
func TestCheckStaticRefusesADynamicBinary(t *testing.T) {
	t.Parallel()
	err := checkStatic("/bin/sh")
	if err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Fatalf("checkStatic(/bin/sh) = %v, want a dynamically linked error", err)
	}
}
