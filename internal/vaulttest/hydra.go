package vaulttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// HydraOptions configure StartHydra. The zero value is a good default.
type HydraOptions struct {
	// Env are extra settings (KEY=value) in Hydra's environment form, such
	// as TTL_ACCESS_TOKEN=5m, or SSL_CERT_FILE=ca.pem to make Hydra trust a
	// private CA when it fetches a client's jwks_uri over https.
	Env []string
	// StartTimeout bounds the wait for readiness (DefaultStartTimeout).
	StartTimeout time.Duration
}

// Hydra is a running Ory Hydra (`hydra serve all --dev`), a real OAuth2
// server, on loopback with an in-memory store, and a client for its admin
// API.
type Hydra struct {
	*Process

	// PublicURL serves the OAuth2 endpoints, such as http://127.0.0.1:41234;
	// it is also Hydra's issuer.
	PublicURL string
	// AdminURL serves the admin API (clients, introspection).
	AdminURL string
	// TokenURL is the token endpoint, PublicURL/oauth2/token: the audience a
	// client assertion must name.
	TokenURL string

	client *http.Client
}

// StartHydra starts `hydra serve all --dev` (bin) with DSN=memory, a random
// system secret and its public URL as the issuer, on two free loopback
// ports, and waits until both listeners answer their readiness check. It is
// stopped in t.Cleanup; if the test failed, the end of its log is printed.
//
// Hydra fetches a client's jwks_uri over plain http on loopback as it is:
// it refuses private addresses only when clients.http.disallow_private_ip_ranges
// is set, which is off by default, and --dev changes nothing there. Over
// https it trusts the system roots, which SSL_CERT_FILE (in Env) replaces.
func StartHydra(t testing.TB, bin string, o HydraOptions) *Hydra {
	t.Helper()
	o.StartTimeout = startTimeout(o.StartTimeout)
	dir := t.TempDir()
	h := &Hydra{client: &http.Client{Timeout: 30 * time.Second}}
	t.Cleanup(h.client.CloseIdleConnections)
	h.Process = startOnFreePorts(t, "Hydra", 2, func(port, attempt int) (*Process, error) {
		// The public listener on port, the admin listener on the next one.
		h.PublicURL = "http://127.0.0.1:" + strconv.Itoa(port)
		h.AdminURL = "http://127.0.0.1:" + strconv.Itoa(port+1)
		h.TokenURL = h.PublicURL + "/oauth2/token"
		env := ChildEnv(dir, append([]string{
			"DSN=memory",
			"SECRETS_SYSTEM=" + rand.Text(),
			"URLS_SELF_ISSUER=" + h.PublicURL,
			"SERVE_PUBLIC_HOST=127.0.0.1", "SERVE_PUBLIC_PORT=" + strconv.Itoa(port),
			"SERVE_ADMIN_HOST=127.0.0.1", "SERVE_ADMIN_PORT=" + strconv.Itoa(port+1),
			"SQA_OPT_OUT=true", // no usage statistics sent anywhere
		}, o.Env...)...)
		logPath := filepath.Join(dir, fmt.Sprintf("hydra-%d.log", attempt))
		return startProcess("hydra", bin, []string{"serve", "all", "--dev"}, env, dir, logPath)
	}, func(p *Process) error {
		h.Process = p
		return h.waitReady(o.StartTimeout)
	})
	return h
}

// waitReady polls /health/ready on both listeners until each answers 200,
// the process exits, or timeout passes.
func (h *Hydra) waitReady(timeout time.Duration) error {
	return waitFor(context.Background(), timeout, 100*time.Millisecond, func() (bool, error) {
		if h.Exited() {
			return false, fmt.Errorf("hydra exited: %s", h.exitReason())
		}
		for _, base := range []string{h.PublicURL, h.AdminURL} {
			if err := h.do(context.Background(), http.MethodGet, base+"/health/ready", "", nil, nil, http.StatusOK); err != nil {
				return false, err
			}
		}
		return true, nil
	})
}

