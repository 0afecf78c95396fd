package backend

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/helper/locksutil"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
)

func configFields() map[string]*framework.FieldSchema {
	fields := map[string]*framework.FieldSchema{
		"name": nameField("vendor config"),
		"provider": {
			Type: framework.TypeString,
			Description: "The vendor protocol. Required on create; cannot change later. One of: " +
				strings.Join(provider.Names(), ", ") + ".",
			AllowedValues: anySlice(provider.Names()),
			DisplayAttrs:  &framework.DisplayAttributes{Name: "Provider"},
		},
		"token_url": {
			Type: framework.TypeString,
			Description: "The vendor's token endpoint. " + tokenURLDefaults() +
				" Must be https://; http:// is accepted for loopback hosts only.",
			DisplayAttrs: &framework.DisplayAttributes{Name: "Token URL"},
		},
		"ca_cert": {
			Type:         framework.TypeString,
			Description:  "PEM bundle of CA certificates trusted for the token endpoint, in addition to the system roots.",
			DisplayAttrs: &framework.DisplayAttributes{Name: "CA certificate"},
		},
		"proxy_url": {
			Type: framework.TypeString,
			Description: "HTTP(S) proxy for the token endpoint, for example http://proxy.example.com:3128. " +
				"When unset, the Vault process's HTTPS_PROXY and NO_PROXY apply. A password in it is not returned on read.",
			DisplayAttrs: &framework.DisplayAttributes{Name: "Proxy URL"},
		},
		"request_timeout": {
			Type:         framework.TypeDurationSecond,
			Description:  fmt.Sprintf("Deadline for one token fetch, retries included (default %s, %s to %s).", defaultRequestTimeout, minRequestTimeout, maxRequestTimeout),
			DisplayAttrs: &framework.DisplayAttributes{Name: "Request timeout"},
		},
		"default_token_ttl": {
			Type: framework.TypeDurationSecond,
			Description: fmt.Sprintf("Lifetime assumed when a vendor response carries none; a warning says so (default %s, %s to %s).",
				defaultTokenTTL, minDefaultTokenTTL, maxDefaultTokenTTL),
			DisplayAttrs: &framework.DisplayAttributes{Name: "Default token TTL"},
		},
		"auth_failure_cooldown": {
			Type: framework.TypeDurationSecond,
			Description: fmt.Sprintf("After the vendor rejects the credentials (401, 403, invalid_client), reads of this config fail fast "+
				"with the same error for this long instead of calling the vendor again (default %s; 0 turns it off). A config write clears it.",
				defaultAuthFailureCooldown),
			DisplayAttrs: &framework.DisplayAttributes{Name: "Auth failure cooldown"},
		},
		"verify_connection": {
			Type:         framework.TypeBool,
			Default:      true,
			Description:  "When true (the default), a write first fetches a token with the new settings and is refused, with the vendor's error, if that fails.",
			DisplayAttrs: &framework.DisplayAttributes{Name: "Verify connection"},
		},
	}
	for _, f := range provider.Fields() {
		fieldType := framework.TypeString
		if f.Duration {
			fieldType = framework.TypeDurationSecond
		}
		fields[f.Name] = &framework.FieldSchema{
			Type:          fieldType,
			Description:   providerFieldDescription(f),
			AllowedValues: anySlice(f.Values),
			DisplayAttrs:  &framework.DisplayAttributes{Name: f.Label, Sensitive: f.Secret},
		}
	}
	return fields
}

// providerFieldDescription describes a provider-specific field: what it
// holds, and how each provider that takes it uses it.
func providerFieldDescription(f provider.Field) string {
	var uses []string
	for _, d := range provider.Descriptors() {
		if u, ok := d.Field(f.Name); ok {
			uses = append(uses, d.Name+" ("+useText(u)+")")
		}
	}
	desc := f.Description + " Taken by " + strings.Join(uses, ", ") + "; refused for the other providers."
	if f.Secret {
		desc += " Write-only: never returned."
	}
	return desc
}

