package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/backend/tokencache"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/metricstest"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testkit"
)

// readSCM writes config "scm" and role "wf" on it (writeSCM), and reads a
// token.
func (e *testEnv) readSCM() {
	e.t.Helper()
	e.writeSCM()
	e.mustOK(logical.ReadOperation, "creds/wf", nil)
}

// scrape reads metrics as Vault would serve it and parses the body with
// the Prometheus text parser. It checks the raw-response fields Vault needs
// to pass the body through.
func (e *testEnv) scrape() (metricstest.Exposition, string) {
	e.t.Helper()
	resp := e.mustOK(logical.ReadOperation, "metrics", nil)
	if resp.Secret != nil || resp.Auth != nil {
		e.t.Fatal("the metrics response carries a secret or auth; Vault refuses raw responses with those")
	}
	if got := resp.Data[logical.HTTPStatusCode]; got != http.StatusOK {
		e.t.Fatalf("status %v, want 200", got)
	}
	ct, _ := resp.Data[logical.HTTPContentType].(string)
	if format := expfmt.ResponseFormat(http.Header{"Content-Type": {ct}}); format.FormatType() != expfmt.TypeTextPlain {
		e.t.Fatalf("content type %q is not the Prometheus text format", ct)
	}
	body, ok := resp.Data[logical.HTTPRawBody].([]byte)
	if !ok {
		e.t.Fatalf("raw body is %T, want []byte", resp.Data[logical.HTTPRawBody])
	}
	return metricstest.Parse(e.t, body), string(body)
}

// value is a sample's value; a missing sample fails the test.
func value(t *testing.T, x metricstest.Exposition, name string, labels ...string) float64 {
	t.Helper()
	v, ok := x.Value(name, labels...)
	if !ok {
		t.Fatalf("no sample %s%q in the exposition", name, labels)
	}
	return v
}

// absent, as a wanted value, is a sample that must not be exposed (an
// outcome that has not happened yet, see alwaysOutcomes).
const absent = -1

// sample names one sample of a series: the metric, and a label and value
// besides the one that names the config or the provider.
type sample struct{ name, label, value string }

// expectValues checks several samples of one config (by="config") or one
// provider (by="provider") at once.
func expectValues(t *testing.T, x metricstest.Exposition, step, by, who string, want map[sample]float64) {
	t.Helper()
	for _, k := range slices.SortedFunc(maps.Keys(want), func(a, b sample) int { return strings.Compare(a.name+a.value, b.name+b.value) }) {
		got, ok := x.Value(k.name, by, who, k.label, k.value)
		switch {
		case want[k] == absent && ok:
			t.Errorf("%s: %s{%s=%q,%s=%q} = %v, want no such sample", step, k.name, by, who, k.label, k.value, got)
		case want[k] != absent && !ok:
			t.Errorf("%s: no sample %s{%s=%q,%s=%q}", step, k.name, by, who, k.label, k.value)
		case ok && got != want[k]:
			t.Errorf("%s: %s{%s=%q,%s=%q} = %v, want %v", step, k.name, by, who, k.label, k.value, got, want[k])
		}
	}
}

func setFaults(t *testing.T, v *fakevendor.TestServer, f fakevendor.Faults) {
	t.Helper()
	if err := v.SetFaults(f); err != nil {
		t.Fatal(err)
	}
}

