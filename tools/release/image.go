package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// plugin is the binary's name: its file name in the image, and the
// binary_name of OpenBao's declarative plugin block.
const plugin = "vault-plugin-secrets-palo"

// imagePlatforms are the platforms of the image index; their binaries come
// from the release directory.
var imagePlatforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

func binaryName(version string, p v1.Platform) string {
	return fmt.Sprintf("%s_%s_%s_%s", plugin, version, p.OS, p.Architecture)
}

func imageDir(dist, version string) string {
	return filepath.Join(dist, fmt.Sprintf("%s_%s_oci", plugin, version))
}

// writeImage writes an OCI image layout holding a multi-platform index: one
// image per platform with the plugin binary at its root as the entrypoint.
// Timestamps are fixed, so the same binaries give the same digests.
func writeImage(dist, version string) (string, error) {
	if !versionRE.MatchString(version) {
		return "", fmt.Errorf("version %q is not of the form vX.Y.Z", version)
	}
	idx, err := buildIndex(dist, version)
	if err != nil {
		return "", err
	}
	dir := imageDir(dist, version)
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	_, err = layout.Write(dir, idx)
	return dir, err
}

func buildIndex(dist, version string) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range imagePlatforms {
		bin, err := os.ReadFile(filepath.Join(dist, binaryName(version, p)))
		if err != nil {
			return nil, err
		}
		img, err := pluginImage(bin, version, p)
		if err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &p},
		})
	}
	return idx, nil
}

func pluginImage(bin []byte, version string, p v1.Platform) (v1.Image, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{
		Name:     plugin,
		Mode:     0o755,
		Size:     int64(len(bin)),
		ModTime:  time.Unix(0, 0),
		Typeflag: tar.TypeReg,
		Format:   tar.FormatPAX,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = p.OS, p.Architecture
	cfg.Config.Entrypoint = []string{"/" + plugin}
	cfg.Config.Labels = map[string]string{
		"org.opencontainers.image.title":   plugin,
		"org.opencontainers.image.version": version,
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, map[string]string{
		"org.opencontainers.image.title":   plugin,
		"org.opencontainers.image.version": version,
	}).(v1.Image), nil
}

// checkImage does what an OpenBao server does with a declarative plugin
// block: it pushes the image index from the layout to a registry (one in this
// process, on loopback), pulls the image of each platform by tag, extracts
// the binary from the image's file system and compares its sha256 with the
// release's SHA256SUMS line for that platform's binary.
func checkImage(dist, version string) error {
	sums, err := readSums(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		return err
	}
	lp, err := layout.FromPath(imageDir(dist, version))
	if err != nil {
		return err
	}
	pushed, err := lp.ImageIndex()
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0))), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	ref, err := name.ParseReference(fmt.Sprintf("%s/vault-palo/%s:%s", ln.Addr(), plugin, version), name.Insecure)
	if err != nil {
		return err
	}
	if err := remote.WriteIndex(ref, pushed); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	fmt.Printf("pushed %s\n", ref)
	for _, p := range imagePlatforms {
		img, err := remote.Image(ref, remote.WithPlatform(p))
		if err != nil {
			return fmt.Errorf("pull %s for %s: %w", ref, p, err)
		}
		got, err := extractedSum(img, plugin)
		if err != nil {
			return fmt.Errorf("%s for %s: %w", ref, p, err)
		}
		file := binaryName(version, p)
		want, ok := sums[file]
		if !ok {
			return fmt.Errorf("SHA256SUMS has no line for %s", file)
		}
		if got != want {
			return fmt.Errorf("%s for %s: /%s has sha256 %s, SHA256SUMS says %s for %s", ref, p, plugin, got, want, file)
		}
		fmt.Printf("pulled %s for %s: /%s sha256 %s matches %s\n", ref, p, plugin, got, file)
	}
	return nil
}

// extractedSum is the sha256 of one file of the image's flattened file system.
func extractedSum(img v1.Image, file string) (string, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("no /%s in the image", file)
		}
		if err != nil {
			return "", err
		}
		if strings.TrimPrefix(hdr.Name, "/") != file {
			continue
		}
		if hdr.Mode&0o111 == 0 {
			return "", fmt.Errorf("/%s is not executable (mode %o)", file, hdr.Mode)
		}
		h := sha256.New()
		if _, err := io.Copy(h, tr); err != nil { //nolint:gosec // the binary's size is bounded by the image just built
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
}

// readSums parses a sha256sum file: "<hex>  <name>" per line.
func readSums(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, file, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			return nil, fmt.Errorf("%s: malformed line %q", path, sc.Text())
		}
		sums[file] = sum
	}
	return sums, sc.Err()
}
