package backend

import (
	"context"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

const secretTokenType = "palo_token"

// secretToken is the leased vendor token. It is not renewable: the lease
// already ends before the token does, and a new read gets a new lease.
// Revocation is a no-op: none of the vendors can revoke a token, and the
// token may be shared with other readers.
func secretToken(b *paloBackend) *framework.Secret {
	return &framework.Secret{
		Type: secretTokenType,
		Fields: map[string]*framework.FieldSchema{
			"access_token": {Type: framework.TypeString, Description: "The vendor's bearer token."},
		},
		Revoke: b.revokeToken,
	}
}

func (b *paloBackend) revokeToken(_ context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	role, _ := req.Secret.InternalData["role"].(string)
	b.Logger().Debug("lease revoked; the vendor token stays valid until it expires", "role", role)
	return nil, nil
}
