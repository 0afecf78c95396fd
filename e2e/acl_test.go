//go:build e2e

package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/vaulttest"
)

// TestTeamPolicies gives two teams a policy each that allows reading their
// own role's creds, and checks that each team's token reads its role and
// gets 403 on every other role, on config/ and roles/ and on the operator
// endpoints.
func TestTeamPolicies(t *testing.T) {
	t.Parallel()
	p := vaulttest.NewPalo(t, vaulttest.PaloOptions{})
	v := p.Vault
	teams := map[string]struct {
		role, config string
	}{
		"firewall-team": {"wildfire", "scm-prod"},
		"casb-team":     {"casb", "casb-prod"},
	}
	for team, tc := range teams {
		policy := `path "` + p.Path("creds", tc.role) + `" {
  capabilities = ["read"]
}`
		if r := v.CLIWith(t, vaulttest.CLIOptions{Stdin: policy}, "policy", "write", team, "-"); !r.OK() {
			t.Fatal(r)
		}
	}
	for team, tc := range teams {
		teamToken := strings.TrimSpace(v.MustCLI(t, "token", "create", "-policy="+team, "-field=token"))
		t.Run(team, func(t *testing.T) {
			t.Parallel()
			token(t, p, teamToken, p.Path("creds", tc.role))

			denied := [][]string{
				{"read", p.Path("config", tc.config)},
				{"list", p.Path("config")},
				{"write", p.Path("config", tc.config), "verify_connection=false"},
				{"delete", p.Path("config", tc.config)},
				{"read", p.Path("roles", tc.role)},
				{"list", p.Path("roles")},
				{"write", p.Path("roles", tc.role), "config=" + tc.config},
				{"read", p.Path("cache")},
				{"write", "-force", p.Path("cache", "purge")},
			}
			for _, s := range p.Setups {
				if s.Role != tc.role {
					denied = append(denied, []string{"read", p.Path("creds", s.Role)})
				}
			}
			for _, args := range denied {
				r := mustFail(t, v, teamToken, http.StatusForbidden, args...)
				if !strings.Contains(r.Stderr, "permission denied") {
					t.Fatalf("want permission denied:\n%s", r)
				}
			}
			// Nothing the team was refused changed anything.
			readJSON(t, v, "", p.Path("config", tc.config))
		})
	}
}

// TestResponseWrapping reads creds with -wrap-ttl: the response holds only
// a wrapping token, which another token (with just the default policy)
// unwraps, once, into a valid vendor token and its lease.
func TestResponseWrapping(t *testing.T) {
	t.Parallel()
	p := vaulttest.NewPalo(t, vaulttest.PaloOptions{})
	v := p.Vault
	creds := p.Path("creds", "wildfire")

	var wrapped api.Secret
	r := v.CLIJSON(t, vaulttest.CLIOptions{}, &wrapped, "read", "-wrap-ttl=2m", creds)
	if wrapped.WrapInfo == nil || wrapped.WrapInfo.Token == "" {
		t.Fatalf("no wrap_info in the wrapped read:\n%s", r)
	}
	if wrapped.WrapInfo.CreationPath != creds || wrapped.WrapInfo.TTL != 120 {
		t.Fatalf("wrap_info %+v, want creation_path %s and ttl 120", wrapped.WrapInfo, creds)
	}
	if wrapped.Data != nil || strings.Contains(r.Stdout, "fake-scm-") || strings.Contains(r.Stdout, "access_token") {
		t.Fatalf("the wrapped response shows the secret:\n%s", r.Stdout)
	}

	other := strings.TrimSpace(v.MustCLI(t, "token", "create", "-policy=default", "-field=token"))
	var unwrapped api.Secret
	v.CLIJSON(t, vaulttest.CLIOptions{Token: other}, &unwrapped, "unwrap", wrapped.WrapInfo.Token)
	at := str(t, unwrapped.Data, "access_token")
	if c := p.Vendor.Check(t, at); !c.Valid {
		t.Fatalf("the unwrapped token is not valid at the fake vendor: %+v", c)
	}
	if unwrapped.LeaseID == "" || int64(unwrapped.LeaseDuration) >= num(t, unwrapped.Data, "expires_in") {
		t.Fatalf("unwrapped lease %q of %ds for a token with %d s left", unwrapped.LeaseID, unwrapped.LeaseDuration, num(t, unwrapped.Data, "expires_in"))
	}
	// The default policy cannot read creds itself, and a wrapping token
	// works once.
	mustFail(t, v, other, http.StatusForbidden, "read", creds)
	mustFail(t, v, other, http.StatusBadRequest, "unwrap", wrapped.WrapInfo.Token)
}
