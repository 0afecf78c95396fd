package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
)

// jwksPrefix is the unauthenticated path of a private_key_jwt config's
// JWKS, for servers that fetch a jwks_uri.
const jwksPrefix = "jwks/"

// jwksCacheControl lets a server cache the JWKS for five minutes: a next
// key is published a rotation_overlap (by default a day) before it signs.
const jwksCacheControl = "public, max-age=300"

// jwksPath is the HTTP path, after Vault's address, of config name's
// unauthenticated JWKS.
func jwksPath(mountPoint, name string) string {
	return "/v1/" + mountPoint + jwksPrefix + name
}

// keyStatusFields documents what a private_key_jwt config's read adds.
func keyStatusFields() map[string]*framework.FieldSchema {
	return map[string]*framework.FieldSchema{
		"key_id": {Type: framework.TypeString, Description: "private_key_jwt: the kid (RFC 7638 thumbprint) of the key the engine signs with."},
		"certificate": {Type: framework.TypeString, Description: "private_key_jwt: a self-signed certificate (PEM) of that key, for servers that " +
			"register a client by certificate (Microsoft Entra ID). Public."},
		"jwks_path": {Type: framework.TypeString, Description: "private_key_jwt: the path, after Vault's address, that serves the config's " +
			"public keys as a JWKS without a Vault token, for a server's jwks_uri."},
	}
}

// publicKeys is config name's JWKS, or a message for a 400 when it signs
// with no key; nil, "" when it does not exist.
func (b *paloBackend) publicKeys(ctx context.Context, s logical.Storage, name string) ([]provider.PublicKey, string, error) {
	c, err := readConfigEntry(ctx, s, name)
	if err != nil || c == nil {
		return nil, "", err
	}
	if !provider.UsesKey(c.Values) {
		return nil, fmt.Sprintf("config %q does not sign with a key: it is %s with %s %q; only %s configs have a JWKS",
			name, c.Provider, provider.TokenEndpointAuthMethod.Name, c.Values[provider.TokenEndpointAuthMethod.Name], provider.AuthPrivateKeyJWT), nil
	}
	rec, err := readRotationRecord(ctx, s, name)
	if err != nil {
		return nil, "", err
	}
	var next string
	if p := rec.livePending(c); p != nil {
		next = p.State["next_key"]
	}
	keys, err := provider.PublicKeys(c.Values, next, b.now())
	if err != nil {
		return nil, "", fmt.Errorf("config %q: %w", name, err)
	}
	return keys, "", nil
}

func pathConfigJWKS(b *paloBackend) *framework.Path {
	return &framework.Path{
		Pattern: "config/" + namePattern("name") + "/jwks$",
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefix,
			OperationVerb:   "read",
			OperationSuffix: "jwks",
		},
		Fields: map[string]*framework.FieldSchema{"name": nameField("vendor config")},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{
				Callback: b.pathConfigJWKSRead,
				Summary:  "The public keys of a private_key_jwt config, as a JWKS (RFC 7517) to register with the server.",
				Responses: map[int][]framework.Response{
					http.StatusOK: {{Description: "OK", Fields: map[string]*framework.FieldSchema{
						"keys": {Type: framework.TypeSlice, Description: "The JWKS's keys: kty, kid (RFC 7638 thumbprint), alg, use sig, " +
							"and x5c and x5t#S256 of the key's self-signed certificate. The current key, a next key while a rotation " +
							"is pending, and a retired key until no token it obtained can still be in use."},
					}}},
				},
			},
		},
		HelpSynopsis:    "The public keys of a private_key_jwt config (JWKS).",
		HelpDescription: strings.TrimSpace(jwksHelp),
	}
}

func (b *paloBackend) pathConfigJWKSRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	keys, msg, err := b.publicKeys(ctx, req.Storage, d.Get("name").(string))
	switch {
	case err != nil:
		return nil, err
	case msg != "":
		return logical.ErrorResponse(msg), nil
	case keys == nil:
		return nil, nil
	}
	set, err := jwksDocument(keys)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: set}, nil
}

// jwksDocument is keys as a JWKS decoded into a map, for a response's data.
func jwksDocument(keys []provider.PublicKey) (map[string]any, error) {
	raw, err := provider.JWKS(keys)
	if err != nil {
		return nil, err
	}
	var set map[string]any
	return set, json.Unmarshal(raw, &set)
}

func pathJWKS(b *paloBackend) *framework.Path {
	return &framework.Path{
		Pattern: strings.TrimSuffix(jwksPrefix, "/") + "/" + namePattern("name"),
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefix,
			OperationVerb:   "read",
			OperationSuffix: "public-jwks",
		},
		Fields: map[string]*framework.FieldSchema{"name": nameField("vendor config")},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{
				Callback: b.pathJWKSRead,
				Summary:  "A private_key_jwt config's JWKS as the bare document, without a Vault token: a server's jwks_uri.",
				Responses: map[int][]framework.Response{
					http.StatusOK: {{Description: "The JWKS itself (application/json), no Vault envelope.", MediaType: "application/json"}},
				},
			},
		},
		HelpSynopsis:    "A private_key_jwt config's JWKS, unauthenticated, for a server's jwks_uri.",
		HelpDescription: strings.TrimSpace(jwksHelp),
	}
}

// pathJWKSRead answers with the bare JWKS, which Vault passes through as
// the HTTP body. It reveals public keys only; a config that does not
// exist or signs with no key is a 404 either way.
func (b *paloBackend) pathJWKSRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	keys, msg, err := b.publicKeys(ctx, req.Storage, d.Get("name").(string))
	if err != nil {
		return nil, err
	}
	if msg != "" || keys == nil {
		return nil, nil
	}
	body, err := provider.JWKS(keys)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]any{
		logical.HTTPContentType:        "application/json",
		logical.HTTPRawBody:            body,
		logical.HTTPStatusCode:         http.StatusOK,
		logical.HTTPCacheControlHeader: jwksCacheControl,
	}}, nil
}

const jwksHelp = `
A config with token_endpoint_auth_method=private_key_jwt authenticates with
a short JWT signed by a key pair the engine made itself. The private key
never leaves Vault: it is stored seal-wrapped and never returned, logged or
exported. The server needs only the public key, in one of three forms:

  vault read -format=json palo/config/<name>/jwks    the JWKS, to paste into
                                                      the client registration
  <VAULT_ADDR>/v1/palo/jwks/<name>                    the same JWKS, without a
                                                      Vault token, as the
                                                      client's jwks_uri
  vault read -field=certificate palo/config/<name>   a self-signed certificate
                                                      of the key (Entra ID)

The unauthenticated path reveals public keys only, and that a private_key_jwt
config of that name exists. The JWKS lists the current key, the next key
while a rotation is pending (see config/<name>/rotate-root and
rotation_overlap), and a retired key until no token it obtained can still be
in use.
`