// TestMetricsFollowReadsFetchesAndVendorFaults drives the engine against
// the fake vendor, faults included, and checks every counter after each
// step on the parsed exposition.
func TestMetricsFollowReadsFetchesAndVendorFaults(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	// No background refresh: every fetch here is a reader's, so the
	// counts are exact.
	e.b.stopRefresh()
	<-e.b.refreshDone
	in := e.demoConfig("paloalto_scm")
	in["request_timeout"] = "2s"
	e.mustOK(logical.UpdateOperation, "config/scm", in) // verify_connection: one vendor request
	e.mustOK(logical.UpdateOperation, "roles/role-alpha", map[string]any{"config": "scm"})
	// A role that wants 9 s left of 10-second tokens (set below): a token
	// qualifies for its first second only, and then, through a vendor
	// failure, is served stale.
	e.mustOK(logical.UpdateOperation, "roles/role-strict", map[string]any{"config": "scm", "min_ttl": "9s"})

	const (
		reqs    = "palo_vendor_requests_total"
		fetches = "palo_token_fetches_total"
		reads   = "palo_creds_reads_total"
	)
	x, _ := e.scrape()
	expectValues(t, x, "after the config write", "config", "scm", map[sample]float64{
		{reqs, "outcome", "2xx"}: 1, {reqs, "outcome", "4xx"}: 0, {reqs, "outcome", "5xx"}: absent,
		{reads, "result", "hit"}: 0, {reads, "result", "failed"}: 0,
	})
	expectValues(t, x, "after the config write", "provider", "paloalto_scm", map[sample]float64{
		{fetches, "reason", "miss"}: 0, {fetches, "reason", "after_purge"}: 0,
	})
	expectValues(t, x, "after the config write", "config", "scm", map[sample]float64{
		{"palo_config_info", "provider", "paloalto_scm"}: 1,
	})
	if got := value(t, x, "palo_credential_cooldown_active", "config", "scm"); got != 0 {
		t.Errorf("cooldown active = %v before any failure", got)
	}
	if got := value(t, x, "palo_build_info", "version", Version); got != 1 {
		t.Errorf("palo_build_info = %v", got)
	}

	e.mustOK(logical.ReadOperation, "creds/role-alpha", nil)
	e.mustOK(logical.ReadOperation, "creds/role-alpha", nil)
	x, _ = e.scrape()
	expectValues(t, x, "a miss and a hit", "config", "scm", map[sample]float64{
		{reqs, "outcome", "2xx"}:     2,
		{reads, "result", "fetched"}: 1, {reads, "result", "hit"}: 1,
	})
	expectValues(t, x, "a miss and a hit", "provider", "paloalto_scm", map[sample]float64{{fetches, "reason", "miss"}: 1})
	left := value(t, x, "palo_token_seconds_left", "config", "scm", "scope", "tsg_id:"+in["tsg_id"].(string))
	if left <= 0 || left > time.Hour.Seconds() {
		t.Errorf("palo_token_seconds_left = %v", left)
	}

	// A purge, then a 503 that the retry gets past.
	e.mustOK(logical.UpdateOperation, "cache/purge", nil)
	setFaults(t, e.vendor, fakevendor.Faults{FailNext: 1})
	e.mustOK(logical.ReadOperation, "creds/role-alpha", nil)
	// A 429 and a connection reset, retried too.
	e.mustOK(logical.UpdateOperation, "cache/purge", nil)
	setFaults(t, e.vendor, fakevendor.Faults{RateLimitNext: 1, ResetNext: 1})
	e.mustOK(logical.ReadOperation, "creds/role-alpha", nil)
	x, _ = e.scrape()
	expectValues(t, x, "faults that retries get past", "config", "scm", map[sample]float64{
		{reqs, "outcome", "2xx"}: 4, {reqs, "outcome", "5xx"}: 1,
		{reqs, "outcome", "throttled"}: 1, {reqs, "outcome", "network_error"}: 1, {reqs, "outcome", "timeout"}: absent,
		{reads, "result", "fetched"}: 3, {reads, "result", "failed"}: 0,
	})
	expectValues(t, x, "faults that retries get past", "provider", "paloalto_scm", map[sample]float64{
		{fetches, "reason", "after_purge"}: 2, {fetches, "reason", "miss"}: 1,
	})

	// A 10-second token for the strict role; once it no longer qualifies
	// (the cache runs on the real clock, so this waits about a second), an
	// outage whose Retry-After does not fit in the timeout: one 503, and
	// the cached token served stale.
	if err := e.vendor.SetLifetime("paloalto_scm", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	e.mustOK(logical.UpdateOperation, "cache/purge", nil)
	e.mustOK(logical.ReadOperation, "creds/role-strict", nil)
	entries := e.b.cache.Entries()
	if len(entries) != 1 {
		t.Fatalf("%d cache entries, want 1", len(entries))
	}
	time.Sleep(time.Until(entries[0].ExpiresAt.Add(-9*time.Second)) + 100*time.Millisecond)
	setFaults(t, e.vendor, fakevendor.Faults{Outage: fakevendor.OutageError, RetryAfter: time.Minute})
	if resp := e.mustOK(logical.ReadOperation, "creds/role-strict", nil); len(resp.Warnings) == 0 {
		t.Fatal("a stale token was served without a warning")
	}
	// A vendor slower than request_timeout: a timeout, and a failed read
	// once the purge has dropped the cached token.
	e.mustOK(logical.UpdateOperation, "cache/purge", nil)
	setFaults(t, e.vendor, fakevendor.Faults{Delay: 5 * time.Second})
	if _, err := e.do(logical.ReadOperation, "creds/role-alpha", nil); err == nil {
		t.Fatal("a read through a vendor slower than request_timeout succeeded")
	}
	setFaults(t, e.vendor, fakevendor.Faults{})
	x, _ = e.scrape()
	expectValues(t, x, "an outage and a timeout", "config", "scm", map[sample]float64{
		{reqs, "outcome", "5xx"}: 2, {reqs, "outcome", "timeout"}: 1, {reqs, "outcome", "2xx"}: 5,
		{reads, "result", "stale"}: 1, {reads, "result", "failed"}: 1, {reads, "result", "fetched"}: 4,
	})
	expectValues(t, x, "an outage and a timeout", "provider", "paloalto_scm", map[sample]float64{
		{fetches, "reason", "miss"}: 2, {fetches, "reason", "after_purge"}: 4,
	})
	var attempts float64
	for _, o := range provider.Outcomes {
		v, _ := x.Value(reqs, "config", "scm", "outcome", o)
		attempts += v
	}
	if got := value(t, x, "palo_vendor_request_duration_seconds", "provider", "paloalto_scm", "endpoint", "token"); got != attempts {
		t.Errorf("the latency histogram counts %v requests, the outcomes %v", got, attempts)
	}
	// The cache's view counts the same events: its entries and the
	// config's dropped ones add up to the metrics.
	if n := e.b.cache.Counts()["scm"]; float64(n.HTTPRequests()) != attempts {
		t.Errorf("the cache counts %d HTTP requests of config scm, the metrics %v", n.HTTPRequests(), attempts)
	}
}

func TestMetricsCredentialCooldownAndDeletedConfigs(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.rejectedConfig("bp", "role-bp")
	e.rejectedReads("role-bp", 3)
	x, _ := e.scrape()
	expectValues(t, x, "a credential failure replayed", "config", "bp", map[sample]float64{
		{"palo_vendor_requests_total", "outcome", "4xx"}:   1,
		{"palo_creds_reads_total", "result", "failed"}:     3,
		{"palo_config_info", "provider", "bright_pattern"}: 1,
	})
	if got := value(t, x, "palo_credential_cooldown_active", "config", "bp"); got != 1 {
		t.Errorf("cooldown active = %v during a credential-failure cooldown", got)
	}

	// A config written since the mount started is reported before any
	// read; a deleted one is no longer reported, and its counts are
	// forgotten.
	e.mustOK(logical.UpdateOperation, "config/bp", map[string]any{"client_secret": e.demoConfig("bright_pattern")["client_secret"]})
	e.mustOK(logical.DeleteOperation, "roles/role-bp", nil)
	e.mustOK(logical.DeleteOperation, "config/bp", nil)
	x, _ = e.scrape()
	for name, f := range x {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "config" && l.GetValue() == "bp" {
					t.Errorf("%s still reports the deleted config", name)
				}
			}
		}
	}
	if _, ok := e.b.cache.Counts()["bp"]; ok {
		t.Error("the token cache still counts for the deleted config")
	}
	if x.Find("palo_token_fetches_total", "provider", "bright_pattern") != nil {
		t.Error("a provider without configs is reported")
	}
}

