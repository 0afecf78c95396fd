package provider

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

//nolint:gosec // G101: test values, not credentials
const (
	iamToken     = "bearer-tok-Zx9"
	iamOldSecret = "old-secret-Qq1"
	iamNewSecret = "new-secret-Ww2"
)

// iamServer serves handler after checking what every IAM request must
// carry: the bearer token, Accept JSON, no body.
func iamServer(t *testing.T, handler http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("Authorization") != "Bearer "+iamToken || r.Header.Get("Accept") != "application/json" || r.ContentLength > 0 {
			t.Errorf("request %s %s: Authorization %q, Accept %q, body %d bytes", r.Method, r.URL.Path,
				r.Header.Get("Authorization"), r.Header.Get("Accept"), r.ContentLength)
		}
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func iamReq(url string) IAMRequest {
	return IAMRequest{BaseURL: url, Token: iamToken, Secrets: []string{iamOldSecret}}
}

func TestListServiceAccounts(t *testing.T) {
	t.Parallel()
	srv, _ := iamServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/iam/v1/service_accounts" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		_, _ = w.Write([]byte(`[{"id":"2f56a901-4b71-45dc-a8d6-6b77eb41934d","name":"sa","client_id":"sa@1234567890.iam.panserviceaccount.com","tsg_id":"1234567890","contact_email":"a@b.c"}]`))
	})
	c, _ := NewClient(fastOptions())
	list, err := c.ListServiceAccounts(context.Background(), iamReq(srv.URL+"/"))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != "2f56a901-4b71-45dc-a8d6-6b77eb41934d" || list[0].TSGID != "1234567890" || list[0].Name != "sa" {
		t.Errorf("list = %+v", list)
	}
}

func TestListServiceAccountsRetriesTransientFailures(t *testing.T) {
	t.Parallel()
	srv, hits := iamServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	c, _ := NewClient(fastOptions())
	_, err := c.ListServiceAccounts(context.Background(), iamReq(srv.URL))
	if !IsTransient(err) || hits.Load() != DefaultRetryMax+1 {
		t.Errorf("err %v after %d requests; want a transient error after %d", err, hits.Load(), DefaultRetryMax+1)
	}
	if !strings.Contains(err.Error(), "paloalto_scm service account list failed: HTTP 503") {
		t.Errorf("error %q", err)
	}
}

func TestResetSecret(t *testing.T) {
	t.Parallel()
	srv, _ := iamServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/iam/v1/service_accounts/2f56a901/operations/reset" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"2f56a901","name":"sa","client_id":"sa@1234567890.iam.panserviceaccount.com","tsg_id":"1234567890","client_secret":"` + iamNewSecret + `"}`))
	})
	c, _ := NewClient(fastOptions())
	sa, secret, err := c.ResetSecret(context.Background(), iamReq(srv.URL), "2f56a901")
	if err != nil || secret != iamNewSecret || sa.ID != "2f56a901" {
		t.Fatalf("ResetSecret = %+v, (secret ok %t), %v", sa, secret == iamNewSecret, err)
	}
}

// Every failed reset: its error names the operation, the status and the
// vendor's message in either documented shape, never a secret, and says
// whether the reset may have happened. A reset is made once, never retried.
func TestResetSecretFailures(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		status   int
		body     string
		hang     bool // close the connection without an answer
		want     []string
		mayHave  bool
		credFail bool
	}{
		"403 in the SCM shape": {
			status: 403, body: `{"_errors":[{"code":"E007","message":"Not authorized","details":{}}],"_request_id":"r1"}`,
			want: []string{"HTTP 403", "E007", "Not authorized"}, credFail: true,
		},
		"404 in the SCM shape": {
			status: 404, body: `{"_errors":[{"code":"E005","message":"Service account not found."}],"_request_id":"r2"}`,
			want: []string{"HTTP 404", "E005", "Service account not found."},
		},
		"401 in the RFC 6749 shape echoing the token": {
			status: 401, body: `{"error":"invalid_token","error_description":"token ` + iamToken + ` expired"}`,
			want: []string{"HTTP 401", "invalid_token", "[redacted]"}, credFail: true,
		},
		"503": {
			status: 503, body: `{"_errors":[{"code":"E500","message":"Service Unavailable."}]}`,
			want: []string{"HTTP 503", "Service Unavailable."}, mayHave: true,
		},
		"201 without a client_secret": {
			status: 201, body: `{"id":"x","secret":"` + iamNewSecret + `"}`,
			want: []string{"HTTP 201", "no client_secret"}, mayHave: true,
		},
		"200 without a client_secret": {
			status: 200, body: `{"id":"x"}`,
			want: []string{"HTTP 200", "no client_secret"}, mayHave: true,
		},
		"a text answer holding the new secret": {
			status: 201, body: "client_secret=" + iamNewSecret,
			want: []string{"HTTP 201", "not JSON", "not quoted"}, mayHave: true,
		},
		"the answer is lost": {
			hang: true, want: []string{"network error"}, mayHave: true,
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, hits := iamServer(t, func(w http.ResponseWriter, _ *http.Request) {
				if tc.hang {
					conn, _, _ := http.NewResponseController(w).Hijack()
					if tc, ok := conn.(*net.TCPConn); ok {
						_ = tc.SetLinger(0)
					}
					_ = conn.Close()
					return
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			c, _ := NewClient(fastOptions())
			_, secret, err := c.ResetSecret(context.Background(), iamReq(srv.URL), "id")
			if err == nil || secret != "" {
				t.Fatalf("want a failure, got err %v", err)
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Op != OpResetSecret || pe.Provider != PaloAltoSCM {
				t.Fatalf("error %#v", err)
			}
			msg := err.Error()
			for _, w := range append(tc.want, "paloalto_scm service account secret reset failed") {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			for _, s := range []string{iamToken, iamOldSecret, iamNewSecret} {
				if strings.Contains(msg, s) {
					t.Errorf("error %q holds a secret", msg)
				}
			}
			if got := ResetMayHaveHappened(err); got != tc.mayHave {
				t.Errorf("ResetMayHaveHappened = %t, want %t", got, tc.mayHave)
			}
			if got := IsCredentialError(err); got != tc.credFail {
				t.Errorf("IsCredentialError = %t, want %t", got, tc.credFail)
			}
			if hits.Load() != 1 {
				t.Errorf("%d requests; a reset is never repeated by the client", hits.Load())
			}
		})
	}
}

func TestServiceAccountTSG(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"api-client@1746292031.iam.panserviceaccount.com": "1746292031",
		"api-client@1746292031.iam.example.com":           "",
		"plain-client":                                    "",
	} {
		got, ok := ServiceAccountTSG(in)
		if got != want || ok != (want != "") {
			t.Errorf("ServiceAccountTSG(%q) = %q, %t", in, got, ok)
		}
	}
}
