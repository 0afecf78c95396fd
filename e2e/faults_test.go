//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testkit"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// The fault tests inject every failure a vendor produces (see
// fakevendor.Faults) and show, through a real Vault, what a reader of
// creds/<role> gets: a good token or a clear error, never an expired token
// and never a hang. Each test function shares one Vault among its cases;
// every case has a mount and a fake vendor of its own, since a fake
// vendor's faults apply to all its requests.

// faultReadBound bounds one read of creds. Every fault below resolves in a
// few seconds (the longest request_timeout used is 10s); a read still
// unanswered after this is a hang.
const faultReadBound = 45 * time.Second

// faultSettle bounds the wait for the fake vendor to notice that a client
// gave up on a delayed request.
const faultSettle = 20 * time.Second

// faultVault is one dev Vault with the plugin registered, shared by the
// cases of one test function.
type faultVault struct {
	bins vaulttest.Binaries
	v    *vaulttest.Server
}

func startFaultVault(t *testing.T) *faultVault {
	t.Helper()
	bins := vaulttest.LoadBinaries(t)
	v := vaulttest.StartDev(t, bins.Vault, vaulttest.DevOptions{})
	v.RegisterPlugin(t, bins.PaloPlugin())
	return &faultVault{bins: bins, v: v}
}

// faultMount is one case's world: a fake vendor of its own, the engine
// mounted at a path of its own, and one config and one role for a provider.
type faultMount struct {
	t      *testing.T
	v      *vaulttest.Server
	fv     *vaulttest.FakeVendor
	client *api.Client
	mount  string
	setup  vaulttest.VendorSetup
	// moreSecrets are secrets of the case beyond the account's, such as a
	// wrong secret it wrote: they must not appear either.
	moreSecrets []string
}

// mountNameRe matches what a case name may not keep in a mount path.
var mountNameRe = regexp.MustCompile(`[^a-z0-9]+`)

// newMount starts a fake vendor with the demo accounts, mounts the engine
// at a path named after the test, and writes the standard config (the
// demo account of provider, with extra fields) and role (with roleExtra).
// The config is written with verify_connection on unless extra says
// otherwise, so it has fetched one token before the case begins.
func (fx *faultVault) newMount(t *testing.T, provider string, extra, roleExtra map[string]any) *faultMount {
	t.Helper()
	fv := vaulttest.StartFakeVendor(t, fx.bins.FakeVendor, vaulttest.FakeVendorOptions{})
	m := &faultMount{
		t:      t,
		v:      fx.v,
		fv:     fv,
		client: fx.v.Client(t),
		mount:  "f-" + strings.Trim(mountNameRe.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-"),
	}
	for _, s := range vaulttest.VendorSetups(t, fv, nil) {
		if s.Provider == provider {
			m.setup = s
		}
	}
	if m.setup.Provider == "" {
		t.Fatalf("no demo account for provider %q", provider)
	}
	if err := m.client.Sys().Mount(m.mount, &api.MountInput{Type: vaulttest.PluginName}); err != nil {
		t.Fatalf("mount %s: %v", m.mount, err)
	}
	m.writeConfig(extra)
	role := map[string]any{"config": m.setup.Config}
	for k, v := range roleExtra {
		role[k] = v
	}
	m.write("roles/"+m.setup.Role, role)
	return m
}

// writeConfig writes the standard config with extra fields on top.
func (m *faultMount) writeConfig(extra map[string]any) {
	m.t.Helper()
	data := map[string]any{"ca_cert": string(m.fv.CAPEM)}
	for k, v := range m.setup.Fields {
		data[k] = v
	}
	for k, v := range extra {
		data[k] = v
	}
	m.write("config/"+m.setup.Config, data)
}

// write writes data to a path of the mount and fails the test if Vault
// refuses.
func (m *faultMount) write(path string, data map[string]any) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), faultReadBound)
	defer cancel()
	if _, err := m.client.Logical().WriteWithContext(ctx, m.mount+"/"+path, data); err != nil {
		m.t.Fatalf("write %s/%s: %v", m.mount, path, err)
	}
}

