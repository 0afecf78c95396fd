package backend

import (
	"bytes"
	"maps"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/backend/tokencache"
)

// The names of the metrics, and of their labels. docs/monitoring.md
// describes each and says why each is per config or per provider; a test
// checks that every name it and the alert rules use is exposed.
//
//nolint:gosec // G101 false positive: metric names that mention tokens and creds, not credentials.
const (
	metricConfigInfo      = "palo_config_info"
	metricVendorRequests  = "palo_vendor_requests_total"
	metricIAMRequests     = "palo_vendor_iam_requests_total"
	metricVendorDuration  = "palo_vendor_request_duration_seconds"
	metricTokenFetches    = "palo_token_fetches_total"
	metricCredsReads      = "palo_creds_reads_total"
	metricTokenSecsLeft   = "palo_token_seconds_left"
	metricCooldownActive  = "palo_credential_cooldown_active"
	metricRotations       = "palo_rotations_total"
	metricRotationSuccess = "palo_rotation_last_success_timestamp_seconds"
	metricBuildInfo       = "palo_build_info"

	labelConfig   = "config"
	labelProvider = "provider"
)

// Outcomes of a rotation, the outcome label of palo_rotations_total.
const (
	rotationSuccess = "success"
	rotationFailure = "failure"
)

// requestBuckets are the latency buckets of one vendor HTTP request: token
// endpoints answer in tens to hundreds of milliseconds, and
// request_timeout is at most five minutes. The token cache sorts every
// request's duration by them.
var requestBuckets = []time.Duration{
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second,
	10 * time.Second, 30 * time.Second, time.Minute,
}

// alwaysOutcomes are the request outcomes a config reports from zero: 2xx,
// the usual answer, and 4xx, on whose first occurrence an alert fires. The
// other outcomes appear with their first occurrence (see
// docs/monitoring.md).
var alwaysOutcomes = []string{provider.Outcome2xx, provider.Outcome4xx}

// metrics is one backend's Prometheus registry: every mount, and every
// remount, has its own, so mounts report separately and a new mount starts
// from zero. Series never carry a role, a token or a secret.
//
// The token cache counts every event (tokencache.Counts); metrics only
// knows which configs exist, their providers and their rotations, and
// turns the cache's counts into series at scrape time (collector).
type metrics struct {
	reg   *prometheus.Registry
	cache *tokencache.Cache
	now   func() time.Time

	mu      sync.RWMutex
	configs map[string]*configMetrics
	// created counts the configMetrics made; see keepConfigs.
	created uint64
}

// configMetrics is what metrics keeps of one config.
type configMetrics struct {
	provider string
	rotates  bool   // the engine can rotate its credential (configEntry.rotation)
	seq      uint64 // metrics.created when it was made

	rotations   [2]uint64 // success, failure
	lastRotated time.Time // the last successful rotation; zero before it
}

// newMetrics builds the registry over the counts of cache; now is the
// clock of the token gauges.
func newMetrics(cache *tokencache.Cache, now func() time.Time) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), cache: cache, now: now, configs: make(map[string]*configMetrics)}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        metricBuildInfo,
		Help:        "Always 1; the labels name the plugin's version and the Go version it was built with.",
		ConstLabels: prometheus.Labels{"version": Version, "go_version": runtime.Version()},
	})
	buildInfo.Set(1)
	m.reg.MustRegister(buildInfo, collector{m})
	return m
}

// noteConfig records that config name exists as entry says, so that it is
// reported (at zero until something happens). A config deleted and created
// again with another provider keeps its counts under the new one.
func (m *metrics) noteConfig(name string, entry *configEntry) {
	rotates := entry.rotation() != nil
	m.mu.RLock()
	cm := m.configs[name]
	m.mu.RUnlock()
	if cm != nil && cm.provider == entry.Provider && cm.rotates == rotates {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.noteLocked(name, entry.Provider).rotates = rotates
}

// noteLocked makes or updates config name's record, with m.mu held, and
// returns it.
func (m *metrics) noteLocked(name, providerName string) *configMetrics {
	cm := m.configs[name]
	if cm == nil {
		m.created++
		cm = &configMetrics{seq: m.created}
		m.configs[name] = cm
	}
	cm.provider = providerName
	return cm
}

// known reports whether config name is reported.
func (m *metrics) known(name string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.configs[name] != nil
}

// generation returns a mark to pass to keepConfigs.
func (m *metrics) generation() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.created
}

