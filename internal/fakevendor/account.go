package fakevendor

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// Provider names, spelled as in the plugin's config.
const (
	ProviderSaaSSecurity  = "paloalto_saas_security"
	ProviderSCM           = "paloalto_scm"
	ProviderOracleCASB    = "oracle_casb"
	ProviderBrightPattern = "bright_pattern"
	ProviderOAuth2        = "oauth2"
)

// Client authentication methods of the generic OAuth2 endpoint, named as in
// RFC 7591 (token_endpoint_auth_method).
const (
	AuthMethodBasic         = "client_secret_basic" // HTTP Basic client_id:client_secret
	AuthMethodPost          = "client_secret_post"  // client_id and client_secret as form fields
	AuthMethodPrivateKeyJWT = "private_key_jwt"     // a JWT signed with the client's key (RFC 7523 section 2.2)
)

// Providers returns the names of all providers the fake serves.
func Providers() []string {
	return []string{ProviderSaaSSecurity, ProviderSCM, ProviderOracleCASB, ProviderBrightPattern, ProviderOAuth2}
}

func knownProvider(name string) bool {
	_, ok := canonicalPaths[name]
	return ok
}

// canonicalPaths is the token path of each provider as documented.
var canonicalPaths = map[string]string{
	ProviderSaaSSecurity:  "/oauth/token",
	ProviderSCM:           "/am/oauth2/access_token",
	ProviderOracleCASB:    "/api/v1/token",
	ProviderBrightPattern: "/configapi/v2/oauth/token",
	ProviderOAuth2:        "/oauth2/token",
}

// tokenPaths maps every path the fake answers to its provider: the canonical
// ones and the documented aliases.
var tokenPaths = map[string]string{
	"/oauth/token":                 ProviderSaaSSecurity,
	"/am/oauth2/access_token":      ProviderSCM,
	"/oauth2/access_token":         ProviderSCM,
	"/auth/v1/oauth2/access_token": ProviderSCM,
	"/api/v1/token":                ProviderOracleCASB,
	"/configapi/v2/oauth/token":    ProviderBrightPattern,
	"/configapi/v3/oauth/token":    ProviderBrightPattern,
	"/oauth2/token":                ProviderOAuth2,
}

// TokenPath returns the documented token path of a provider (for example
// "/am/oauth2/access_token" for ProviderSCM), or "" for an unknown provider.
func TokenPath(provider string) string {
	return canonicalPaths[provider]
}

// Defaults filled in by AddAccount where the vendor documents give an example.
const (
	defaultSaaSScope      = "api_access"
	defaultSaaSTenant     = "test tenant"
	defaultOracleTenantID = "abcdefgh-1234-ijkl-5678-mnopqrstuvwx"
)

// Account is one set of credentials the fake accepts.
//
// Every provider but oracle_casb uses ClientID and ClientSecret; oracle_casb
// uses AccessKey and AccessSecret. The other fields apply to some providers
// only, as noted. An Account formats (%v, %+v, %#v) without its secrets.
type Account struct {
	Provider string `json:"provider"`

	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	AccessKey    string `json:"access_key,omitempty"`
	AccessSecret string `json:"access_secret,omitempty"`

	// TSGIDs (paloalto_scm, required) are the Tenant Service Group ids the
	// service account may mint tokens for: its own and its children, each a
	// 10-digit number.
	TSGIDs []string `json:"tsg_ids,omitempty"`
	// ServiceAccountID (paloalto_scm, optional) is the service account's IAM
	// id, a UUID; without it one is derived from the client id (see
	// ServiceAccountID).
	ServiceAccountID string `json:"service_account_id,omitempty"`
	// Scopes (paloalto_saas_security, oauth2) are the scopes the client may
	// request. SaaS Security defaults to ["api_access"]; an oauth2 client
	// without scopes may only send requests without a scope.
	Scopes []string `json:"scopes,omitempty"`
	// TenantHost (bright_pattern, required) is the tenant host the client
	// must send as its scope, for example "example.com".
	TenantHost string `json:"tenant_host,omitempty"`
	// Tenant (paloalto_saas_security) is the tenant name returned with a
	// token; it defaults to "test tenant" as in the vendor's example.
	Tenant string `json:"tenant,omitempty"`
	// TenantID (oracle_casb) is returned as tenantId; it defaults to the
	// vendor's example.
	TenantID string `json:"tenant_id,omitempty"`
	// AuthMethod (oauth2) restricts the client to AuthMethodBasic or
	// AuthMethodPost; empty accepts either. AuthMethodPrivateKeyJWT makes a
	// client without a secret that authenticates with a signed assertion
	// (see oauth2jwt.go) and needs JWKS or JWKSURI. The JSON name
	// token_endpoint_auth_method (RFC 7591) is accepted too.
	AuthMethod string `json:"auth_method,omitempty"`
	// JWKS (oauth2 private_key_jwt) are the client's public keys (RFC
	// 7517), each with a distinct kid: EC P-256, RSA of at least 2048 bits
	// or Ed25519. Replace them at run time with Server.SetJWKS.
	JWKS jose.JSONWebKeySet `json:"jwks,omitzero"`
	// JWKSURI (oauth2 private_key_jwt) is an http(s) URL the fake fetches
	// the client's JWKS from (see WithJWKSClient), instead of JWKS.
	JWKSURI string `json:"jwks_uri,omitempty"`
	// AssertionAudience (oauth2 private_key_jwt), when set, is the aud the
	// client's assertions must carry instead of the token endpoint URL, as
	// servers that want their issuer identifier do.
	AssertionAudience string `json:"assertion_audience,omitempty"`
	// Disabled makes every token request of this account fail as the vendor
	// fails a locked user or a tenant without API access.
	Disabled bool `json:"disabled,omitempty"`
}