// purge drops the mount's cached tokens, so the next read calls the vendor.
func (m *faultMount) purge() {
	m.t.Helper()
	m.write("cache/purge", nil)
}

// secrets lists what must never appear in anything the reader sees: the
// account's secrets in every form they leak in (testkit.SecretForms, the
// Basic credentials built from them included), and moreSecrets.
func (m *faultMount) secrets() []string {
	a := m.setup.Account
	return slices.Concat(testkit.SecretForms(a.ClientID, a.ClientSecret), testkit.SecretForms("", a.AccessSecret), m.moreSecrets)
}

// credsRead is what one reader got from creds/<role>.
type credsRead struct {
	secret *api.Secret
	// status is 200 for a token, else the HTTP status of Vault's error.
	status int
	// errText is Vault's error messages, joined.
	errText string
	// start and end bound the read on the local clock.
	start, end time.Time
}

// read reads creds/<role> through the API, bounded by faultReadBound.
func (m *faultMount) read() credsRead {
	m.t.Helper()
	return readCredsAPI(m.t, m.client, m.mount+"/creds/"+m.setup.Role)
}

// readCredsAPI reads a creds path through the API client, bounded by
// faultReadBound: a read without an answer by then fails the test as a
// hang.
func readCredsAPI(t *testing.T, c *api.Client, path string) credsRead {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), faultReadBound)
	defer cancel()
	r := credsRead{start: time.Now()}
	s, err := c.Logical().ReadWithContext(ctx, path)
	r.end = time.Now()
	var re *api.ResponseError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("read %s: no answer within %s (a hang): %v", path, faultReadBound, err)
	case errors.As(err, &re):
		r.status, r.errText = re.StatusCode, strings.Join(re.Errors, "; ")
	case err != nil:
		t.Fatalf("read %s: %v", path, err)
	case s == nil:
		t.Fatalf("read %s: no secret and no error", path)
	default:
		r.status, r.secret = 200, s
	}
	return r
}

// wantToken checks that the read returned a good token: minted by the
// fake vendor and valid there now, in a non-renewable lease that ends
// before the token does, with an expires_at no later than the token really
// expires. skew is the fake vendor's clock skew, by which its clock runs
// ahead of the local one. It returns the token's data and what the fake
// knows about it.
func (m *faultMount) wantToken(r credsRead, skew time.Duration) (map[string]any, fakevendor.TokenInfo) {
	m.t.Helper()
	t := m.t
	if r.status != 200 {
		t.Fatalf("want a token, got HTTP %d: %s", r.status, r.errText)
	}
	info := checkTokenRead(t, m.fv, r, skew)
	testkit.AssertNoSecret(t, "the creds response", fmt.Sprint(r.secret.Data, r.secret.Warnings), m.secrets()...)
	return r.secret.Data, info
}

// checkTokenRead checks a successful creds read against the fake vendor;
// see wantToken.
func checkTokenRead(t *testing.T, fv *vaulttest.FakeVendor, r credsRead, skew time.Duration) fakevendor.TokenInfo {
	t.Helper()
	s := r.secret
	at, _ := s.Data["access_token"].(string)
	c := fv.Check(t, at)
	if !c.Minted || !c.Valid || c.Info == nil {
		t.Fatalf("the token read is not valid at the fake vendor: %+v", c)
	}
	// The token really expires at the fake's expiry less the skew, on the
	// local clock.
	realExpiry := c.Info.ExpiresAt.Add(-skew)
	if s.Renewable || s.LeaseDuration < 1 {
		t.Fatalf("lease %d s, renewable %t: want a positive, non-renewable lease", s.LeaseDuration, s.Renewable)
	}
	if leaseEnd := r.end.Add(time.Duration(s.LeaseDuration) * time.Second); !leaseEnd.Before(realExpiry) {
		t.Fatalf("the lease (%d s) may run until %s, after the token expires at %s", s.LeaseDuration, leaseEnd, realExpiry)
	}
	raw, _ := s.Data["expires_at"].(string)
	expiresAt, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		t.Fatalf("expires_at %q: %v", raw, err)
	}
	// HTTP dates (Oracle CASB's lifetime is measured against the Date
	// header) have a resolution of one second.
	if expiresAt.After(realExpiry.Add(time.Second)) {
		t.Fatalf("expires_at %s is later than the token really expires, %s", expiresAt, realExpiry)
	}
	if !expiresAt.After(r.end) {
		t.Fatalf("expires_at %s is not after the read (%s): an expired token", expiresAt, r.end)
	}
	return *c.Info
}