// HydraClient is an OAuth2 client registration, in the names of Hydra's
// admin API (RFC 7591).
type HydraClient struct {
	ClientID string `json:"client_id"`
	// ClientSecret is required for client_secret_basic and
	// client_secret_post (at least 6 characters), absent for
	// private_key_jwt.
	ClientSecret string `json:"client_secret,omitempty"`
	// TokenEndpointAuthMethod is client_secret_basic (Hydra's default),
	// client_secret_post or private_key_jwt.
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method,omitempty"`
	// TokenEndpointAuthSigningAlg is the one algorithm Hydra accepts for
	// this client's assertions; Hydra assumes RS256 when it is empty, so an
	// ES256 key needs ES256 here.
	TokenEndpointAuthSigningAlg string `json:"token_endpoint_auth_signing_alg,omitempty"`
	// JWKS is the client's public keys as a JSON Web Key Set, or JWKSURI
	// where Hydra fetches them (one or the other). Hydra uses only keys
	// with "use": "sig".
	JWKS    json.RawMessage `json:"jwks,omitempty"`
	JWKSURI string          `json:"jwks_uri,omitempty"`
	// Scope is the space-separated scopes the client may ask for.
	Scope string `json:"scope,omitempty"`
	// Audience is the audiences the client may ask for.
	Audience []string `json:"audience,omitempty"`
	// GrantTypes default to client_credentials.
	GrantTypes []string `json:"grant_types,omitempty"`
}

// CreateClient registers c (POST /admin/clients).
func (h *Hydra) CreateClient(ctx context.Context, c HydraClient) error {
	return h.admin(ctx, http.MethodPost, "/admin/clients", withGrants(c), http.StatusCreated)
}

// UpdateClient replaces the registration of c.ClientID with c (PUT
// /admin/clients/{id}); an empty ClientSecret keeps the current secret.
func (h *Hydra) UpdateClient(ctx context.Context, c HydraClient) error {
	return h.admin(ctx, http.MethodPut, "/admin/clients/"+url.PathEscape(c.ClientID), withGrants(c), http.StatusOK)
}

// DeleteClient removes the client id (DELETE /admin/clients/{id}).
func (h *Hydra) DeleteClient(ctx context.Context, id string) error {
	return h.admin(ctx, http.MethodDelete, "/admin/clients/"+url.PathEscape(id), nil, http.StatusNoContent)
}

func withGrants(c HydraClient) HydraClient {
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = []string{"client_credentials"}
	}
	return c
}

// Introspection is Hydra's answer about an access token (RFC 7662).
type Introspection struct {
	Active   bool     `json:"active"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope"`
	Aud      []string `json:"aud"`
	// Exp is the expiry, in seconds since the epoch.
	Exp       int64  `json:"exp"`
	TokenType string `json:"token_type"`
}

// Introspect asks Hydra about token (POST /admin/oauth2/introspect). An
// unknown, expired or revoked token is not an error: its Active is false.
func (h *Hydra) Introspect(ctx context.Context, token string) (Introspection, error) {
	var in Introspection
	form := url.Values{"token": {token}}.Encode()
	err := h.do(ctx, http.MethodPost, h.AdminURL+"/admin/oauth2/introspect", "application/x-www-form-urlencoded",
		strings.NewReader(form), &in, http.StatusOK)
	return in, err
}

// admin sends one admin API request with in (if not nil) as JSON.
func (h *Hydra) admin(ctx context.Context, method, path string, in any, want int) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	return h.do(ctx, method, h.AdminURL+path, "application/json", body, nil, want)
}

// do sends one request and decodes the answer into out (if not nil). Any
// status but want is an error quoting Hydra's answer, which names what it
// refused (its error bodies carry no secret).
func (h *Hydra) do(ctx context.Context, method, u, contentType string, body io.Reader, out any, want int) error {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("hydra %s %s: %w", method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("hydra %s %s: %w", method, req.URL.Path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("hydra %s %s answered %d, want %d: %s", method, req.URL.Path, resp.StatusCode, want, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("hydra %s %s: decode: %w", method, req.URL.Path, err)
		}
	}
	return nil
}