// TestMetricsArePerMount: two mounts of the plugin report separately, and
// a new instance on the same storage (a remount, a reload) starts from zero
// with the stored configs' series.
func TestMetricsArePerMount(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.readSCM()

	other := newTestEnv(t)
	other.mustOK(logical.UpdateOperation, "config/o", other.demoConfig("oauth2"))
	ox, _ := other.scrape()
	if ox.Find("palo_creds_reads_total", "config", "scm") != nil {
		t.Error("a second mount reports the first mount's config")
	}

	b2, _ := newTestBackend(t, nil)
	again := &testEnv{t: t, b: b2, storage: e.storage, vendor: e.vendor, logs: &testkit.SyncBuffer{}}
	x, _ := again.scrape()
	expectValues(t, x, "a new instance", "config", "scm", map[sample]float64{
		{"palo_creds_reads_total", "result", "fetched"}:  0,
		{"palo_vendor_requests_total", "outcome", "2xx"}: 0,
		{"palo_config_info", "provider", "paloalto_scm"}: 1,
	})
	if x.Find("palo_token_seconds_left") != nil {
		t.Error("a new instance reports a cached token")
	}
}

// TestMetricsRotation: rotations of a paloalto_scm secret through the fake
// IAM API are counted by outcome, a success sets the time of the last one,
// and the IAM requests are counted apart from the token requests.
func TestMetricsRotation(t *testing.T) {
	t.Parallel()
	e := rotationEnv(t, nil)
	const (
		rotations = "palo_rotations_total"
		iam       = "palo_vendor_iam_requests_total"
	)
	x, _ := e.scrape()
	expectValues(t, x, "before any rotation", "config", "scm", map[sample]float64{
		{rotations, "outcome", "success"}: 0, {rotations, "outcome", "failure"}: 0,
		{iam, "outcome", "2xx"}: 0, {iam, "outcome", "4xx"}: 0,
	})
	if x.Find("palo_rotation_last_success_timestamp_seconds") != nil {
		t.Error("a time of the last successful rotation before any")
	}
	tokenRequests := value(t, x, "palo_vendor_requests_total", "config", "scm", "outcome", "2xx")

	// A refused reset: the account list (200), the reset (403).
	e.setIAMFaults(fakevendor.IAMFaults{RefuseReset: true})
	if _, err := e.do(logical.UpdateOperation, "config/scm/rotate-root", nil); err == nil {
		t.Fatal("a rotation the IAM API refused succeeded")
	}
	// A good one: the list and the reset (201).
	e.setIAMFaults(fakevendor.IAMFaults{})
	before := time.Now()
	e.mustOK(logical.UpdateOperation, "config/scm/rotate-root", nil)
	x, _ = e.scrape()
	expectValues(t, x, "after a failed and a good rotation", "config", "scm", map[sample]float64{
		{rotations, "outcome", "success"}: 1, {rotations, "outcome", "failure"}: 1,
		{iam, "outcome", "2xx"}: 3, {iam, "outcome", "4xx"}: 1,
	})
	at := value(t, x, "palo_rotation_last_success_timestamp_seconds", "config", "scm")
	if at < float64(before.Unix()) || at > float64(time.Now().Unix()+1) {
		t.Errorf("last success at %v, want between %d and now", at, before.Unix())
	}
	if got := value(t, x, "palo_vendor_request_duration_seconds", "provider", "paloalto_scm", "endpoint", "iam"); got != 4 {
		t.Errorf("the IAM latency histogram counts %v requests, want 4", got)
	}
	// Each rotation fetched a bearer token, and the good one verified the
	// new secret: token endpoint requests, not IAM ones.
	if got := value(t, x, "palo_vendor_requests_total", "config", "scm", "outcome", "2xx") - tokenRequests; got < 3 {
		t.Errorf("the rotations made %v token requests, want at least 3", got)
	}
}