// keepConfigs forgets every config not in names (deleted configs), except
// those noted after gen (written since names was listed), and then the
// token cache's counts of every config it no longer knows. It returns the
// names it does not know yet.
func (m *metrics) keepConfigs(names []string, gen uint64) (missing []string) {
	keep := make(map[string]bool, len(names))
	for _, n := range names {
		keep[n] = true
	}
	m.mu.Lock()
	for name, cm := range m.configs {
		if !keep[name] && cm.seq <= gen {
			delete(m.configs, name)
		}
	}
	for _, n := range names {
		if m.configs[n] == nil {
			missing = append(missing, n)
		}
	}
	m.mu.Unlock()
	m.cache.ForgetConfigs(func(name string) bool { return !m.known(name) })
	return missing
}

// observeRotation records one rotation of config's client secret: outcome
// is rotationSuccess or rotationFailure, at when it ended.
func (m *metrics) observeRotation(config, providerName, outcome string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cm := m.noteLocked(config, providerName)
	cm.rotates = true
	if outcome == rotationSuccess {
		cm.rotations[0]++
		cm.lastRotated = at
	} else {
		cm.rotations[1]++
	}
}

// expositionContentType is the Content-Type of the text exposition format.
const expositionContentType = "text/plain; version=0.0.4; charset=utf-8"

// exposition renders every metric in the Prometheus text format.
func (m *metrics) exposition() ([]byte, error) {
	families, err := m.reg.Gather()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for _, f := range families {
		if _, err := expfmt.MetricFamilyToText(&buf, f); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

var (
	descConfigInfo = prometheus.NewDesc(metricConfigInfo,
		"Always 1, one series per config: its provider. Join it to a per-config series for the provider label.",
		[]string{labelConfig, labelProvider}, nil)
	descVendorRequests = prometheus.NewDesc(metricVendorRequests,
		"HTTP requests to the vendor's token endpoint (token fetches, connection checks, rotations' token requests), each retry counted, by outcome: "+
			"2xx, 3xx, 4xx, 5xx, throttled (429), timeout, network_error. 2xx and 4xx are reported from zero, the others from their first occurrence.",
		[]string{labelConfig, "outcome"}, nil)
	descIAMRequests = prometheus.NewDesc(metricIAMRequests,
		"HTTP requests to the vendor's IAM API that secret rotation makes, each retry counted, by outcome as "+metricVendorRequests+"; for configs the engine can rotate.",
		[]string{labelConfig, "outcome"}, nil)
	descCredsReads = prometheus.NewDesc(metricCredsReads,
		"Reads of creds/<role> that reached the token cache, by result: hit, fetched (waited for a vendor call), stale (served a cached token through a vendor failure), failed.",
		[]string{labelConfig, "result"}, nil)
	descTokenSecsLeft = prometheus.NewDesc(metricTokenSecsLeft,
		"Whole seconds of life left on each cached token, by config and scope (the TSG for paloalto_scm).",
		[]string{labelConfig, "scope"}, nil)
	descCooldownActive = prometheus.NewDesc(metricCooldownActive,
		"1 while reads of the config fail fast after the vendor rejected its credentials (auth_failure_cooldown), else 0.",
		[]string{labelConfig}, nil)
	descRotations = prometheus.NewDesc(metricRotations,
		"Rotations of a config's credential, by outcome: success, failure; for configs the engine can rotate.",
		[]string{labelConfig, "outcome"}, nil)
	descRotationSuccess = prometheus.NewDesc(metricRotationSuccess,
		"When a config's credential was last rotated successfully (Unix seconds); absent before the first.",
		[]string{labelConfig}, nil)
	descTokenFetches = prometheus.NewDesc(metricTokenFetches,
		"Token fetches by the cache (each may take several HTTP requests), by provider and reason: miss (no token qualified for a reader), "+
			"refresh_ahead (background refresh of a token in use), after_purge (the first fetch after a purge or config write dropped the token).",
		[]string{labelProvider, "reason"}, nil)
	descVendorDuration = prometheus.NewDesc(metricVendorDuration,
		"Duration of one HTTP request to the vendor, body included, by provider and endpoint: token (the token endpoint), iam (the IAM API of rotation).",
		[]string{labelProvider, "endpoint"}, nil)
)

// collector turns, at scrape time, the token cache's counts and entries and
// what metrics knows of each config into series. Only configs metrics
// knows are reported: the stored ones, once a scrape or a read has seen
// them.
type collector struct{ m *metrics }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descConfigInfo, descVendorRequests, descIAMRequests, descCredsReads, descTokenSecsLeft,
		descCooldownActive, descRotations, descRotationSuccess, descTokenFetches, descVendorDuration,
	} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	m.mu.RLock()
	configs := make(map[string]configMetrics, len(m.configs))
	for name, cm := range m.configs {
		configs[name] = *cm
	}
	m.mu.RUnlock()
	counts := m.cache.Counts()
	entries := m.cache.Entries()

	byProvider := map[string]*providerTotals{}
	for name, cm := range configs {
		n := counts[name]
		p := byProvider[cm.provider]
		if p == nil {
			p = &providerTotals{}
			byProvider[cm.provider] = p
		}
		p.counts.Add(n)
		p.rotates = p.rotates || cm.rotates
		collectConfig(ch, name, cm, n)
	}
	collectEntries(ch, configs, entries, m.now())
	for _, name := range slices.Sorted(maps.Keys(byProvider)) {
		collectProvider(ch, name, byProvider[name])
	}
}