// wantError checks that the read failed with Vault's 500 for a vendor
// failure, and that the message names the config and the provider, says
// each of want, and holds no secret.
func (m *faultMount) wantError(r credsRead, want ...string) {
	m.t.Helper()
	if r.status != 500 {
		m.t.Fatalf("want a vendor failure (HTTP 500), got HTTP %d: data %v, error %q", r.status, secretData(r.secret), r.errText)
	}
	want = append([]string{fmt.Sprintf("config %q", m.setup.Config), m.setup.Provider}, want...)
	for _, w := range want {
		if !strings.Contains(r.errText, w) {
			m.t.Errorf("the error does not say %q:\n%s", w, r.errText)
		}
	}
	testkit.AssertNoSecret(m.t, "the error", r.errText, m.secrets()...)
	// An error goes to the server log, the audit log and the cache
	// endpoint's last_error, none of which may hold a bearer token: a body
	// cut short in transit still carries a token the vendor has issued.
	if tok := fakeTokenRe.FindString(r.errText); tok != "" {
		m.t.Errorf("the error quotes a bearer token (%d characters of one)", len(tok))
	}
}

// fakeTokenRe matches a token the fake vendor mints, or enough of one to
// matter: its provider prefix and at least 8 of its random characters.
var fakeTokenRe = regexp.MustCompile(`fake-(?:saas|scm|casb|bp|oauth2)-[A-Z0-9]{8,}`)

func secretData(s *api.Secret) map[string]any {
	if s == nil {
		return nil
	}
	return s.Data
}

// wantRequests fails the test unless the fake vendor got want token
// requests (see requests), naming when they were counted.
func (m *faultMount) wantRequests(want int64, when string) {
	m.t.Helper()
	if n := m.requests(); n != want {
		m.t.Fatalf("%d token requests %s, want %d", n, when, want)
	}
}

// requests waits until the fake vendor has answered (or seen abandoned)
// every token request, and returns how many there were since the last
// ResetStats.
func (m *faultMount) requests() int64 {
	m.t.Helper()
	var n int64
	vaulttest.Eventually(m.t, faultSettle, 50*time.Millisecond, "the fake vendor's requests in flight", func() error {
		s := m.fv.Stats(m.t)
		if s.InFlight != 0 {
			return fmt.Errorf("%d token requests in flight", s.InFlight)
		}
		n = s.Requests
		return nil
	})
	return n
}