// TestMetricsLabelsNameNoRoleAndNoSecret: series are per config or per
// provider, never per role, and no label or value holds a token or a
// secret.
func TestMetricsLabelsNameNoRoleAndNoSecret(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	var tokens []string
	for _, p := range allProviders {
		name := strings.ReplaceAll(p, "_", "-")
		e.mustOK(logical.UpdateOperation, "config/"+name, e.demoConfig(p))
		for _, r := range []string{"role-one-", "role-two-"} {
			e.mustOK(logical.UpdateOperation, "roles/"+r+name, map[string]any{"config": name})
			resp := e.mustOK(logical.ReadOperation, "creds/"+r+name, nil)
			tokens = append(tokens, resp.Data["access_token"].(string))
		}
	}
	x, text := e.scrape()
	allowed := []string{"config", "provider", "outcome", "reason", "result", "scope", "endpoint", "le", "version", "go_version"}
	for name, f := range x {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if !slices.Contains(allowed, l.GetName()) {
					t.Errorf("%s has a label %q", name, l.GetName())
				}
			}
		}
	}
	if strings.Contains(text, "role-") {
		t.Error("the exposition names a role")
	}
	for _, s := range append(tokens, demoSecrets()...) {
		if strings.Contains(text, s) {
			t.Errorf("the exposition holds a token or secret (%s...)", s[:6])
		}
	}
	if got := len(x["palo_creds_reads_total"].GetMetric()); got != 4*len(allProviders) {
		t.Errorf("%d read series for %d configs of two roles each; want 4 per config", got, len(allProviders))
	}
	if got := len(x["palo_config_info"].GetMetric()); got != len(allProviders) {
		t.Errorf("%d info series for %d configs", got, len(allProviders))
	}
}

