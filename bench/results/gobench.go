package results

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// GoBench is one result line of `go test -bench -benchmem`.
type GoBench struct {
	// Pkg is the import path from the preceding "pkg:" line.
	Pkg string
	// Name is the benchmark's name without the -GOMAXPROCS suffix.
	Name string
	// Procs is GOMAXPROCS (the suffix), 0 if absent.
	Procs int
	// N is the number of iterations.
	N int64
	// Metrics are the values by unit: "ns/op", "B/op", "allocs/op" and
	// any custom unit such as "B/entry".
	Metrics map[string]float64
}

// ParseGoBench reads the output of `go test -bench` (any number of
// packages) and returns its result lines in order. Other lines are skipped.
func ParseGoBench(r io.Reader) ([]GoBench, error) {
	var out []GoBench
	pkg := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		// Name, N, then value-unit pairs; a line with only the name is a
		// benchmark that printed something or failed.
		if len(f) < 4 || len(f)%2 != 0 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		b := GoBench{Pkg: pkg, Name: f[0], N: n, Metrics: map[string]float64{}}
		if i := strings.LastIndexByte(b.Name, '-'); i > 0 {
			if procs, err := strconv.Atoi(b.Name[i+1:]); err == nil {
				b.Name, b.Procs = b.Name[:i], procs
			}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark %s: value %q is not a number", b.Name, f[i])
			}
			b.Metrics[f[i+1]] = v
		}
		out = append(out, b)
	}
	return out, sc.Err()
}

// Find returns the result of the benchmark named name in a package whose
// path ends with pkgSuffix.
func Find(benches []GoBench, pkgSuffix, name string) (GoBench, bool) {
	for _, b := range benches {
		if b.Name == name && strings.HasSuffix(b.Pkg, pkgSuffix) {
			return b, true
		}
	}
	return GoBench{}, false
}
