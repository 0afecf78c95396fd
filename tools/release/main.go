// Command release holds the release steps that need more than a shell: the
// static-linking check, the SBOM check, the OCI image for OpenBao, its round trip through a
// registry, the CHANGELOG section of a version, and the conversion of the Go
// vulnerability database module into the layout govulncheck reads.
//
// It is its own module so that go-containerregistry and x/mod stay out of the
// plugin's dependency set.
package main

import (
	"flag"
	"fmt"
	"os"
)

const usage = `usage:
  release static FILE...                         fail if an ELF binary is dynamically linked
  release notes -changelog FILE -version vX.Y.Z  print that version's CHANGELOG section
  release sbom BINARY SBOM                       fail unless SBOM lists every module in BINARY
  release image -dist DIR -version vX.Y.Z        write DIR/<plugin>_<version>_oci (OCI layout)
  release image-check -dist DIR -version vX.Y.Z  push it to a loopback registry, pull, compare
  release vulndb SRC DST VERSION                 convert vulndb@VERSION's data/osv into a govulncheck database`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "release %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func run(cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	dist := fs.String("dist", "dist", "the release directory")
	version := fs.String("version", "", "the release version, vX.Y.Z")
	changelog := fs.String("changelog", "CHANGELOG.md", "the CHANGELOG file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch cmd {
	case "static":
		for _, f := range fs.Args() {
			if err := checkStatic(f); err != nil {
				return err
			}
			fmt.Printf("%s: statically linked\n", f)
		}
		return nil
	case "notes":
		b, err := os.ReadFile(*changelog)
		if err != nil {
			return err
		}
		notes, err := releaseNotes(string(b), *version)
		if err != nil {
			return fmt.Errorf("%s: %w", *changelog, err)
		}
		_, err = fmt.Print(notes)
		return err
	case "sbom":
		if fs.NArg() != 2 {
			return fmt.Errorf("want BINARY and SBOM, got %q", fs.Args())
		}
		n, err := checkSBOM(fs.Arg(0), fs.Arg(1))
		if err == nil {
			fmt.Printf("%s lists the %d modules compiled into %s\n", fs.Arg(1), n, fs.Arg(0))
		}
		return err
	case "image":
		dir, err := writeImage(*dist, *version)
		if err == nil {
			fmt.Printf("wrote %s\n", dir)
		}
		return err
	case "image-check":
		return checkImage(*dist, *version)
	case "vulndb":
		if fs.NArg() != 3 {
			return fmt.Errorf("want SRC, DST and the vulndb module version, got %q", fs.Args())
		}
		n, err := convertVulnDB(fs.Arg(0), fs.Arg(1), fs.Arg(2))
		if err == nil {
			fmt.Printf("wrote %d entries to %s\n", n, fs.Arg(1))
		}
		return err
	default:
		return fmt.Errorf("unknown command\n%s", usage)
	}
}
