//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/metricstest"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// metricsPolicy is the policy docs/monitoring.md gives a Prometheus token.
const metricsPolicy = `
path "palo/metrics" {
  capabilities = ["read"]
}
path "auth/token/renew-self" {
  capabilities = ["update"]
}
`

// scrapeMetrics does what Prometheus does: GET /v1/<path> with the token
// as a bearer token. It returns the status, the Content-Type and the body.
func scrapeMetrics(t *testing.T, v *vaulttest.Server, token, path string) (int, string, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.Addr+"/v1/"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1")
	status, header, body := roundTrip(t, req)
	return status, header.Get("Content-Type"), body
}

// TestMetricsThroughVault scrapes the engine's metrics through a real
// Vault, as Prometheus would, with a periodic token that holds only the
// documented metrics policy: Vault passes the plugin's raw body through
// with its content type, the body parses, and the counts follow reads and
// vendor faults. A token without the policy gets a 403; a second mount
// reports separately; a reload starts from zero.
func TestMetricsThroughVault(t *testing.T) {
	t.Parallel()
	p := vaulttest.NewPalo(t, vaulttest.PaloOptions{})
	v := p.Vault
	scm := p.Setup(t, fakevendor.ProviderSCM)

	if r := v.CLIWith(t, vaulttest.CLIOptions{Stdin: metricsPolicy}, "policy", "write", "palo-metrics", "-"); !r.OK() {
		t.Fatal(r)
	}
	metricsToken := strings.TrimSpace(v.MustCLI(t, "token", "create", "-orphan", "-no-default-policy",
		"-policy=palo-metrics", "-period=24h", "-display-name=prometheus", "-field=token"))
	if r := v.CLIAs(t, metricsToken, "token", "renew"); !r.OK() {
		t.Fatalf("the metrics token cannot renew itself: %s", r)
	}
	otherToken := strings.TrimSpace(v.MustCLI(t, "token", "create", "-policy=default", "-field=token"))
	if status, _, _ := scrapeMetrics(t, v, otherToken, "palo/metrics"); status != http.StatusForbidden {
		t.Errorf("a token without the metrics policy: HTTP %d, want 403", status)
	}
	// The metrics token reads nothing else.
	mustFail(t, v, metricsToken, http.StatusForbidden, "read", p.Path("creds", scm.Role))
	mustFail(t, v, metricsToken, http.StatusForbidden, "read", p.Path("cache"))

	scrape := func(step string) metricstest.Exposition {
		t.Helper()
		status, ct, body := scrapeMetrics(t, v, metricsToken, "palo/metrics")
		if status != http.StatusOK {
			t.Fatalf("%s: HTTP %d: %s", step, status, body)
		}
		if f := expfmt.ResponseFormat(http.Header{"Content-Type": {ct}}); f.FormatType() != expfmt.TypeTextPlain || !strings.Contains(ct, "version=0.0.4") {
			t.Fatalf("%s: Content-Type %q, want the text format 0.0.4", step, ct)
		}
		return metricstest.Parse(t, body)
	}
	value := func(x metricstest.Exposition, name string, labels ...string) float64 {
		t.Helper()
		got, ok := x.Value(name, append([]string{"config", scm.Config}, labels...)...)
		if !ok {
			t.Fatalf("no sample %s%v for config %s", name, labels, scm.Config)
		}
		return got
	}
	// fetches is a per-provider count of token fetches.
	fetches := func(x metricstest.Exposition, reason string) float64 {
		t.Helper()
		got, ok := x.Value("palo_token_fetches_total", "provider", scm.Provider, "reason", reason)
		if !ok {
			t.Fatalf("no sample palo_token_fetches_total for provider %s and reason %s", scm.Provider, reason)
		}
		return got
	}

	before := scrape("before any read")
	if _, ok := before.Value("palo_build_info", "version", p.Bins.PaloPlugin().Version); !ok {
		t.Errorf("palo_build_info does not name version %s", p.Bins.PaloPlugin().Version)
	}
	for _, s := range p.Setups {
		if _, ok := before.Value("palo_config_info", "config", s.Config, "provider", s.Provider); !ok {
			t.Errorf("no info series names config %s of provider %s", s.Config, s.Provider)
		}
		if _, ok := before.Value("palo_vendor_requests_total", "config", s.Config, "outcome", "2xx"); !ok {
			t.Errorf("no vendor requests reported for config %s", s.Config)
		}
	}
	hits := value(before, "palo_creds_reads_total", "result", "hit")
	fetched := value(before, "palo_creds_reads_total", "result", "fetched")
	afterPurge := fetches(before, "after_purge")
	// A 5xx is reported from its first occurrence on: none yet.
	if v, ok := before.Value("palo_vendor_requests_total", "config", scm.Config, "outcome", "5xx"); ok {
		t.Fatalf("config %s reports %v 5xx requests before any", scm.Config, v)
	}

	token(t, p, "", p.Path("creds", scm.Role))
	token(t, p, "", p.Path("creds", scm.Role))
	v.MustCLI(t, "write", "-f", p.Path("cache", "purge"))
	p.Vendor.SetFaults(t, fakevendor.Faults{FailNext: 1})
	token(t, p, "", p.Path("creds", scm.Role))
	p.Vendor.SetFaults(t, fakevendor.Faults{})

	after := scrape("after reads and a 503")
	if got := value(after, "palo_creds_reads_total", "result", "fetched") - fetched; got != 2 {
		t.Errorf("fetched reads rose by %v, want 2", got)
	}
	if got := value(after, "palo_creds_reads_total", "result", "hit") - hits; got != 1 {
		t.Errorf("hits rose by %v, want 1", got)
	}
	if got := value(after, "palo_vendor_requests_total", "outcome", "5xx"); got != 1 {
		t.Errorf("5xx vendor requests = %v, want 1", got)
	}
	if got := fetches(after, "after_purge") - afterPurge; got != 1 {
		t.Errorf("fetches after a purge of provider %s rose by %v, want 1", scm.Provider, got)
	}
	if left := value(after, "palo_token_seconds_left"); left <= 0 {
		t.Errorf("palo_token_seconds_left = %v", left)
	}

	// The CLI: -format=raw prints the exposition; without it the CLI
	// wants JSON and fails, as docs/monitoring.md says.
	raw := v.CLIAs(t, metricsToken, "read", "-format=raw", "palo/metrics")
	if !raw.OK() {
		t.Fatalf("vault read -format=raw: %s", raw)
	}
	metricstest.Parse(t, []byte(raw.Stdout))
	if r := v.CLIAs(t, metricsToken, "read", "palo/metrics"); r.OK() || !strings.Contains(r.Stderr, "invalid character '#'") {
		t.Errorf("vault read without -format=raw: want the JSON error docs/monitoring.md quotes, got %s", r)
	}

	// A second mount reports only its own configs.
	v.MustCLI(t, "secrets", "enable", "-path=palo2", vaulttest.PluginName)
	_, _, body := scrapeMetrics(t, v, v.RootToken, "palo2/metrics")
	if _, ok := metricstest.Parse(t, body).Value("palo_creds_reads_total", "config", scm.Config); ok {
		t.Error("a second mount reports the first mount's config")
	}

	// A reload of the mount starts from zero.
	v.MustCLI(t, "write", "sys/plugins/reload/backend", "mounts=palo/")
	var reloaded metricstest.Exposition
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, _, body := scrapeMetrics(t, v, metricsToken, "palo/metrics")
		if status == http.StatusOK {
			reloaded = metricstest.Parse(t, body)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics after the reload: HTTP %d: %s", status, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := value(reloaded, "palo_creds_reads_total", "result", "fetched"); got != 0 {
		t.Errorf("fetched reads after a reload = %v, want 0", got)
	}
}
