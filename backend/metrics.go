package backend

import (
	"bytes"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/backend/tokencache"
)

// The names of the metrics, and of their labels. docs/monitoring.md
// describes each; a test checks that every name it uses is exposed.
//
//nolint:gosec // G101 false positive: metric names that mention tokens and creds, not credentials.
const (
	metricVendorRequests  = "palo_vendor_requests_total"
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

// Results of a creds read, the result label of palo_creds_reads_total.
const (
	readHit     = "hit"     // the cached token qualified
	readFetched = "fetched" // a vendor call was made (by this reader or one it joined)
	readStale   = "stale"   // the vendor failed; a cached token was served with a warning
	readFailed  = "failed"  // the reader got an error
)

// Outcomes of a rotation, the outcome label of palo_rotations_total.
const (
	rotationSuccess = "success"
	rotationFailure = "failure"
)

// vendorDurationBuckets are the latency buckets of one vendor HTTP
// attempt, in seconds: token endpoints answer in tens to hundreds of
// milliseconds, and request_timeout is at most five minutes.
var vendorDurationBuckets = []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// metrics is one backend's Prometheus registry: every mount, and every
// remount, has its own, so mounts report separately and a new mount starts
// from zero. Series are labelled by config and provider (and an outcome,
// reason or result), never by role, and never carry a token or a secret.
//
// The read path updates counters resolved once per config (configMetrics),
// so a cache hit costs one atomic add. What the token cache knows (the life
// left on each token, cooldowns) is read from it at scrape time.
type metrics struct {
	reg *prometheus.Registry

	vendorRequests *prometheus.CounterVec
	vendorDuration *prometheus.HistogramVec
	fetches        *prometheus.CounterVec
	reads          *prometheus.CounterVec
	rotations      *prometheus.CounterVec
	rotationLast   *prometheus.GaugeVec

	mu      sync.RWMutex
	configs map[string]*configMetrics
	// created counts the configMetrics made; see keepConfigs.
	created uint64
}

// configMetrics is one config's series, resolved once so that the read path
// does no label look-up.
type configMetrics struct {
	provider string
	seq      uint64 // metrics.created when it was made

	readHit, readFetched, readStale, readFailed prometheus.Counter

	fetches  map[tokencache.FetchReason]prometheus.Counter
	requests map[string]prometheus.Counter // by provider.Attempt.Outcome
	duration prometheus.Observer
}

// newMetrics builds the registry. entries lists the token cache and now is
// the clock; both are used at scrape time only.
func newMetrics(entries func() []tokencache.EntryInfo, now func() time.Time) *metrics {
	cp := []string{labelConfig, labelProvider}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		vendorRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricVendorRequests,
			Help: "HTTP requests to the vendor's token endpoint (each retry counts), by outcome: 2xx, 3xx, 4xx, 5xx, throttled (429), timeout, network_error.",
		}, append(cp, "outcome")),
		vendorDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    metricVendorDuration,
			Help:    "Duration of one HTTP request to the vendor's token endpoint, body included.",
			Buckets: vendorDurationBuckets,
		}, cp),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricTokenFetches,
			Help: "Token fetches by the cache (each may take several HTTP requests), by reason: miss (no token qualified for a reader), refresh_ahead (background refresh of a token in use), after_purge (the first fetch after a purge or config write dropped the token).",
		}, append(cp, "reason")),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricCredsReads,
			Help: "Reads of creds/<role> that reached the token cache, by result: hit, fetched, stale (served a cached token through a vendor failure), failed.",
		}, append(cp, "result")),
		rotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricRotations,
			Help: "Rotations of a config's client secret, by outcome: success, failure.",
		}, append(cp, "outcome")),
		rotationLast: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: metricRotationSuccess,
			Help: "When a config's client secret was last rotated successfully (Unix seconds).",
		}, cp),
		configs: make(map[string]*configMetrics),
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        metricBuildInfo,
		Help:        "Always 1; the labels name the plugin's version and the Go version it was built with.",
		ConstLabels: prometheus.Labels{"version": Version, "go_version": runtime.Version()},
	})
	buildInfo.Set(1)
	m.reg.MustRegister(m.vendorRequests, m.vendorDuration, m.fetches, m.reads, m.rotations, m.rotationLast,
		buildInfo, &cacheCollector{m: m, entries: entries, now: now})
	return m
}

// forConfig returns config name's series, creating them (at zero, so that
// rates and alerts have a series from the start) on first use. A config's
// provider never changes; a config deleted and created again with another
// provider starts new series.
func (m *metrics) forConfig(name, providerName string) *configMetrics {
	m.mu.RLock()
	cm := m.configs[name]
	m.mu.RUnlock()
	if cm != nil && cm.provider == providerName {
		return cm
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if cm := m.configs[name]; cm != nil {
		if cm.provider == providerName {
			return cm
		}
		m.dropLocked(name)
	}
	cp := []string{name, providerName}
	with := func(v *prometheus.CounterVec, label string) prometheus.Counter {
		return v.WithLabelValues(append(cp, label)...)
	}
	m.created++
	cm = &configMetrics{
		provider:    providerName,
		seq:         m.created,
		readHit:     with(m.reads, readHit),
		readFetched: with(m.reads, readFetched),
		readStale:   with(m.reads, readStale),
		readFailed:  with(m.reads, readFailed),
		fetches:     make(map[tokencache.FetchReason]prometheus.Counter, len(tokencache.FetchReasons)),
		requests:    make(map[string]prometheus.Counter, len(provider.Outcomes)),
		duration:    m.vendorDuration.WithLabelValues(cp...),
	}
	for _, r := range tokencache.FetchReasons {
		cm.fetches[r] = with(m.fetches, r.String())
	}
	for _, o := range provider.Outcomes {
		cm.requests[o] = with(m.vendorRequests, o)
	}
	// Rotation counters start at zero too, so that the first failure is
	// an increase; the time of the last success appears with it.
	with(m.rotations, rotationSuccess)
	with(m.rotations, rotationFailure)
	m.configs[name] = cm
	return cm
}

// lookup returns config name's series, or nil when it has none.
func (m *metrics) lookup(name string) *configMetrics {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.configs[name]
}

// generation returns a mark to pass to keepConfigs.
func (m *metrics) generation() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.created
}

