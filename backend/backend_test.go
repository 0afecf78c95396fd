package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/helper/errutil"
	"github.com/hashicorp/vault/sdk/helper/testhelpers/schema"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/demo"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/fakevendor"
	"github.com/vault-palo/vault-plugin-secrets-palo/internal/testkit"
)

// testEnv is one backend on in-memory storage, wired to its own fake vendor,
// with every log line captured.
type testEnv struct {
	t       *testing.T
	b       *paloBackend
	storage *logical.InmemStorage
	vendor  *fakevendor.TestServer
	logs    *testkit.SyncBuffer
	// failing, when set, is the storage requests get instead of storage:
	// the same entries, with a chosen verb failing.
	failing *failingStorage
}

const (
	testMaxLeaseTTL     = 24 * time.Hour
	testDefaultLeaseTTL = 12 * time.Hour
)

// newTestBackend builds a backend through Factory, the way Vault does, on
// in-memory storage, logging at trace level to logs (nil: nowhere), with a
// system view of the test TTLs. It is cleaned up when the test ends.
func newTestBackend(tb testing.TB, logs io.Writer) (*paloBackend, *logical.InmemStorage) {
	tb.Helper()
	return newTestBackendOn(tb, logs, newSystemView())
}

// newTestBackendOn is newTestBackend with the given system view.
func newTestBackendOn(tb testing.TB, logs io.Writer, sys logical.SystemView) (*paloBackend, *logical.InmemStorage) {
	tb.Helper()
	logger := hclog.NewNullLogger()
	if logs != nil {
		logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: logs})
	}
	storage := &logical.InmemStorage{}
	lb, err := Factory(context.Background(), &logical.BackendConfig{
		Logger:      logger,
		System:      sys,
		StorageView: storage,
	})
	if err != nil {
		tb.Fatalf("Factory: %v", err)
	}
	b := lb.(*paloBackend)
	tb.Cleanup(func() { b.Cleanup(context.Background()) })
	return b, storage
}

// systemView is the mount as Vault shows it to the backend, with lease
// TTLs a test may change (as `vault secrets tune` does) and a count of the
// times they were asked for (each a round trip to Vault in a real mount).
type systemView struct {
	logical.StaticSystemView
	defaultTTL, maxTTL atomic.Int64
	asked              atomic.Int64
}

func newSystemView() *systemView {
	s := &systemView{StaticSystemView: logical.StaticSystemView{
		PluginEnvironment: &logical.PluginEnvironment{VaultVersion: "1.21.0"},
	}}
	s.tune(testDefaultLeaseTTL, testMaxLeaseTTL)
	return s
}

// tune sets the mount's default and max lease TTL.
func (s *systemView) tune(def, maxTTL time.Duration) {
	s.defaultTTL.Store(int64(def))
	s.maxTTL.Store(int64(maxTTL))
}

func (s *systemView) DefaultLeaseTTL() time.Duration {
	s.asked.Add(1)
	return time.Duration(s.defaultTTL.Load())
}

func (s *systemView) MaxLeaseTTL() time.Duration {
	s.asked.Add(1)
	return time.Duration(s.maxTTL.Load())
}

// newTestEnv is a backend with captured logs against a TLS fake vendor
// holding the demo accounts.
func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	return newTestEnvOn(t, newSystemView())
}

// newSCMEnv is newTestEnv after writeSCM.
func newSCMEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newTestEnv(t)
	e.writeSCM()
	return e
}

// writeSCM writes config "scm" for the demo paloalto_scm account and role
// "wf" on it.
func (e *testEnv) writeSCM() {
	e.t.Helper()
	e.mustOK(logical.UpdateOperation, "config/scm", e.demoConfig("paloalto_scm"))
	e.mustOK(logical.UpdateOperation, "roles/wf", map[string]any{"config": "scm"})
}

// newTestEnvOn is newTestEnv with the given system view.
func newTestEnvOn(t *testing.T, sys logical.SystemView) *testEnv {
	t.Helper()
	logs := &testkit.SyncBuffer{}
	b, storage := newTestBackendOn(t, logs, sys)
	return &testEnv{
		t:       t,
		b:       b,
		storage: storage,
		vendor:  fakevendor.NewTLSTestServer(t, fakevendor.DemoAccounts()...),
		logs:    logs,
	}
}

// do sends one request through the framework's routing, as Vault would.
func (e *testEnv) do(op logical.Operation, path string, data map[string]any) (*logical.Response, error) {
	e.t.Helper()
	o := e.route(op, path, data)
	if o.existenceErr != nil {
		e.t.Fatalf("existence check %s: %v", path, o.existenceErr)
	}
	return o.resp, o.err
}

// outcome is how Vault would answer one request.
type outcome struct {
	resp   *logical.Response
	err    error
	status int
	// existenceErr is a failure of the existence check other than a
	// user error: the request itself was not sent.
	existenceErr error
}