// useText says how a provider uses a field: "required: the tenant host",
// "default api_access", "optional".
func useText(u provider.FieldUse) string {
	var parts []string
	switch {
	case u.Required:
		parts = append(parts, "required")
	case u.Default != "":
		parts = append(parts, "default "+u.Default)
	case u.Note == "":
		parts = append(parts, "optional")
	}
	if u.Note != "" {
		parts = append(parts, u.Note)
	}
	return strings.Join(parts, ": ")
}

// tokenURLDefaults says which providers have a default token URL.
func tokenURLDefaults() string {
	var defaults []string
	for _, d := range provider.Descriptors() {
		if d.DefaultTokenURL != "" {
			defaults = append(defaults, d.DefaultTokenURL+" ("+d.Name+")")
		}
	}
	return "Defaults to " + strings.Join(defaults, " and ") + "; required for the others."
}

func anySlice(values []string) []any {
	if len(values) == 0 {
		return nil
	}
	out := make([]any, len(values))
	for i, v := range values {
		out[i] = v
	}
	return out
}

// configResponseFields documents what a config read returns.
func configResponseFields() map[string]*framework.FieldSchema {
	f := configFields()
	delete(f, "name")
	for _, pf := range provider.Fields() {
		if pf.Secret {
			delete(f, pf.Name)
		}
	}
	maps.Copy(f, rotationStatusFields())
	return f
}

func pathConfig(b *paloBackend) []*framework.Path {
	return resource{
		prefix:        "config",
		singular:      "config",
		plural:        "configs",
		fields:        configFields(),
		readFields:    configResponseFields(),
		storagePrefix: configStoragePrefix,
		write:         b.pathConfigWrite,
		read:          b.pathConfigRead,
		delete:        b.pathConfigDelete,
		createSummary: "Create a vendor config.",
		updateSummary: "Update a vendor config; fields not given keep their values.",
		readSummary:   "Read a vendor config. Secrets are never returned.",
		deleteSummary: "Delete a vendor config. Refused while roles use it.",
		listHelp:      "Lists the names of the vendor configs (accounts) stored under config/.",
		synopsis:      "Manage one vendor account: its provider, token endpoint and credentials.",
		help:          configHelp(),
	}.paths()
}

func (b *paloBackend) pathConfigRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	c, err := readConfigEntry(ctx, req.Storage, d.Get("name").(string))
	if err != nil || c == nil {
		return nil, err
	}
	data := map[string]any{
		"provider":              c.Provider,
		"token_url":             c.TokenURL,
		"ca_cert":               c.CACert,
		"proxy_url":             c.redactedProxyURL(),
		"request_timeout":       seconds(c.RequestTimeout),
		"default_token_ttl":     seconds(c.DefaultTokenTTL),
		"auth_failure_cooldown": seconds(c.AuthFailureCooldown),
		"verify_connection":     c.VerifyConnection,
	}
	for _, f := range provider.Fields() {
		if !f.Secret && takesField(c.Provider, f.Name) {
			data[f.Name] = c.readValue(f.Name)
		}
	}
	if err := b.addRotationStatus(ctx, req.Storage, d.Get("name").(string), c, data); err != nil {
		return nil, err
	}
	return &logical.Response{Data: data}, nil
}

// pathConfigWrite creates or updates a config. Nothing is stored unless the
// whole new config is valid and, with verify_connection, has fetched a
// token: a refused write leaves the stored config exactly as it was. A
// write merged onto a config that another write changed while this one
// verified (a vendor call, made without the lock) is merged again, and
// verified again only if the vendor login it makes changed.
func (b *paloBackend) pathConfigWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	if resp := rejectUnknown(req, d.Schema); resp != nil {
		return resp, nil
	}
	name := d.Get("name").(string)
	if resp := checkName(name); resp != nil {
		return resp, nil
	}
	var w configWrite
	for range maxConfigWriteAttempts {
		if resp, done, err := b.writeConfig(ctx, req, d, name, &w); done {
			return resp, err
		}
	}
	return logical.ErrorResponse("config %q was changed by %d other writes while this one verified its settings; write again",
		name, maxConfigWriteAttempts), nil
}

// maxConfigWriteAttempts bounds how often a config write merges again.
const maxConfigWriteAttempts = 5

