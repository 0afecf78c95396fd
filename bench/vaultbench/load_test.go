//go:build e2e

package vaultbench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/vault-palo/vault-plugin-secrets-palo/bench/results"
)

// maxSamplesPerClient bounds the latencies one client keeps in a run, and
// so the reads it makes.
const maxSamplesPerClient = 200_000

// reader reads Vault paths over HTTP/1.1 with keep-alive connections, as a
// fleet of applications or agents would: one connection per client, no
// CLI, no JSON decoding on the hot loop.
type reader struct {
	addr   string
	token  string
	client *http.Client
}

func newReader(addr, token string) *reader {
	tr := &http.Transport{
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &reader{addr: addr, token: token, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (r *reader) close() { r.client.CloseIdleConnections() }

// read does one GET /v1/<path> and drains the body; any status but 200 is
// an error.
func (r *reader) read(ctx context.Context, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.addr+"/v1/"+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Vault-Token", r.token)
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// maxBody bounds the body get reads: a metrics exposition of many
// configs is megabytes.
const maxBody = 64 << 20

// get does one GET /v1/<path> and returns the body; any status but 200 is
// an error.
func (r *reader) get(path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, r.addr+"/v1/"+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Vault-Token", r.token)
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %.512s", path, resp.StatusCode, body)
	}
	return body, nil
}

// sample is the outcome of one measured run before it is summarised; runs
// of the same target and concurrency in several rounds are merged.
type sample struct {
	latencies []time.Duration
	reads     int
	errors    int
	firstErr  error
	elapsed   time.Duration
}

func (s *sample) merge(o sample) {
	s.latencies = append(s.latencies, o.latencies...)
	s.reads += o.reads
	s.errors += o.errors
	if s.firstErr == nil {
		s.firstErr = o.firstErr
	}
	s.elapsed += o.elapsed
}

// summary turns a sample into a results.Run.
func (s *sample) summary(target, path string, clients int) results.Run {
	lat := slices.Clone(s.latencies)
	slices.Sort(lat)
	run := results.Run{Target: target, Path: path, Clients: clients, Reads: s.reads, Errors: s.errors, Seconds: s.elapsed.Seconds()}
	if len(lat) > 0 {
		run.P50Micros = micros(percentile(lat, 0.50))
		run.P99Micros = micros(percentile(lat, 0.99))
		var sum time.Duration
		for _, d := range lat {
			sum += d
		}
		run.MeanMicros = micros(sum / time.Duration(len(lat)))
	}
	if s.elapsed > 0 {
		run.PerSecond = float64(s.reads) / s.elapsed.Seconds()
	}
	return run
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// percentile of sorted latencies (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// load runs clients concurrent readers of paths for warmup (not recorded)
// and then for d, each client reading back to back. It stops early if ctx
// ends. Errors are counted, not fatal: the caller decides.
func (r *reader) load(ctx context.Context, paths []string, clients int, warmup, d time.Duration) sample {
	if warmup > 0 {
		r.loop(ctx, paths, clients, warmup, false)
	}
	return r.loop(ctx, paths, clients, d, true)
}

// loop is one run of load. Each client reads paths in turn, starting at
// its own share of the list, so that clients spread over the paths rather
// than reading the same one at the same time.
func (r *reader) loop(ctx context.Context, paths []string, clients int, d time.Duration, record bool) sample {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	per := make([]sample, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		wg.Go(func() {
			s := &per[i]
			if record {
				s.latencies = make([]time.Duration, 0, 4096)
			}
			next := i * len(paths) / clients
			for ctx.Err() == nil && s.reads+s.errors < maxSamplesPerClient {
				path := paths[next%len(paths)]
				next++
				t0 := time.Now()
				err := r.read(context.Background(), path)
				el := time.Since(t0)
				if err != nil {
					s.errors++
					if s.firstErr == nil {
						s.firstErr = err
					}
					continue
				}
				s.reads++
				if record {
					s.latencies = append(s.latencies, el)
				}
			}
		})
	}
	wg.Wait()
	var out sample
	for _, s := range per {
		out.merge(s)
	}
	out.elapsed = time.Since(start)
	return out
}