// text is everything of the answer a caller or an audit log could see.
func (o outcome) text() string {
	var b strings.Builder
	if o.err != nil {
		b.WriteString(o.err.Error())
	}
	if o.resp != nil {
		fmt.Fprint(&b, o.resp.Data, o.resp.Warnings, o.resp.Secret, o.resp.Headers)
	}
	return b.String()
}

// route sends one request as Vault does: for a write, the existence check
// decides between create and update (a user error there is a 400, an
// unknown path a 404); then the request itself. The status is the one
// Vault would answer with.
func (e *testEnv) route(op logical.Operation, path string, data map[string]any) outcome {
	ctx := context.Background()
	req := &logical.Request{Operation: op, Path: path, Data: data, Storage: e.storage, MountPoint: "palo/"}
	if e.failing != nil {
		req.Storage = e.failing
	}
	if op == logical.CreateOperation || op == logical.UpdateOperation {
		checkFound, exists, err := e.b.HandleExistenceCheck(ctx, req)
		var userErr errutil.UserError
		switch {
		case errors.As(err, &userErr):
			return outcome{resp: logical.ErrorResponse(userErr.Error()), status: http.StatusBadRequest}
		case errors.Is(err, logical.ErrUnsupportedPath):
			return outcome{err: err, existenceErr: err, status: http.StatusNotFound}
		case err != nil:
			return outcome{err: err, existenceErr: err, status: http.StatusInternalServerError}
		case checkFound && !exists:
			req.Operation = logical.CreateOperation
		default:
			req.Operation = logical.UpdateOperation
		}
	}
	resp, err := e.b.HandleRequest(ctx, req)
	status, _ := logical.RespondErrorCommon(req, resp, err)
	if status == 0 {
		status = http.StatusOK
	}
	return outcome{resp: resp, err: err, status: status}
}

// readErr reads path and returns the failure, if any: an error, or an
// error response.
func (e *testEnv) readErr(path string) error {
	resp, err := e.do(logical.ReadOperation, path, nil)
	switch {
	case err != nil:
		return err
	case resp.IsError():
		return resp.Error()
	}
	return nil
}

// mustOK sends a request and fails the test on an error or error response.
func (e *testEnv) mustOK(op logical.Operation, path string, data map[string]any) *logical.Response {
	e.t.Helper()
	resp, err := e.do(op, path, data)
	if err != nil {
		e.t.Fatalf("%s %s: %v", op, path, err)
	}
	if resp.IsError() {
		e.t.Fatalf("%s %s: error response: %v", op, path, resp.Error())
	}
	return resp
}

// mustDelete deletes path and checks that a read then finds nothing: nil,
// nil, which Vault answers with a 404.
func (e *testEnv) mustDelete(path string) {
	e.t.Helper()
	e.mustOK(logical.DeleteOperation, path, nil)
	if resp, err := e.do(logical.ReadOperation, path, nil); resp != nil || err != nil {
		e.t.Errorf("read of %s after delete = %v, %v; want nil, nil (404)", path, resp, err)
	}
}

// badWrite is a write the engine must refuse with a 400 whose message holds
// each of want.
type badWrite struct {
	data map[string]any
	want []string
}

// mustRefuse writes each case to path in a subtest of its own, checks that
// each is refused (mustBadRequest), and then that the refused writes stored
// nothing under path's folder.
func (e *testEnv) mustRefuse(path string, cases map[string]badWrite) {
	e.t.Helper()
	for name, tc := range cases {
		e.t.Run(name, func(t *testing.T) {
			sub := *e
			sub.t = t
			sub.mustBadRequest(logical.UpdateOperation, path, tc.data, tc.want...)
		})
	}
	folder := path[:strings.LastIndexByte(path, '/')+1]
	if list, _ := e.storage.List(e.t.Context(), folder); len(list) != 0 {
		e.t.Errorf("refused writes stored %s entries: %v", folder, list)
	}
}

// mustBadRequest sends a request that must be refused with a 400 whose
// message contains every one of want.
func (e *testEnv) mustBadRequest(op logical.Operation, path string, data map[string]any, want ...string) string {
	e.t.Helper()
	resp, err := e.do(op, path, data)
	if err != nil {
		e.t.Fatalf("%s %s: want a 400 error response, got error %v", op, path, err)
	}
	if resp == nil || !resp.IsError() {
		e.t.Fatalf("%s %s: want a 400 error response, got %#v", op, path, resp)
	}
	code, _ := logical.RespondErrorCommon(&logical.Request{Operation: op}, resp, nil)
	if code != http.StatusBadRequest {
		e.t.Fatalf("%s %s: status %d, want 400 (%v)", op, path, code, resp.Error())
	}
	msg := resp.Error().Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			e.t.Errorf("%s %s: error %q does not mention %q", op, path, msg, w)
		}
	}
	return msg
}