// TestFaultVendorFailures injects each transport and response fault into
// the first read of a freshly written config (no token cached) and checks
// what the reader gets. Transient faults that stop in time are retried
// into a good token; the others end in a clear error naming the config,
// the provider, the HTTP status and the vendor's message. The number of
// vendor requests shows the retries: at most 3, none for a response that
// retrying cannot fix, none that would not fit in request_timeout.
func TestFaultVendorFailures(t *testing.T) {
	t.Parallel()
	fx := startFaultVault(t)
	scm := fakevendor.ProviderSCM
	cases := map[string]struct {
		provider string
		config   map[string]any
		faults   fakevendor.Faults
		// requests is the number of token requests the read makes.
		requests int64
		// wantErr lists what the error says; nil means a good token.
		wantErr []string
		// minTook is the least the read must take (a Retry-After).
		minTook time.Duration
	}{
		"slow response inside request_timeout": {
			config: map[string]any{"request_timeout": "10s"},
			faults: fakevendor.Faults{Delay: 1500 * time.Millisecond}, requests: 1,
		},
		"slow response past request_timeout": {
			config: map[string]any{"request_timeout": "2s"},
			faults: fakevendor.Faults{Delay: time.Minute}, requests: 1,
			wantErr: []string{"the request timed out"},
		},
		"connection reset twice": {faults: fakevendor.Faults{ResetNext: 2}, requests: 3},
		"connection reset always": {
			faults: fakevendor.Faults{Outage: fakevendor.OutageReset}, requests: 4,
			wantErr: []string{"network error", "(after 4 attempts)"},
		},
		"503 burst of two": {faults: fakevendor.Faults{FailNext: 2}, requests: 3},
		"503 burst with Retry-After": {
			faults:   fakevendor.Faults{FailNext: 1, RetryAfter: 2 * time.Second},
			requests: 2, minTook: 2 * time.Second,
		},
		"503 outage": {
			faults: fakevendor.Faults{Outage: fakevendor.OutageError}, requests: 4,
			wantErr: []string{"HTTP 503", "temporarily_unavailable", "Service Unavailable.", "(after 4 attempts)"},
		},
		"oracle 503 outage": {
			provider: fakevendor.ProviderOracleCASB,
			faults:   fakevendor.Faults{Outage: fakevendor.OutageError}, requests: 4,
			wantErr: []string{"HTTP 503", "Service Unavailable.", "(after 4 attempts)"},
		},
		"429 without Retry-After": {faults: fakevendor.Faults{RateLimitNext: 1}, requests: 2},
		"429 with Retry-After in seconds": {
			faults:   fakevendor.Faults{RateLimitNext: 1, RetryAfter: 2 * time.Second},
			requests: 2, minTook: 2 * time.Second,
		},
		"429 with Retry-After as an HTTP date": {
			faults:   fakevendor.Faults{RateLimitNext: 1, RetryAfter: 2 * time.Second, RetryAfterHTTPDate: true},
			requests: 2, minTook: 2 * time.Second,
		},
		"429 with Retry-After past request_timeout": {
			config:   map[string]any{"request_timeout": "5s"},
			faults:   fakevendor.Faults{RateLimitNext: 5, RetryAfter: 30 * time.Second},
			requests: 1,
			wantErr:  []string{"HTTP 429", "too_many_requests", "Too many requests."},
		},
		"429 outage": {
			faults: fakevendor.Faults{Outage: fakevendor.OutageRateLimit}, requests: 4,
			wantErr: []string{"HTTP 429", "too_many_requests", "Too many requests.", "(after 4 attempts)"},
		},
		"bright_pattern 429 outage with Retry-After as an HTTP date": {
			provider: fakevendor.ProviderBrightPattern,
			config:   map[string]any{"request_timeout": "10s"},
			faults:   fakevendor.Faults{Outage: fakevendor.OutageRateLimit, RetryAfter: 2 * time.Second, RetryAfterHTTPDate: true},
			requests: 4, minTook: 6 * time.Second,
			wantErr: []string{"HTTP 429", "too_many_requests", "(after 4 attempts)"},
		},
		"HTML error page once": {faults: fakevendor.Faults{HTMLNext: 1}, requests: 2},
		"HTML error pages": {
			faults: fakevendor.Faults{Outage: fakevendor.OutageHTML}, requests: 4,
			wantErr: []string{"HTTP 502", "502 Bad Gateway", "(after 4 attempts)"},
		},
		"HTML page with status 200": {
			faults: fakevendor.Faults{HTMLNext: 1, HTMLStatus: 200}, requests: 1,
			wantErr: []string{"HTTP 200", "not a JSON object", "an HTML or XML page", "not quoted"},
		},
		"truncated body": {
			faults: fakevendor.Faults{TruncateBody: true}, requests: 1,
			wantErr: []string{"HTTP 200", "not a JSON object"},
		},
		"oracle truncated body": {
			provider: fakevendor.ProviderOracleCASB,
			faults:   fakevendor.Faults{TruncateBody: true}, requests: 1,
			wantErr: []string{"HTTP 201", "not a JSON object"},
		},
		"success without a token": {
			faults: fakevendor.Faults{OmitToken: true}, requests: 1,
			wantErr: []string{"HTTP 200", "no access_token"},
		},
		"oracle success without a token": {
			provider: fakevendor.ProviderOracleCASB,
			faults:   fakevendor.Faults{OmitToken: true}, requests: 1,
			wantErr: []string{"HTTP 201", "no accessToken"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			provider := tc.provider
			if provider == "" {
				provider = scm
			}
			m := fx.newMount(t, provider, tc.config, nil)
			m.fv.SetFaults(t, tc.faults)
			m.fv.ResetStats(t)
			r := m.read()
			if tc.wantErr == nil {
				m.wantToken(r, 0)
			} else {
				m.wantError(r, tc.wantErr...)
			}
			if took := r.end.Sub(r.start); took < tc.minTook {
				t.Errorf("the read took %s; the Retry-After asked for at least %s", took, tc.minTook)
			}
			m.wantRequests(tc.requests, "for the read")
			t.Logf("HTTP %d %s", r.status, r.errText)
		})
	}
}

