package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// fakeDist writes a release directory with stand-in binaries and their
// SHA256SUMS.
func fakeDist(t *testing.T, version string) string {
	t.Helper()
	dist := t.TempDir()
	var sums strings.Builder
	for _, p := range imagePlatforms {
		name := binaryName(version, p)
		bin := []byte("binary for " + p.String())
		if err := os.WriteFile(filepath.Join(dist, name), bin, 0o600); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(bin)
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), name)
	}
	if err := os.WriteFile(filepath.Join(dist, "SHA256SUMS"), []byte(sums.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return dist
}

func indexDigest(t *testing.T, dir string) string {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func TestImageRoundTrip(t *testing.T) {
	t.Parallel()
	const version = "v1.2.3"
	dist := fakeDist(t, version)
	dir, err := writeImage(dist, version)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkImage(dist, version); err != nil {
		t.Fatalf("checkImage: %v", err)
	}

	// The same binaries give the same image, byte for byte.
	first := indexDigest(t, dir)
	if _, err := writeImage(dist, version); err != nil {
		t.Fatal(err)
	}
	if again := indexDigest(t, dir); again != first {
		t.Errorf("rebuilding the image changed its digest from %s to %s", first, again)
	}

	// A binary that is not the one SHA256SUMS names is caught.
	arm := binaryName(version, imagePlatforms[1])
	if err := os.WriteFile(filepath.Join(dist, arm), []byte("another binary"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := writeImage(dist, version); err != nil {
		t.Fatal(err)
	}
	err = checkImage(dist, version)
	if err == nil || !strings.Contains(err.Error(), "SHA256SUMS says") || !strings.Contains(err.Error(), arm) {
		t.Fatalf("checkImage with a swapped arm64 binary = %v, want a sha256 mismatch naming %s", err, arm)
	}
}