// keepConfigs drops the series of every config not in names (deleted
// configs), so they do not linger, except those made after gen (written
// since names was listed). It returns the names that have no series yet.
func (m *metrics) keepConfigs(names []string, gen uint64) (missing []string) {
	keep := make(map[string]bool, len(names))
	for _, n := range names {
		keep[n] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, cm := range m.configs {
		if !keep[name] && cm.seq <= gen {
			m.dropLocked(name)
		}
	}
	for _, n := range names {
		if m.configs[n] == nil {
			missing = append(missing, n)
		}
	}
	return missing
}

// dropLocked deletes config name's series. Called with m.mu held.
func (m *metrics) dropLocked(name string) {
	delete(m.configs, name)
	l := prometheus.Labels{labelConfig: name}
	for _, v := range []*prometheus.MetricVec{
		m.vendorRequests.MetricVec, m.vendorDuration.MetricVec, m.fetches.MetricVec,
		m.reads.MetricVec, m.rotations.MetricVec, m.rotationLast.MetricVec,
	} {
		v.DeletePartialMatch(l)
	}
}

// onFetch counts a token fetch of the cache (tokencache.Options.OnFetch).
func (m *metrics) onFetch(config string, reason tokencache.FetchReason) {
	if cm := m.lookup(config); cm != nil {
		if c := cm.fetches[reason]; c != nil {
			c.Inc()
		}
	}
}

// observeRotation records one rotation of config's client secret: outcome
// is rotationSuccess or rotationFailure, at when it ended. A success also
// sets the time of the last success.
func (m *metrics) observeRotation(config, providerName, outcome string, at time.Time) {
	m.rotations.WithLabelValues(config, providerName, outcome).Inc()
	if outcome == rotationSuccess {
		m.rotationLast.WithLabelValues(config, providerName).Set(float64(at.UnixNano()) / 1e9)
	}
}

// observeRead counts one creds read by what the token cache answered.
func (cm *configMetrics) observeRead(src tokencache.Source, err error) {
	switch {
	case err != nil:
		cm.readFailed.Inc()
	case src == tokencache.Hit:
		cm.readHit.Inc()
	case src == tokencache.Stale:
		cm.readStale.Inc()
	default:
		cm.readFetched.Inc()
	}
}

// observeAttempt records one vendor HTTP attempt
// (provider.ClientOptions.Observe).
func (cm *configMetrics) observeAttempt(a provider.Attempt) {
	cm.requests[a.Outcome()].Inc()
	cm.duration.Observe(a.Duration.Seconds())
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

// cacheCollector reports, at scrape time, what the token cache holds: the
// life left on each cached token and whether a config is in a
// credential-failure cooldown.
type cacheCollector struct {
	m       *metrics
	entries func() []tokencache.EntryInfo
	now     func() time.Time
}

var (
	descTokenSecsLeft = prometheus.NewDesc(metricTokenSecsLeft,
		"Seconds of life left on each cached token, by config and scope (the TSG for paloalto_scm).",
		[]string{labelConfig, labelProvider, "scope"}, nil)
	descCooldownActive = prometheus.NewDesc(metricCooldownActive,
		"1 while reads of the config fail fast after the vendor rejected its credentials (auth_failure_cooldown), else 0.",
		[]string{labelConfig, labelProvider}, nil)
)

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descTokenSecsLeft
	ch <- descCooldownActive
}

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	c.m.mu.RLock()
	providers := make(map[string]string, len(c.m.configs))
	for name, cm := range c.m.configs {
		providers[name] = cm.provider
	}
	c.m.mu.RUnlock()

	cooldown := make(map[string]float64, len(providers))
	for name := range providers {
		cooldown[name] = 0
	}
	// Two entries of one config and scope (a config written while a fetch
	// of its old version is in flight) report the shorter life.
	type token struct{ config, scope string }
	left := map[token]float64{}
	for _, e := range c.entries() {
		if _, known := providers[e.Config]; !known {
			continue
		}
		if !e.FailFastUntil.IsZero() {
			cooldown[e.Config] = 1
		}
		if e.ExpiresAt.IsZero() {
			continue
		}
		k := token{e.Config, e.Scope}
		s := max(e.ExpiresAt.Sub(now).Seconds(), 0)
		if old, ok := left[k]; !ok || s < old {
			left[k] = s
		}
	}
	for k, s := range left {
		ch <- prometheus.MustNewConstMetric(descTokenSecsLeft, prometheus.GaugeValue, s, k.config, providers[k.config], k.scope)
	}
	for name, v := range cooldown {
		ch <- prometheus.MustNewConstMetric(descCooldownActive, prometheus.GaugeValue, v, name, providers[name])
	}
}
