// Command report renders BENCHMARKS.md from what `make bench` measured: the
// end-to-end results (JSON, bench/results.Results), the output of
// `go test -bench -benchmem`, and the scale benchmark's results
// (bench/results.Scale) and the load test's JSON summary if they ran.
// scripts/bench.sh runs it; see there for the flags it passes.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/bench/results"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	resultsFile := fs.String("results", "", "end-to-end results (JSON)")
	goBenchFile := fs.String("gobench", "", "output of go test -bench -benchmem")
	loadFile := fs.String("load", "", "the load test's JSON summary (optional)")
	loadNote := fs.String("load-note", "", "why the load test did not run")
	scaleFile := fs.String("scale", "", "the scale benchmark's results (JSON, optional)")
	scaleNote := fs.String("scale-note", "", "why the scale benchmark did not run")
	out := fs.String("out", "BENCHMARKS.md", "the file to write")
	var m results.Meta
	fs.StringVar(&m.LoadBefore, "loadavg-before", "", "/proc/loadavg at the start")
	fs.StringVar(&m.LoadAfter, "loadavg-after", "", "/proc/loadavg at the end")
	fs.StringVar(&m.PluginVersion, "plugin-version", "", "the plugin's version")
	fs.StringVar(&m.Commit, "commit", "", "the commit measured")
	fs.StringVar(&m.MakeCommand, "make-command", "make bench", "the command that runs everything")
	fs.StringVar(&m.GoBenchCommand, "gobench-command", "", "the go test -bench command")
	fs.StringVar(&m.LoadCommand, "load-command", "", "the load test command")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *resultsFile == "" || *goBenchFile == "" {
		return errors.New("-results and -gobench are required")
	}
	m.Date = time.Now()
	m.GoVersion = runtime.Version()
	m.Machine = machine()

	in := results.Input{Meta: m, LoadNote: *loadNote, ScaleNote: *scaleNote}
	b, err := os.ReadFile(*resultsFile)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &in.Results); err != nil {
		return fmt.Errorf("%s: %w", *resultsFile, err)
	}
	gb, err := os.ReadFile(*goBenchFile)
	if err != nil {
		return err
	}
	parsed, err := results.ParseGoBench(bytes.NewReader(gb))
	if err != nil {
		return fmt.Errorf("%s: %w", *goBenchFile, err)
	}
	in.GoBench = results.Median(parsed)
	if *scaleFile != "" {
		b, err := os.ReadFile(*scaleFile)
		if err != nil {
			return err
		}
		in.Scale = &results.Scale{}
		if err := json.Unmarshal(b, in.Scale); err != nil {
			return fmt.Errorf("%s: %w", *scaleFile, err)
		}
	}
	if *loadFile != "" {
		if in.Load, err = os.ReadFile(*loadFile); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	if err := results.Render(&buf, in); err != nil {
		return err
	}
	return os.WriteFile(*out, buf.Bytes(), 0o644) //nolint:gosec // G306: a document in the repository
}

// machine describes the CPU, memory and kernel from /proc.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.1f GiB RAM", float64(kb)/(1<<20))
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%s, %d CPUs%s%s", cpu, runtime.NumCPU(), mem, kernel)
}
