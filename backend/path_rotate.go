package backend

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
)

func rotateRootResponseFields() map[string]*framework.FieldSchema {
	fields := map[string]*framework.FieldSchema{
		"last_vault_rotation": {Type: framework.TypeString, Description: "When the credential was rotated (RFC 3339, UTC)."},
		"next_vault_rotation": {Type: framework.TypeString, Description: "When the schedule rotates it next (RFC 3339, UTC); empty without a schedule."},
		"rotation_pending":    {Type: framework.TypeString, Description: "When the rotation could not finish yet: what it waits for. Empty when it finished."},
	}
	for _, d := range provider.Descriptors() {
		if d.Rotation == nil {
			continue
		}
		for _, f := range d.Rotation.Reports() {
			fields[f.Name] = &framework.FieldSchema{Type: framework.TypeString, Description: d.Name + ": " + f.Description}
		}
	}
	return fields
}

func pathRotateRoot(b *paloBackend) *framework.Path {
	return &framework.Path{
		Pattern: "config/" + namePattern("name") + "/rotate-root$",
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefix,
			OperationVerb:   "rotate",
			OperationSuffix: "root",
		},
		Fields: map[string]*framework.FieldSchema{
			"name": nameField("vendor config"),
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.UpdateOperation: &framework.PathOperation{
				Callback:                    b.pathRotateRoot,
				Summary:                     "Reset the config's client secret at the vendor and store the new one, which nobody sees (paloalto_scm only).",
				ForwardPerformanceStandby:   true,
				ForwardPerformanceSecondary: true,
				Responses: map[int][]framework.Response{
					http.StatusOK: {{Description: "OK", Fields: rotateRootResponseFields()}},
				},
			},
		},
		HelpSynopsis:    "Rotate a paloalto_scm config's client secret through the vendor's IAM API.",
		HelpDescription: strings.TrimSpace(rotateRootHelp),
	}
}

func (b *paloBackend) pathRotateRoot(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	if resp := rejectUnknown(req, d.Schema); resp != nil {
		return resp, nil
	}
	name := d.Get("name").(string)
	entry, err := readConfigEntry(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if entry == nil {
		return logical.ErrorResponse("config %q does not exist (see LIST config/)", name), nil
	}
	if entry.rotation() == nil {
		secret := entry.secretField()
		return logical.ErrorResponse("config %q is %s: the engine cannot rotate its %s (the vendor, %s, has no API to reset it). "+
			"Rotate it at the vendor, then write the new one: vault write %sconfig/%s %s=... (the write drops the old secret's cached tokens)",
			name, entry.Provider, secret, entry.descriptor().Vendor, req.MountPoint, name, secret), nil
	}

	res, err := b.rotate(ctx, req.Storage, name, "manual")
	var pe *provider.Error
	switch {
	case errors.Is(err, errRotationRunning):
		return logical.ErrorResponse("config %q: %v; wait for it to end and read config/%s", name, err, name), nil
	case errors.As(err, &pe) && pe.Kind == provider.KindConfig:
		return logical.ErrorResponse(err.Error()), nil
	case err != nil:
		return nil, err
	}
	stored, err := readConfigEntry(ctx, req.Storage, name)
	if err != nil || stored == nil {
		stored = entry
	}
	rec, err := readRotationRecord(ctx, req.Storage, name)
	if err != nil {
		rec = nil
	}
	data := map[string]any{
		"last_vault_rotation": formatTime(stored.LastVaultRotation),
		"next_vault_rotation": formatTime(stored.nextRotation(rec, b.now())),
		"rotation_pending":    res.waiting,
	}
	for k, v := range res.info {
		data[k] = v
	}
	resp := &logical.Response{Data: data, Warnings: res.warnings}
	if res.waiting != "" {
		resp.AddWarning("the rotation has begun and is not finished: " + res.waiting)
	}
	return resp, nil
}

const rotateRootHelp = `
Resets the client secret of a paloalto_scm config at the vendor (Strata
Cloud Manager IAM: POST /iam/v1/service_accounts/{id}/operations/reset) and
stores the new secret, seal-wrapped. Nobody sees it: not this response, not
a log, not the audit log. The response names the service account used.

  vault write -f palo/config/scm-prod/rotate-root

The service account is service_account_id, or else the one whose client_id
is the config's (the engine lists them). It needs an IAM role that may
manage service accounts; otherwise the vendor answers 403 and nothing
changes. Tokens already issued stay valid until they expire; readers keep
getting the cached token, and the next token is fetched with the new secret.
The rotation is reported done only after a token was fetched with it.

With rotation_period on the config, the engine rotates on its own that long
after the secret was last set; a failing scheduled rotation is retried with
backoff, and config/<name> shows last_rotation_error. One rotation per
config runs at a time: a second request is refused while one runs.

Other providers' vendors have no API for this: rotate their secrets at the
vendor and write them to the config.
`