// metricNameRe finds metric names in the monitoring documents, and
// jsonBlockRe the JSON blocks (the dashboard) of docs/monitoring.md.
var (
	metricNameRe = regexp.MustCompile(`\bpalo_[a-z0-9_]+`)
	jsonBlockRe  = regexp.MustCompile("(?s)```json\n(.*?)```")
)

// monitoringDocs are the documents in docs/ that name metrics: the text
// and the dashboard, the alert rules, and the rules' tests.
var monitoringDocs = []string{"monitoring.md", "monitoring/alerts.yml", "monitoring/alerts_test.yml"}

// TestMonitoringDocNamesOnlyExposedMetrics: every metric that the text,
// the dashboard, the alert rules and their tests name is exposed, and
// every exposed metric is described in docs/monitoring.md.
func TestMonitoringDocNamesOnlyExposedMetrics(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.readSCM()
	e.b.metrics.observeRotation("scm", "paloalto_scm", rotationSuccess, time.Now())
	x, _ := e.scrape()

	docs := map[string][]byte{}
	for _, path := range monitoringDocs {
		doc, err := fs.ReadFile(os.DirFS("../docs"), path)
		if err != nil {
			t.Fatal(err)
		}
		docs[path] = doc
		named := map[string]bool{}
		for _, n := range metricNameRe.FindAllString(string(doc), -1) {
			if named[n] {
				continue
			}
			named[n] = true
			base := n
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				base = strings.TrimSuffix(base, suffix)
			}
			if f := x[base]; x[n] == nil && (f == nil || f.GetType() != dto.MetricType_HISTOGRAM) {
				t.Errorf("docs/%s names %s, which the plugin does not expose", path, n)
			}
		}
		if len(named) < 5 {
			t.Errorf("found only %d metric names in docs/%s", len(named), path)
		}
	}
	text := docs[monitoringDocs[0]]
	if !strings.Contains(string(text), "(monitoring/alerts.yml)") {
		t.Error("docs/monitoring.md does not point to the alert rules, monitoring/alerts.yml")
	}
	blocks := jsonBlockRe.FindAllSubmatch(text, -1)
	if len(blocks) == 0 {
		t.Error("docs/monitoring.md has no dashboard JSON")
	}
	for _, b := range blocks {
		var dashboard struct{ Panels []json.RawMessage }
		if err := json.Unmarshal(b[1], &dashboard); err != nil || len(dashboard.Panels) == 0 {
			t.Errorf("the dashboard JSON in docs/monitoring.md is not a dashboard: %v", err)
		}
	}
	for n := range x {
		if !strings.Contains(string(text), "`"+n+"`") {
			t.Errorf("%s is exposed but docs/monitoring.md does not describe it", n)
		}
	}
}