// providerTotals are the counts of one provider's configs, and whether any
// of them can rotate.
type providerTotals struct {
	counts  tokencache.Counts
	rotates bool
}

// counter sends one counter sample.
func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

// gauge sends one gauge sample.
func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

// collectConfig sends the series of one config: its info, its reads by
// result, its requests by outcome (see alwaysOutcomes), and when the
// engine can rotate it, its IAM requests and rotations.
func collectConfig(ch chan<- prometheus.Metric, name string, cm configMetrics, n tokencache.Counts) {
	gauge(ch, descConfigInfo, 1, name, cm.provider)
	for _, s := range tokencache.Sources {
		counter(ch, descCredsReads, n.Reads(s), name, s.String())
	}
	requests := func(d *prometheus.Desc, ep tokencache.Endpoint) {
		for _, o := range provider.Outcomes {
			if v := n.Requests(ep, o); v > 0 || slices.Contains(alwaysOutcomes, o) {
				counter(ch, d, v, name, o)
			}
		}
	}
	requests(descVendorRequests, tokencache.TokenEndpoint)
	if !cm.rotates {
		return
	}
	requests(descIAMRequests, tokencache.IAMEndpoint)
	counter(ch, descRotations, cm.rotations[0], name, rotationSuccess)
	counter(ch, descRotations, cm.rotations[1], name, rotationFailure)
	if !cm.lastRotated.IsZero() {
		gauge(ch, descRotationSuccess, float64(cm.lastRotated.UnixNano())/1e9, name)
	}
}

// collectEntries sends what the cache holds of the known configs: the
// life left on each cached token and whether a config is in a
// credential-failure cooldown.
func collectEntries(ch chan<- prometheus.Metric, configs map[string]configMetrics, entries []tokencache.EntryInfo, now time.Time) {
	cooldown := make(map[string]float64, len(configs))
	for name := range configs {
		cooldown[name] = 0
	}
	// Two entries of one config and scope (a config written while a fetch
	// of its old version is in flight, or roles requesting different
	// audiences or resources) report the shorter life.
	type token struct{ config, scope string }
	left := map[token]float64{}
	for _, e := range entries {
		if _, known := configs[e.Config]; !known {
			continue
		}
		if !e.FailFastUntil.IsZero() {
			cooldown[e.Config] = 1
		}
		if e.ExpiresAt.IsZero() {
			continue
		}
		k := token{e.Config, e.Scope}
		s := max(math.Floor(e.ExpiresAt.Sub(now).Seconds()), 0)
		if old, ok := left[k]; !ok || s < old {
			left[k] = s
		}
	}
	for k, s := range left {
		gauge(ch, descTokenSecsLeft, s, k.config, k.scope)
	}
	for name, v := range cooldown {
		gauge(ch, descCooldownActive, v, name)
	}
}

// collectProvider sends the series of one provider, summed over its
// configs: fetches by reason, and the request latency by endpoint (iam
// only when one of its configs can rotate).
func collectProvider(ch chan<- prometheus.Metric, name string, p *providerTotals) {
	for _, r := range tokencache.FetchReasons {
		counter(ch, descTokenFetches, p.counts.Fetches(r), name, r.String())
	}
	for _, ep := range tokencache.Endpoints {
		if ep == tokencache.IAMEndpoint && !p.rotates {
			continue
		}
		perBucket, sum := p.counts.Durations(ep)
		cumulative := make(map[float64]uint64, len(requestBuckets))
		var count uint64
		for i, b := range requestBuckets {
			if i < len(perBucket) {
				count += perBucket[i]
			}
			cumulative[b.Seconds()] = count
		}
		if len(perBucket) > len(requestBuckets) {
			count += perBucket[len(requestBuckets)]
		}
		ch <- prometheus.MustNewConstHistogram(descVendorDuration, count, sum.Seconds(), cumulative, name, ep.String())
	}
}
