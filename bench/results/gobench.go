package results

import (
	"bufio"
	"fmt"
	"io"
	"slices"
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
	// Runs is how many result lines Median merged into this one (1 for a
	// parsed line).
	Runs int
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
		b := GoBench{Pkg: pkg, Name: f[0], N: n, Metrics: map[string]float64{}, Runs: 1}
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

// Median merges the results of each benchmark (the same package and name,
// from -count or from several runs) into one, in the order first seen: for
// each unit the median of its values (the lower middle one of an even
// count), and N and Runs summed.
func Median(benches []GoBench) []GoBench {
	type key struct{ pkg, name string }
	var order []key
	groups := map[key][]GoBench{}
	for _, b := range benches {
		k := key{b.Pkg, b.Name}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], b)
	}
	out := make([]GoBench, 0, len(order))
	for _, k := range order {
		g := groups[k]
		m := GoBench{Pkg: k.pkg, Name: k.name, Procs: g[0].Procs, Metrics: map[string]float64{}}
		values := map[string][]float64{}
		for _, b := range g {
			m.N += b.N
			m.Runs += b.Runs
			for unit, v := range b.Metrics {
				values[unit] = append(values[unit], v)
			}
		}
		for unit, vs := range values {
			slices.Sort(vs)
			m.Metrics[unit] = vs[(len(vs)-1)/2]
		}
		out = append(out, m)
	}
	return out
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