// TestKeepConfigsSparesConfigsMadeAfterTheListing: a scrape lists the
// stored configs, then forgets the configs not listed, and their counts in
// the token cache; a config written and read between the two is kept.
func TestKeepConfigsSparesConfigsMadeAfterTheListing(t *testing.T) {
	t.Parallel()
	cache := tokencache.New(tokencache.Options{})
	m := newMetrics(cache, time.Now)
	// read counts a read of config in the cache, and drops the entry: the
	// count stays with the config.
	read := func(config string) {
		t.Helper()
		l := &tokencache.Login{
			Key: tokencache.Key(config), Config: config, Timeout: time.Minute,
			Fetch: func(context.Context) (provider.Token, error) {
				return provider.Token{AccessToken: "t", ExpiresAt: time.Now().Add(time.Hour)}, nil
			},
		}
		if _, err := cache.Get(context.Background(), l, "r", 0); err != nil {
			t.Fatal(err)
		}
		cache.PurgeConfig(config)
	}
	m.noteConfig("deleted", &configEntry{Provider: provider.OAuth2})
	read("deleted")
	gen := m.generation()
	m.noteConfig("written-since", &configEntry{Provider: provider.OAuth2})
	read("written-since")
	missing := m.keepConfigs([]string{"stored"}, gen)
	if !slices.Equal(missing, []string{"stored"}) {
		t.Errorf("missing = %q, want [stored]", missing)
	}
	if m.known("deleted") || !m.known("written-since") {
		t.Errorf("after keepConfigs: deleted known %v, written-since known %v", m.known("deleted"), m.known("written-since"))
	}
	counts := cache.Counts()
	if _, ok := counts["deleted"]; ok {
		t.Error("the token cache still counts for the forgotten config")
	}
	if counts["written-since"].Reads(tokencache.Fetched) != 1 {
		t.Errorf("the counts of the config written since the listing are gone: %v", counts["written-since"])
	}
}

// newScaleEnv is a backend with n oauth2 configs of the fake vendor, one
// role each, every role read once: one cached token per config, as a large
// mount looks after its first reads.
func newScaleEnv(tb testing.TB, n int) *benchEnv {
	tb.Helper()
	e := newEmptyBenchEnv(tb)
	e.addScaleConfigs(tb, 0, n)
	return e
}

// addScaleConfigs writes configs config-<from> to config-<to-1>, their
// roles role-<i>, and reads each role once.
func (e *benchEnv) addScaleConfigs(tb testing.TB, from, to int) {
	tb.Helper()
	acct := demoAccount(provider.OAuth2)
	ctx := context.Background()
	for i := from; i < to; i++ {
		name := fmt.Sprintf("config-%04d", i)
		e.write(tb, "config/"+name, map[string]any{
			"provider": provider.OAuth2, "token_url": e.vendor.TokenURL(provider.OAuth2), "ca_cert": string(e.vendor.CACertPEM()),
			"client_id": acct.ClientID, "client_secret": acct.ClientSecret, "scope": "read",
		})
		role := fmt.Sprintf("role-%04d", i)
		e.write(tb, "roles/"+role, map[string]any{"config": name})
		if resp, err := e.read(role)(ctx); err != nil || resp.IsError() {
			tb.Fatalf("read creds/%s: %v %v", role, err, resp.Error())
		}
	}
}