// ID is the account's public identifier: the access key for oracle_casb,
// the client id otherwise.
func (a Account) ID() string {
	if a.Provider == ProviderOracleCASB {
		return a.AccessKey
	}
	return a.ClientID
}

// String describes the account without its secret.
func (a Account) String() string {
	return a.Provider + " account " + strconv.Quote(a.ID())
}

// GoString describes the account without its secret, so that %#v cannot
// leak it either.
func (a Account) GoString() string { return a.String() }

var tsgIDPattern = regexp.MustCompile(`^[0-9]{10}$`)

// Validate reports what is wrong with the account, if anything. Its errors
// never contain a secret.
func (a Account) Validate() error {
	if !knownProvider(a.Provider) {
		return fmt.Errorf("unknown provider %q (want one of %s)", a.Provider, strings.Join(Providers(), ", "))
	}
	if a.Provider == ProviderOracleCASB {
		if a.AccessKey == "" || a.AccessSecret == "" {
			return errors.New("oracle_casb account needs access_key and access_secret")
		}
		if a.ClientID != "" || a.ClientSecret != "" {
			return errors.New("oracle_casb account takes access_key and access_secret, not client_id and client_secret")
		}
	} else if a.AuthMethod == AuthMethodPrivateKeyJWT {
		if a.ClientID == "" || a.ClientSecret != "" || a.AccessKey != "" || a.AccessSecret != "" {
			return errors.New("a private_key_jwt account needs client_id and takes no client_secret, access_key or access_secret")
		}
	} else {
		if a.ClientID == "" || a.ClientSecret == "" {
			return fmt.Errorf("%s account needs client_id and client_secret", a.Provider)
		}
		if a.AccessKey != "" || a.AccessSecret != "" {
			return fmt.Errorf("%s account takes client_id and client_secret, not access_key and access_secret", a.Provider)
		}
	}
	if len(a.ID()) > 256 {
		return errors.New("account id is longer than 256 characters")
	}
	switch a.Provider {
	case ProviderSCM:
		if len(a.TSGIDs) == 0 {
			return errors.New("paloalto_scm account needs at least one tsg_id")
		}
		for _, id := range a.TSGIDs {
			if !tsgIDPattern.MatchString(id) {
				return fmt.Errorf("tsg_id %q is not a 10-digit number", id)
			}
		}
	case ProviderBrightPattern:
		if a.TenantHost == "" || strings.ContainsAny(a.TenantHost, " /") {
			return errors.New("bright_pattern account needs a tenant_host such as example.com")
		}
	case ProviderOAuth2:
		if err := a.validateKeys(); err != nil {
			return err
		}
	}
	if a.Provider != ProviderOAuth2 && (len(a.JWKS.Keys) > 0 || a.JWKSURI != "" || a.AssertionAudience != "") {
		return errors.New("jwks, jwks_uri and assertion_audience are for oauth2 accounts only")
	}
	for _, s := range a.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			return fmt.Errorf("scope %q is empty or contains white space", s)
		}
	}
	return nil
}

// validateKeys checks an oauth2 account's authentication method and keys.
func (a Account) validateKeys() error {
	methods := []string{AuthMethodBasic, AuthMethodPost, AuthMethodPrivateKeyJWT}
	if a.AuthMethod != "" && !slices.Contains(methods, a.AuthMethod) {
		return fmt.Errorf("auth_method: %q is not one of %s", a.AuthMethod, strings.Join(methods, ", "))
	}
	if a.AuthMethod != AuthMethodPrivateKeyJWT {
		if len(a.JWKS.Keys) > 0 || a.JWKSURI != "" || a.AssertionAudience != "" {
			return errors.New("jwks, jwks_uri and assertion_audience need auth_method private_key_jwt")
		}
		return nil
	}
	if (len(a.JWKS.Keys) > 0) == (a.JWKSURI != "") {
		return errors.New("a private_key_jwt account needs one of jwks and jwks_uri")
	}
	if a.JWKSURI != "" {
		u, err := url.Parse(a.JWKSURI)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return errors.New("jwks_uri: must be an http:// or https:// URL")
		}
		return nil
	}
	return validateJWKS("jwks", a.JWKS)
}