// configWrite is what one config write carries from attempt to attempt:
// the fingerprint of the login it verified and that verification's
// warnings.
type configWrite struct {
	verified string
	warnings []string
}

// writeConfig makes one attempt at a config write: read and merge under
// the config's lock, verify without it, then store under it if the stored
// config is still the one merged onto. done is false when another write
// changed it meanwhile.
func (b *paloBackend) writeConfig(ctx context.Context, req *logical.Request, d *framework.FieldData, name string, w *configWrite) (resp *logical.Response, done bool, err error) {
	lock := locksutil.LockForKey(b.configLocks, name)
	lock.Lock()
	existing, err := readConfigEntry(ctx, req.Storage, name)
	lock.Unlock()
	if err != nil {
		return nil, true, err
	}
	entry, msg := mergeConfig(existing, req, d)
	if msg != "" {
		return logical.ErrorResponse(msg), true, nil
	}
	if fp := entry.fingerprint(); entry.VerifyConnection && fp != w.verified {
		warnings, msg := b.verifyConfig(ctx, name, entry)
		if msg != "" {
			return logical.ErrorResponse(msg), true, nil
		}
		w.verified, w.warnings = fp, warnings
	}

	lock.Lock()
	defer lock.Unlock()
	current, err := readConfigEntry(ctx, req.Storage, name)
	if err != nil {
		return nil, true, err
	}
	if (current == nil) != (existing == nil) || (current != nil && *current != *existing) {
		return nil, false, nil
	}
	secretGiven := entry.noteSecretWrite(req, existing, b.now())
	if err := putJSON(ctx, req.Storage, configStoragePrefix+name, entry); err != nil {
		return nil, true, err
	}
	if secretGiven {
		b.clearRotationRecord(ctx, req.Storage, name)
	}
	b.forgetConfig(name)
	b.Logger().Info("config written", "config", name, "provider", entry.Provider, "created", existing == nil)

	if !entry.VerifyConnection || len(w.warnings) == 0 {
		return nil, true, nil
	}
	return &logical.Response{Warnings: w.warnings}, true, nil
}

// mergeConfig applies the request to the existing config (or to defaults
// for a new one) and validates the result. It returns a message for a 400
// when the input is wrong.
func mergeConfig(existing *configEntry, req *logical.Request, d *framework.FieldData) (*configEntry, string) {
	var entry configEntry
	if existing != nil {
		entry = *existing
	} else {
		entry = configEntry{
			RequestTimeout:      defaultRequestTimeout,
			DefaultTokenTTL:     defaultTokenTTL,
			AuthFailureCooldown: defaultAuthFailureCooldown,
			VerifyConnection:    true,
		}
	}
	entry.SchemaVersion = schemaVersion

	if v, ok := d.GetOk("provider"); ok {
		p := strings.TrimSpace(v.(string))
		if existing != nil && p != existing.Provider {
			return nil, fmt.Sprintf("provider: cannot change from %q to %q; delete the config and create it again", existing.Provider, p)
		}
		entry.Provider = p
	}
	if entry.Provider == "" {
		return nil, "provider: required when creating a config; use one of " + strings.Join(provider.Names(), ", ")
	}
	desc, ok := provider.Describe(entry.Provider)
	if !ok {
		return nil, unsupportedProvider(entry.Provider)
	}
	for _, f := range provider.Fields() {
		if _, given := req.Data[f.Name]; given && !takesField(entry.Provider, f.Name) {
			return nil, fmt.Sprintf("%s: does not apply to provider %s", f.Name, entry.Provider)
		}
	}

	entry.set(d)
	entry.applyDefaults(desc)
	if msg := entry.validate(); msg != "" {
		return nil, msg
	}
	return &entry, ""
}

// set copies every field the request gives into the entry, but provider,
// which mergeConfig has checked.
func (c *configEntry) set(d *framework.FieldData) {
	for name := range d.Schema {
		v, ok := d.GetOk(name)
		if !ok || name == "provider" {
			continue
		}
		switch dst := c.field(name).(type) {
		case *string:
			*dst = v.(string)
		case *time.Duration:
			*dst = time.Duration(v.(int)) * time.Second
		case *bool:
			*dst = v.(bool)
		}
	}
}