// seriesIn counts the samples of an exposition.
func seriesIn(body []byte) int {
	n := 0
	for line := range strings.Lines(string(body)) {
		if !strings.HasPrefix(line, "#") {
			n++
		}
	}
	return n
}

// TestMetricsCostPerConfig: each config with one cached token adds nine
// series (docs/monitoring.md: info, 2xx and 4xx requests, four read
// results, cooldown, the token's life) and well under the 750 bytes that
// keep a scrape of 2,000 configs under 1.5 MB; the per-provider series do
// not grow with the configs.
func TestMetricsCostPerConfig(t *testing.T) {
	t.Parallel()
	const (
		seriesPerConfig = 9
		bytesPerConfig  = 1_500_000 / 2000
		added           = 10
	)
	e := newScaleEnv(t, 2)
	before := e.scrapeBody(t)
	e.addScaleConfigs(t, 2, 2+added)
	after := e.scrapeBody(t)
	metricstest.Parse(t, after)
	if got := (seriesIn(after) - seriesIn(before)) / added; got != seriesPerConfig {
		t.Errorf("each config adds %d series, want %d:\n%s", got, seriesPerConfig, after)
	}
	if got := (len(after) - len(before)) / added; got > bytesPerConfig {
		t.Errorf("each config adds %d bytes, want at most %d", got, bytesPerConfig)
	} else {
		t.Logf("each config adds %d series and %d bytes", seriesPerConfig, got)
	}
}

// scrapeBody is one GET of metrics through the framework: the storage
// listing, the series of configs not read yet, and the rendering.
func (e *benchEnv) scrapeBody(tb testing.TB) []byte {
	tb.Helper()
	resp, err := e.b.HandleRequest(context.Background(), &logical.Request{
		Operation: logical.ReadOperation, Path: "metrics", Storage: e.storage, MountPoint: "palo/",
	})
	if err != nil || resp.IsError() {
		tb.Fatalf("read metrics: %v %v", err, resp.Error())
	}
	return resp.Data[logical.HTTPRawBody].([]byte)
}

// scaleConfigs is how many configs BenchmarkMetricsScrapeAtScale makes:
// PALO_SCALE_CONFIGS, default 2,000.
func scaleConfigs(tb testing.TB) int {
	tb.Helper()
	s := os.Getenv("PALO_SCALE_CONFIGS")
	if s == "" {
		return 2000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		tb.Fatalf("PALO_SCALE_CONFIGS=%q: want a positive number", s)
	}
	return n
}

// BenchmarkMetricsScrapeAtScale is one scrape of a mount with 2,000 configs
// (PALO_SCALE_CONFIGS), one cached token each: ns/op is the time to answer
// it inside the plugin, and ms-fastest that of the fastest scrape (the
// least disturbed by other work on the machine); bytes is the size of the
// exposition.
func BenchmarkMetricsScrapeAtScale(b *testing.B) {
	n := scaleConfigs(b)
	e := newScaleEnv(b, n)
	var body []byte
	fastest := time.Duration(math.MaxInt64)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		body = e.scrapeBody(b)
		fastest = min(fastest, time.Since(start))
	}
	metricstest.Parse(b, body)
	b.ReportMetric(float64(fastest)/float64(time.Millisecond), "ms-fastest")
	b.ReportMetric(float64(len(body)), "bytes")
	b.ReportMetric(float64(len(body))/float64(n), "bytes/config")
	b.ReportMetric(float64(seriesIn(body))/float64(n), "series/config")
}