// validate checks a response against the path's documented schema (strict:
// no undocumented fields).
func (e *testEnv) validate(path string, op logical.Operation, resp *logical.Response) {
	e.t.Helper()
	schema.ValidateResponse(e.t, schema.GetResponseSchema(e.t, e.b.Route(path), op), resp, true)
}

// demoConfig returns the config fields for a demo account of provider p on
// the fake vendor (package demo derives them).
func (e *testEnv) demoConfig(p string) map[string]any {
	e.t.Helper()
	data := map[string]any{"ca_cert": string(e.vendor.CACertPEM())}
	for k, v := range demo.Fields(demoAccount(p), e.vendor.TokenURL(p)) {
		data[k] = v
	}
	return data
}

// demoSecrets lists every secret of the demo accounts, for leak checks.
func demoSecrets() []string { return demo.Secrets(fakevendor.DemoAccounts()) }

// allProviders are the supported providers, from their descriptors.
var allProviders = provider.Names()

func TestFactoryServesHelpAndVersion(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	if got := e.b.PluginVersion().Version; got != Version {
		t.Errorf("PluginVersion = %q, want %q", got, Version)
	}
	resp, err := e.b.HandleRequest(context.Background(), &logical.Request{Operation: logical.HelpOperation, Storage: e.storage})
	if err != nil {
		t.Fatal(err)
	}
	if help, _ := resp.Data["help"].(string); !strings.Contains(help, "cannot be revoked") {
		t.Errorf("root help does not explain revocation: %q", help)
	}
}

func TestPathHelpAndOpenAPIForEveryPath(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	// Every path the backend serves has help and a summary per operation.
	for _, p := range e.b.Paths {
		if p.HelpSynopsis == "" || len(p.HelpDescription) < 60 {
			t.Errorf("%s: thin help", p.Pattern)
		}
		for op, h := range p.Operations {
			if h.Properties().Summary == "" {
				t.Errorf("%s %s: no summary", p.Pattern, op)
			}
		}
	}
	for _, path := range []string{
		"config/", "config/x", "config/x/rotate-root", "config/x/jwks", "jwks/x", "roles/", "roles/x", "creds/x", "cache", "cache/purge", "metrics",
	} {
		resp, err := e.do(logical.HelpOperation, path, nil)
		if err != nil {
			t.Fatalf("help %s: %v", path, err)
		}
		help, _ := resp.Data["help"].(string)
		if len(help) < 60 {
			t.Errorf("help %s is too thin: %q", path, help)
		}
		doc, ok := resp.Data["openapi"]
		if !ok || doc == nil {
			t.Errorf("help %s has no OpenAPI document", path)
		}
	}
}

func TestInvalidateDropsConfigsRolesAndTokens(t *testing.T) {
	t.Parallel()
	e := newSCMEnv(t)
	e.mustOK(logical.ReadOperation, "creds/wf", nil)
	if n := len(e.b.cache.Entries()); n != 1 {
		t.Fatalf("cache entries = %d, want 1", n)
	}

	// Another node rewrites the role in storage, then tells this one.
	if err := putJSON(context.Background(), e.storage, "roles/wf", &roleEntry{SchemaVersion: 1, Config: "scm", TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	e.b.invalidate(context.Background(), "roles/wf")
	resp := e.mustOK(logical.ReadOperation, "creds/wf", nil)
	if resp.Secret.TTL != time.Minute {
		t.Errorf("after invalidate the lease is %s, want the new role ttl 1m", resp.Secret.TTL)
	}

	e.b.invalidate(context.Background(), "config/scm")
	if n := len(e.b.cache.Entries()); n != 0 {
		t.Errorf("cache entries after config invalidation = %d, want 0", n)
	}
	e.b.mu.RLock()
	_, cached := e.b.configs["scm"]
	e.b.mu.RUnlock()
	if cached {
		t.Error("config still cached in memory after invalidation")
	}
}

func TestRevokeIsANoOp(t *testing.T) {
	t.Parallel()
	e := newSCMEnv(t)
	first := e.mustOK(logical.ReadOperation, "creds/wf", nil)

	resp, err := e.b.HandleRequest(context.Background(), &logical.Request{
		Operation: logical.RevokeOperation,
		Secret:    first.Secret,
		Storage:   e.storage,
	})
	if err != nil || resp != nil {
		t.Fatalf("revoke = %v, %v; want nil, nil", resp, err)
	}
	// The shared token is still served to other readers.
	second := e.mustOK(logical.ReadOperation, "creds/wf", nil)
	if first.Data["access_token"] != second.Data["access_token"] {
		t.Error("revoking one lease changed the token other readers get")
	}
	if _, ok := e.vendor.Check(second.Data["access_token"].(string)); !ok {
		t.Error("token served after a revoke is not valid at the vendor")
	}
	if renew, err := e.b.HandleRequest(context.Background(), &logical.Request{
		Operation: logical.RenewOperation, Secret: first.Secret, Storage: e.storage,
	}); err == nil {
		t.Errorf("renew succeeded (%v); the lease must not be renewable", renew)
	}
}