// UnmarshalJSON reads an account strictly (unknown fields are refused) and
// takes token_endpoint_auth_method as another name of auth_method.
func (a *Account) UnmarshalJSON(b []byte) error {
	type plain Account
	var w struct {
		plain
		TokenEndpointAuthMethod string `json:"token_endpoint_auth_method,omitempty"`
	}
	if err := decodeStrict(b, &w); err != nil {
		return err
	}
	if m := w.TokenEndpointAuthMethod; m != "" {
		if w.AuthMethod != "" && w.AuthMethod != m {
			return errors.New("auth_method and token_endpoint_auth_method differ")
		}
		w.AuthMethod = m
	}
	*a = Account(w.plain)
	return nil
}

// withDefaults returns a copy of a with the vendor documents' example values filled in
// and its slices copied, so the caller's slices are never shared.
func (a Account) withDefaults() Account {
	a.TSGIDs = append([]string(nil), a.TSGIDs...)
	a.Scopes = append([]string(nil), a.Scopes...)
	a.JWKS.Keys = slices.Clone(a.JWKS.Keys)
	switch a.Provider {
	case ProviderSaaSSecurity:
		if len(a.Scopes) == 0 {
			a.Scopes = []string{defaultSaaSScope}
		}
		if a.Tenant == "" {
			a.Tenant = defaultSaaSTenant
		}
	case ProviderOracleCASB:
		if a.TenantID == "" {
			a.TenantID = defaultOracleTenantID
		}
	}
	return a
}

// DemoAccount returns the demo account of provider (one of DemoAccounts),
// and false for a provider without one.
func DemoAccount(provider string) (Account, bool) {
	for _, a := range DemoAccounts() {
		if a.Provider == provider {
			return a, true
		}
	}
	return Account{}, false
}

// DemoAccounts returns one account per provider with obviously fake
// credentials, for the demo, the command's default and tests. Each call
// returns fresh copies.
func DemoAccounts() []Account {
	//nolint:gosec // G101: obviously fake credentials, for the demo and tests
	return []Account{
		{
			Provider:     ProviderSaaSSecurity,
			ClientID:     "demo-saas-client",
			ClientSecret: "demo-saas-secret-not-real",
			Scopes:       []string{"api_access"},
			Tenant:       "demo tenant",
		},
		{
			Provider:     ProviderSCM,
			ClientID:     "wildfire-sa@1234567890.iam.panserviceaccount.com",
			ClientSecret: "demo-scm-secret-not-real",
			TSGIDs:       []string{demoSCMTSG, "1234567891"},
		},
		{
			Provider:     ProviderOracleCASB,
			AccessKey:    "DEMOACCESSKEY0000001",
			AccessSecret: "demo-oracle-secret-not-real",
			TenantID:     "00000000-demo-0000-0000-000000000001",
		},
		{
			Provider:     ProviderBrightPattern,
			ClientID:     "demo.user",
			ClientSecret: "demo-bright-secret-not-real",
			TenantHost:   "demo.example.com",
		},
		{
			Provider:     ProviderOAuth2,
			ClientID:     "demo-oauth2-client",
			ClientSecret: "demo-oauth2-secret-not-real",
			Scopes:       []string{"read", "write"},
		},
	}
}

// demoSCMTSG is the TSG of the demo paloalto_scm service account.
const demoSCMTSG = "1234567890"

// DemoSCMSiblingID is the IAM id of DemoSCMSibling.
const DemoSCMSiblingID = "6c0a4a38-3d52-4b8e-9d7e-0d1f2e3a4b5c"

// DemoSCMSibling returns a second service account in the demo paloalto_scm
// account's own TSG, with another client id and the IAM id
// DemoSCMSiblingID: the account a config reaches when it names the wrong
// service_account_id. A token of the demo account may list, get and reset
// it. The command serves it beside DemoAccounts; tests add it with
// AddAccount.
func DemoSCMSibling() Account {
	//nolint:gosec // G101: an obviously fake credential, for the demo and tests
	return Account{
		Provider:         ProviderSCM,
		ClientID:         "sibling-sa@" + demoSCMTSG + ".iam.panserviceaccount.com",
		ClientSecret:     "demo-scm-sibling-secret-not-real",
		TSGIDs:           []string{demoSCMTSG},
		ServiceAccountID: DemoSCMSiblingID,
	}
}
