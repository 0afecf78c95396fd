package vaulttest

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
)

// SetIAMFaults replaces the fake's IAM fault configuration.
func (f *FakeVendor) SetIAMFaults(t testing.TB, faults fakevendor.IAMFaults) {
	t.Helper()
	f.admin(t, http.MethodPut, "/_fake/iam/faults", faults, nil, http.StatusOK)
}

// IAMResets returns how often the fake reset the secret of the service
// account with clientID.
func (f *FakeVendor) IAMResets(t testing.TB, clientID string) int {
	t.Helper()
	var accts []fakevendor.IAMAccount
	f.admin(t, http.MethodGet, "/_fake/iam/accounts", nil, &accts, http.StatusOK)
	for _, a := range accts {
		if a.ClientID == clientID {
			return a.Resets
		}
	}
	t.Fatalf("vaulttest: the fake has no service account %q", clientID)
	return 0
}

// SCMTokenStatus asks the fake for a paloalto_scm token with these
// credentials and returns the HTTP status (200 when they are accepted).
func (f *FakeVendor) SCMTokenStatus(t testing.TB, clientID, secret, tsg string) int {
	t.Helper()
	body := url.Values{"grant_type": {"client_credentials"}, "scope": {"tsg_id:" + tsg}}.Encode()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, f.TokenURL(fakevendor.ProviderSCM), strings.NewReader(body))
	if err != nil {
		t.Fatalf("vaulttest: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatalf("vaulttest: token request to the fake: %v", err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}