// applyDefaults fills the provider's defaults into the fields left empty
// (a duration: zero).
func (c *configEntry) applyDefaults(desc provider.Descriptor) {
	if c.TokenURL == "" {
		c.TokenURL = desc.DefaultTokenURL
	}
	for _, f := range desc.Fields {
		if f.Default == "" || c.text(f.Name) != "" {
			continue
		}
		switch dst := c.field(f.Name).(type) {
		case *string:
			*dst = f.Default
		case *time.Duration:
			*dst, _ = time.ParseDuration(f.Default) // TestDescriptors parses every default
		}
	}
}

// verifyConfig fetches one token with a config that is not stored yet. It
// returns warnings, or a message for a 400 naming the config, the vendor,
// the HTTP status and the vendor's message.
func (b *paloBackend) verifyConfig(ctx context.Context, name string, entry *configEntry) ([]string, string) {
	client, err := entry.newClient(b.Logger().Named("provider").With("config", name), b.metrics.forConfig(name, entry.Provider))
	if err != nil {
		return nil, fmt.Sprintf("config %q: %v", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, entry.RequestTimeout)
	defer cancel()
	tok, err := client.Fetch(ctx, entry.params(nil))
	if err != nil {
		return nil, fmt.Sprintf("verify_connection: config %q could not fetch a token: %v "+
			"(fix the settings, or write with verify_connection=false to store them unverified)", name, err)
	}
	return lifetimeWarnings(tok, name, entry.DefaultTokenTTL), ""
}

func (b *paloBackend) pathConfigDelete(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	lock := locksutil.LockForKey(b.configLocks, name)
	lock.Lock()
	defer lock.Unlock()
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	using, err := rolesUsingConfig(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if len(using) > 0 {
		return logical.ErrorResponse("config %q is used by role(s) %s; delete them or point them at another config first",
			name, strings.Join(using, ", ")), nil
	}
	if err := req.Storage.Delete(ctx, configStoragePrefix+name); err != nil {
		return nil, fmt.Errorf("deleting config %q: %w", name, err)
	}
	b.clearRotationRecord(ctx, req.Storage, name)
	b.forgetConfig(name)
	return nil, nil
}

// configHelp is the help text of config/<name>, its table of providers
// made from their descriptors.
func configHelp() string {
	const indent = "                          "
	var table strings.Builder
	for _, d := range provider.Descriptors() {
		items := make([]string, 0, len(d.Fields)+1)
		for _, f := range d.Fields {
			switch {
			case f.Required && f.Note == "":
				items = append(items, f.Name)
			case f.Required:
				items = append(items, f.Name+" ("+f.Note+")")
			default:
				items = append(items, f.Name+" ("+useText(f)+")")
			}
		}
		items = append(items, "token_url ("+d.TokenURLHint+")")
		line := "  " + d.Name + indent[len(d.Name)+3:]
		for i, it := range items {
			if i < len(items)-1 {
				it += ","
			}
			if len(line) > len(indent) && len(line)+1+len(it) > 78 {
				table.WriteString(line + "\n")
				line = indent[:len(indent)-1]
			}
			line += " " + it
		}
		table.WriteString(line + "\n")
	}
	return strings.TrimSpace(fmt.Sprintf(configHelpFormat, table.String()))
}

const configHelpFormat = `
A config holds one vendor account: the provider, its token endpoint and the
credentials that are exchanged there for short-lived tokens.

  vault write palo/config/scm-prod provider=paloalto_scm \
      client_id=... client_secret=... tsg_id=1234567890

Providers and the fields each takes (required unless marked otherwise):

%s
A field that does not belong to the provider is refused. The provider cannot
change after creation. client_secret and access_secret are write-only and
stored seal-wrapped. With verify_connection (the default) a write first
fetches a token and is refused with the vendor's error if that fails; a
refused write changes nothing. Deleting a config that roles use is refused.

A read also shows last_vault_rotation and next_vault_rotation (RFC 3339, UTC,
empty when not applicable), and last_rotation_error and last_rotation_error_at
after a failed rotation (see config/<name>/rotate-root). A written
client_secret restarts the rotation schedule and clears a rotation error.
`