// TestFaultTokenLifetimes checks odd token lifetimes, skewed vendor clocks
// and each form of expires_in. A token with no usable life (0 s, or 1 s,
// less than the lease floor) is refused with a clear error; any other is
// handed out in a lease that ends before the token really does, whatever
// the vendor's clock says; and a lifetime of 10 years is capped at a day.
func TestFaultTokenLifetimes(t *testing.T) {
	t.Parallel()
	fx := startFaultVault(t)
	const (
		tenYears = 10 * 365 * 24 * time.Hour
		clamped  = "the vendor's token lifetime is over 24h0m0s; it is treated as 24h0m0s"
	)
	cases := map[string]struct {
		provider string
		config   map[string]any
		// lifetime, when set, is the vendor's token lifetime.
		lifetime *time.Duration
		faults   fakevendor.Faults
		wantErr  []string
		// maxLease caps the lease (for lifetimes the engine clamps).
		maxLease time.Duration
		// warning is what a warning of the read must say, if any.
		warning string
	}{
		"lifetime 0": {
			provider: fakevendor.ProviderSCM, lifetime: ptr(time.Duration(0)),
			wantErr: []string{"HTTP 200", "expires_in in the response is zero or negative"},
		},
		"oracle lifetime 0": {
			provider: fakevendor.ProviderOracleCASB, lifetime: ptr(time.Duration(0)),
			wantErr: []string{"HTTP 201", "expiresAt in the response is zero or negative"},
		},
		"bright_pattern lifetime 0": {
			provider: fakevendor.ProviderBrightPattern, lifetime: ptr(time.Duration(0)),
			wantErr: []string{"HTTP 200", "expires_in in the response is zero or negative"},
		},
		"lifetime 1s": {
			provider: fakevendor.ProviderSCM, lifetime: ptr(time.Second),
			wantErr: []string{"the vendor issued a token with", "(lifetime 1s), less than the 2s needed to hand it out"},
		},
		"oracle lifetime 1s": {
			provider: fakevendor.ProviderOracleCASB, lifetime: ptr(time.Second),
			wantErr: []string{"the vendor issued a token with", "less than the 2s needed to hand it out"},
		},
		"lifetime 10 years":        {provider: fakevendor.ProviderSCM, lifetime: ptr(tenYears), maxLease: 24 * time.Hour, warning: clamped},
		"oracle lifetime 10 years": {provider: fakevendor.ProviderOracleCASB, lifetime: ptr(tenYears), maxLease: 24 * time.Hour, warning: clamped},
		"bright_pattern lifetime 10 years": {
			provider: fakevendor.ProviderBrightPattern, lifetime: ptr(tenYears), maxLease: 24 * time.Hour, warning: clamped,
		},
		"oracle vendor clock 5 minutes ahead":  {provider: fakevendor.ProviderOracleCASB, faults: fakevendor.Faults{ClockSkew: 5 * time.Minute}},
		"oracle vendor clock 5 minutes behind": {provider: fakevendor.ProviderOracleCASB, faults: fakevendor.Faults{ClockSkew: -5 * time.Minute}},
		"oracle vendor clock 50 minutes ahead": {
			// Without the Date header correction the token would seem
			// to live 110 minutes, and the lease would outlive it.
			provider: fakevendor.ProviderOracleCASB, faults: fakevendor.Faults{ClockSkew: 50 * time.Minute},
		},
		"oracle vendor clock 50 minutes behind": {
			// Without the correction the token would seem to live ten
			// minutes.
			provider: fakevendor.ProviderOracleCASB, faults: fakevendor.Faults{ClockSkew: -50 * time.Minute},
		},
		"scm vendor clock 7 minutes ahead":      {provider: fakevendor.ProviderSCM, faults: fakevendor.Faults{ClockSkew: 7 * time.Minute}},
		"scm vendor clock 7 minutes behind":     {provider: fakevendor.ProviderSCM, faults: fakevendor.Faults{ClockSkew: -7 * time.Minute}},
		"saas vendor clock 10 minutes ahead":    {provider: fakevendor.ProviderSaaSSecurity, faults: fakevendor.Faults{ClockSkew: 10 * time.Minute}},
		"scm expires_in as a string":            {provider: fakevendor.ProviderSCM, faults: fakevendor.Faults{ExpiresIn: fakevendor.ExpiresInString}},
		"saas expires_in as a string":           {provider: fakevendor.ProviderSaaSSecurity, faults: fakevendor.Faults{ExpiresIn: fakevendor.ExpiresInString}},
		"oauth2 expires_in as a string":         {provider: fakevendor.ProviderOAuth2, faults: fakevendor.Faults{ExpiresIn: fakevendor.ExpiresInString}},
		"bright_pattern expires_in as a number": {provider: fakevendor.ProviderBrightPattern, faults: fakevendor.Faults{ExpiresIn: fakevendor.ExpiresInNumber}},
		"scm expires_in missing": {
			provider: fakevendor.ProviderSCM, config: map[string]any{"default_token_ttl": "10m"},
			faults:   fakevendor.Faults{ExpiresIn: fakevendor.ExpiresInOmit},
			maxLease: 10 * time.Minute, warning: "default_token_ttl",
		},
		"oracle expiresAt missing": {
			provider: fakevendor.ProviderOracleCASB, config: map[string]any{"default_token_ttl": "10m"},
			faults:   fakevendor.Faults{ExpiresIn: fakevendor.ExpiresInOmit},
			maxLease: 10 * time.Minute, warning: "default_token_ttl",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := fx.newMount(t, tc.provider, tc.config, nil)
			if tc.lifetime != nil {
				m.fv.SetLifetimes(t, map[string]time.Duration{tc.provider: *tc.lifetime})
			}
			m.fv.SetFaults(t, tc.faults)
			m.fv.ResetStats(t)
			r := m.read()
			if tc.wantErr != nil {
				m.wantError(r, tc.wantErr...)
				t.Logf("HTTP %d %s", r.status, r.errText)
				return
			}
			data, _ := m.wantToken(r, tc.faults.ClockSkew)
			if tc.maxLease > 0 && time.Duration(r.secret.LeaseDuration)*time.Second > tc.maxLease {
				t.Errorf("lease %d s, want at most %s", r.secret.LeaseDuration, tc.maxLease)
			}
			warnings := strings.Join(r.secret.Warnings, "\n")
			if tc.warning != "" && !strings.Contains(warnings, tc.warning) {
				t.Errorf("the warnings do not mention %q: %q", tc.warning, warnings)
			}
			if tc.warning == "" && warnings != "" {
				t.Errorf("unexpected warnings: %q", warnings)
			}
			t.Logf("lease %d s, expires_at %v, expires_in %v, warnings %q", r.secret.LeaseDuration, data["expires_at"], data["expires_in"], warnings)
		})
	}

	// The vendor changes the type of expires_in from one response to the
	// next: every response still gives a good token.
	for _, provider := range []string{fakevendor.ProviderSCM, fakevendor.ProviderBrightPattern} {
		t.Run(provider+" expires_in flips between number and string", func(t *testing.T) {
			t.Parallel()
			m := fx.newMount(t, provider, nil, nil)
			var seen []string
			for _, form := range []string{fakevendor.ExpiresInNumber, fakevendor.ExpiresInString, fakevendor.ExpiresInNumber, fakevendor.ExpiresInString} {
				m.fv.SetFaults(t, fakevendor.Faults{ExpiresIn: form})
				m.purge()
				data, _ := m.wantToken(m.read(), 0)
				seen = append(seen, data["access_token"].(string))
			}
			for i := 1; i < len(seen); i++ {
				if seen[i] == seen[i-1] {
					t.Fatalf("read %d returned the token of read %d: the purge did not make it call the vendor", i+1, i)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestFaultStaleOnError caches a token, then breaks the vendor in each
// transient way. Tokens live 20 s and the role's min_ttl is 18 s, so the
// cached token stops qualifying about 2 s after it is fetched, and the
// background refresh tries to replace it from 19 s left, while it still
// has most of its life. That refresh fails; the next reader gets the
// cached token, which still has life left, with a warning that says why,
// in a lease that still ends before the token. The cache listing counts
// the failed fetches and their HTTP requests, retries included.
func TestFaultStaleOnError(t *testing.T) {
	t.Parallel()
	fx := startFaultVault(t)
	cases := map[string]struct {
		config   map[string]any
		faults   fakevendor.Faults
		requests int64 // per failed fetch
		cause    []string
	}{
		"503 outage":       {faults: fakevendor.Faults{Outage: fakevendor.OutageError}, requests: 4, cause: []string{"HTTP 503", "Service Unavailable."}},
		"connection reset": {faults: fakevendor.Faults{Outage: fakevendor.OutageReset}, requests: 4, cause: []string{"network error"}},
		"429 outage":       {faults: fakevendor.Faults{Outage: fakevendor.OutageRateLimit}, requests: 4, cause: []string{"HTTP 429", "Too many requests."}},
		"HTML error pages": {faults: fakevendor.Faults{Outage: fakevendor.OutageHTML}, requests: 4, cause: []string{"HTTP 502", "Bad Gateway"}},
		"vendor too slow": {
			config: map[string]any{"request_timeout": "2s"},
			faults: fakevendor.Faults{Delay: time.Minute}, requests: 1, cause: []string{"timed out"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := fx.newMount(t, fakevendor.ProviderSCM, tc.config, map[string]any{"min_ttl": "18s"})
			m.fv.SetLifetimes(t, map[string]time.Duration{fakevendor.ProviderSCM: 20 * time.Second})
			first, _ := m.wantToken(m.read(), 0)
			if w := first["access_token"]; w == nil {
				t.Fatal("no token")
			}
			m.fv.SetFaults(t, tc.faults)
			m.fv.ResetStats(t)
			row := func() map[string]any {
				s, err := m.client.Logical().Read(m.mount + "/cache")
				if err != nil || s == nil || len(s.Data) != 1 {
					t.Fatalf("read %s/cache: %v %v", m.mount, s, err)
				}
				for _, v := range s.Data {
					r, _ := v.(map[string]any)
					return r
				}
				return nil
			}
			vaulttest.Eventually(t, 15*time.Second, 100*time.Millisecond, "the background refresh to fail", func() error {
				if r := row(); r["last_error"] == nil {
					return fmt.Errorf("no failure yet: %v", r)
				}
				return nil
			})
			r := m.read()
			second, _ := m.wantToken(r, 0)
			if second["access_token"] != first["access_token"] {
				t.Fatal("the vendor is failing, yet the reader got a different token")
			}
			warnings := strings.Join(r.secret.Warnings, "\n")
			want := append([]string{fmt.Sprintf("config %q failed", m.setup.Config), "serving a cached token with"}, tc.cause...)
			for _, w := range want {
				if !strings.Contains(warnings, w) {
					t.Errorf("the warning does not say %q: %q", w, warnings)
				}
			}
			testkit.AssertNoSecret(t, "the warning", warnings, m.secrets()...)
			n := m.requests()
			cached := row()
			failed := num(t, cached, "vendor_calls") - 1 // the first fetch succeeded
			if sent := num(t, cached, "http_requests") - 1; failed < 1 || n != failed*tc.requests || sent != n {
				t.Errorf("%d token requests at the vendor; the cache counts %d failed fetches and %d HTTP requests since the first; want %d requests per failed fetch",
					n, failed, sent, tc.requests)
			}
			t.Logf("lease %d s, warning %q", r.secret.LeaseDuration, warnings)
		})
	}
}

// TestFaultCredentialFailureFailsFast writes each provider's config with a
// wrong secret (verify_connection=false lets it be stored): the first read
// fails with the vendor's 401, later reads fail at once with the same
// error and make no vendor request (a Bright Pattern user could be locked
// out), and writing the right secret ends it. The same holds when the
// secret is rotated at the vendor behind a working config.
func TestFaultCredentialFailureFailsFast(t *testing.T) {
	t.Parallel()
	fx := startFaultVault(t)
	cases := map[string][]string{
		fakevendor.ProviderSaaSSecurity:  {"HTTP 401", "unauthorized", "Bad credentials"},
		fakevendor.ProviderSCM:           {"HTTP 401", "invalid_client", "Client authentication failed"},
		fakevendor.ProviderOracleCASB:    {"HTTP 401", "Invalid access key or access secret."},
		fakevendor.ProviderBrightPattern: {"HTTP 401", "invalid_client", "Bad credentials"},
		fakevendor.ProviderOAuth2:        {"HTTP 401", "invalid_client", "Client authentication failed."},
	}
	const wrongSecret = "wrong-secret-e2e-0123456789"
	for provider, want := range cases {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			secretField := "client_secret"
			if provider == fakevendor.ProviderOracleCASB {
				secretField = "access_secret"
			}
			m := fx.newMount(t, provider, map[string]any{secretField: wrongSecret, "verify_connection": false}, nil)
			m.fv.ResetStats(t)
			m.moreSecrets = []string{wrongSecret}

			first := m.read()
			m.wantError(first, want...)
			m.wantRequests(1, "after the first read")
			for range 3 {
				m.wantError(m.read(), append(want, "replayed without calling the vendor")...)
			}
			m.wantRequests(1, "after four reads (the credential failure was not replayed)")

			m.writeConfig(nil) // the right secret, verified
			m.fv.ResetStats(t)
			m.wantToken(m.read(), 0)
			m.wantRequests(1, "for the read after the config write")
			t.Logf("first: %s", first.errText)
		})
	}

	t.Run("secret rotated at the vendor", func(t *testing.T) {
		t.Parallel()
		m := fx.newMount(t, fakevendor.ProviderSCM, nil, nil)
		m.wantToken(m.read(), 0)
		rotated := m.setup.Account
		rotated.ClientSecret = "rotated-secret-e2e-9876543210"
		m.fv.AddAccount(t, rotated)

		// The cached token still works and is still served.
		m.fv.ResetStats(t)
		m.wantToken(m.read(), 0)
		m.wantRequests(0, "while a good token is cached")

		m.purge()
		m.moreSecrets = []string{rotated.ClientSecret}
		for range 3 {
			m.wantError(m.read(), "HTTP 401", "invalid_client")
		}
		m.wantRequests(1, "for three reads with a rotated secret")

		m.writeConfig(map[string]any{"client_secret": rotated.ClientSecret})
		m.fv.ResetStats(t)
		m.wantToken(m.read(), 0)
		m.wantRequests(1, "after writing the new secret")
	})
}
