package backend

import (
	"context"
	"fmt"
	"maps"
	"slices"
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
			Type:    framework.TypeBool,
			Default: defaultVerifyConnection,
			Description: "When true (the default), a write that changes the vendor login first fetches a token with the new settings " +
				"and is refused, with the vendor's error, if that fails.",
			DisplayAttrs: &framework.DisplayAttributes{Name: "Verify connection"},
		},
	}
	for _, f := range provider.Fields() {
		if f.Hidden {
			continue
		}
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
		if a := f.Alias; a != nil {
			fields[a.Name] = &framework.FieldSchema{
				Type: framework.TypeString,
				Description: fmt.Sprintf("The older name of %s, still accepted: %s. A read shows %s.",
					f.Name, aliasList(a), f.Name),
				AllowedValues: anySlice(slices.Sorted(maps.Keys(a.Values))),
				Deprecated:    true,
			}
		}
	}
	scheduleFields(fields)
	return fields
}

// defaultVerifyConnection is verify_connection when a write does not set
// it.
const defaultVerifyConnection = true

// aliasList says what an alias's values stand for: "basic =
// client_secret_basic, body = client_secret_post".
func aliasList(a *provider.Alias) string {
	var items []string
	for _, old := range slices.Sorted(maps.Keys(a.Values)) {
		items = append(items, old+" = "+a.Values[old])
	}
	return strings.Join(items, ", ")
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
	text := strings.Join(parts, ": ")
	if u.Unless != "" {
		text += "; does not apply " + u.Unless
	}
	return text
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
		if pf.Alias != nil {
			delete(f, pf.Alias.Name)
		}
	}
	maps.Copy(f, rotationStatusFields())
	maps.Copy(f, keyStatusFields())
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
	name := d.Get("name").(string)
	c, err := readConfigEntry(ctx, req.Storage, name)
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
	for _, f := range c.descriptor().Fields {
		if !f.Secret && !f.Hidden && f.Applies(c.Values) {
			data[f.Name] = c.readValue(f.Field)
		}
	}
	if c.rotation() != nil {
		c.readSchedule(data)
	}
	if provider.UsesKey(c.Values) {
		data["key_id"] = provider.KeyID(c.Values)
		data["certificate"] = provider.CertificatePEM(c.Values)
		data["jwks_path"] = jwksPath(req.MountPoint, name)
	}
	if err := b.addRotationStatus(ctx, req.Storage, name, c, data); err != nil {
		return nil, err
	}
	return &logical.Response{Data: data}, nil
}

// pathConfigWrite creates or updates a config. Nothing is stored unless the
// whole new config is valid and, where it must be verified, has fetched a
// token: a refused write leaves the stored config exactly as it was. A
// write that needs no vendor call reads, merges and stores under one hold
// of the config's lock. One that does verifies without the lock (no lock is
// held across a vendor call) and then merges again onto what is stored
// then; it is verified again only if the vendor login it makes changed
// meanwhile, and refused only if that keeps happening.
func (b *paloBackend) pathConfigWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name, resp := writeTarget(req, d)
	if resp != nil {
		return resp, nil
	}
	var w configWrite
	for range maxConfigWriteAttempts {
		if resp, done, err := b.writeConfig(ctx, req, d, name, &w); done {
			return resp, err
		}
	}
	return logical.ErrorResponse("config %q: its vendor login was changed by %d other writes while this one verified its settings; write again",
		name, maxConfigWriteAttempts), nil
}

// maxConfigWriteAttempts bounds how often a config write verifies.
const maxConfigWriteAttempts = 5

// configWrite is what one config write carries from attempt to attempt:
// what it verified (the login it would store and the stored config it
// would replace) and that verification's warnings.
type configWrite struct {
	verified string
	warnings []string
	// key is the key pair this write made (private_key_jwt), kept across
	// its attempts so that each stores the same one.
	key string
}

// writeConfig makes one attempt at a config write: under the config's
// lock it reads, merges, checks and, when no verification is due, stores.
// Otherwise it verifies without the lock and returns done false, for the
// next attempt to store what it verified.
func (b *paloBackend) writeConfig(ctx context.Context, req *logical.Request, d *framework.FieldData, name string, w *configWrite) (resp *logical.Response, done bool, err error) {
	lock := locksutil.LockForKey(b.configLocks, name)
	lock.Lock()
	locked := true
	defer func() {
		if locked {
			lock.Unlock()
		}
	}()
	existing, err := readConfigEntry(ctx, req.Storage, name)
	if err != nil {
		return nil, true, err
	}
	rec, err := readRotationRecord(ctx, req.Storage, name)
	if err != nil {
		return nil, true, err
	}
	held, since, err := b.rotationHeld(ctx, req.Storage, name)
	if err != nil {
		return nil, true, err
	}
	var live *provider.Pending
	if existing != nil {
		live = rec.livePending(existing)
	}
	entry, msg := mergeConfig(existing, req, d)
	if msg == "" {
		msg = checkConfigChange(name, existing, entry, held, since, live, req)
	}
	if msg == "" {
		msg = w.makeKey(existing, entry)
	}
	if msg != "" {
		return logical.ErrorResponse(msg), true, nil
	}
	var pending *provider.Pending
	if secretGiven(req) {
		pending = live
	}
	fp, base := entry.fingerprint(), ""
	if existing != nil {
		base = existing.fingerprint()
	}
	// A key made by this write cannot be known to the server yet: there
	// is nothing to verify until it is registered. A write that verified
	// once verifies again if the stored config changed meanwhile (a
	// rotation may have replaced the credential the vendor accepted).
	again := w.verified != ""
	mustVerify := pending != nil || again || entry.VerifyConnection && w.key == "" && base != fp
	// What was verified covers a pending rotation too: one recorded while
	// this write verified (its reset may have replaced the secret) is
	// verified against anew.
	var pendingSince string
	if pending != nil {
		pendingSince = pending.StartedAt.String()
	}
	if key := fp + "\x00" + base + "\x00" + pendingSince; mustVerify && key != w.verified {
		lock.Unlock()
		locked = false
		warnings, msg := b.verifyConfig(ctx, name, entry, pending, again)
		if msg != "" {
			return logical.ErrorResponse(msg), true, nil
		}
		w.verified, w.warnings = key, warnings
		return nil, false, nil
	}
	return b.storeConfig(ctx, req, name, existing, entry, rec, pending, w.warnings)
}

// storeConfig stores a merged, checked and (where due) verified config.
// The caller holds the config's lock.
func (b *paloBackend) storeConfig(ctx context.Context, req *logical.Request, name string, existing, entry *configEntry,
	rec *rotationRecord, pending *provider.Pending, warnings []string,
) (*logical.Response, bool, error) {
	newCredential := existing == nil || secretGiven(req) ||
		existing.Values[provider.SigningKey.Name] != entry.Values[provider.SigningKey.Name]
	// A config stored before SecretSetAt existed gets one on its next
	// write, unless a rotation is pending: that record was made for the
	// credential without one, and a new SecretSetAt would make it look
	// like a leftover.
	if newCredential || entry.SecretSetAt.IsZero() && rec.Pending == nil {
		entry.SecretSetAt = b.now().UTC()
	}
	if err := putJSON(ctx, req.Storage, configStoragePrefix+name, entry); err != nil {
		return nil, true, err
	}
	if newCredential && *rec != (rotationRecord{}) {
		// A new credential ends any pending rotation and error.
		if err := req.Storage.Delete(ctx, rotationStoragePrefix+name); err != nil {
			b.Logger().Warn("clearing the rotation record failed", "config", name, "error", err.Error())
		}
	}
	if pending != nil {
		warnings = append(warnings, fmt.Sprintf("a rotation begun at %s, whose outcome was unknown, is abandoned: the %s written "+
			"here was verified with the vendor and replaces it", formatTime(pending.StartedAt), entry.rotationTerms().Credential))
	}
	b.forgetConfig(name)
	b.scheduled.touch(name)
	b.Logger().Info("config written", "config", name, "provider", entry.Provider, "created", existing == nil)
	if len(warnings) == 0 {
		return nil, true, nil
	}
	return &logical.Response{Warnings: warnings}, true, nil
}

// verifyConfig fetches one token with a config that is not stored yet. It
// returns warnings, or a message for a 400 naming the config, the vendor,
// the HTTP status and the vendor's message. pending is the rotation whose
// outcome is unknown that the written secret would end, if any: then the
// write is verified whatever verify_connection says. again says the
// stored config changed while the write verified it once already.
func (b *paloBackend) verifyConfig(ctx context.Context, name string, entry *configEntry, pending *provider.Pending, again bool) ([]string, string) {
	client, err := entry.newClient(b.Logger().Named("provider").With("config", name), &b.transports)
	if err != nil {
		return nil, fmt.Sprintf("config %q: %v", name, err)
	}
	b.metrics.noteConfig(name, entry)
	ctx, cancel := context.WithTimeout(b.cache.CountRequests(ctx, name), entry.RequestTimeout)
	defer cancel()
	tok, err := client.Fetch(ctx, entry.params(nil))
	switch {
	case err != nil && pending != nil:
		return nil, fmt.Sprintf("config %q: a rotation begun at %s may have replaced the %s at the vendor (its answer was lost), so a "+
			"written %s is stored only once the vendor accepts it, and it refused this one: %v. Nothing was changed: the engine "+
			"still resumes that rotation%s on the next rotate-root or in the periodic check", name, formatTime(pending.StartedAt),
			entry.rotationTerms().Credential, entry.rotationTerms().Credential, err, validUntil(pending))
	case err != nil && again:
		return nil, fmt.Sprintf("config %q changed while this write verified it (a rotation stored a new %s, or another write "+
			"landed), and with that change the vendor refuses what this write would store: %v. Nothing was changed: read "+
			"config/%s and write again", name, entry.rotationTerms().Credential, err, name)
	case err != nil:
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
	rec, err := readRotationRecord(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	held, since, err := b.rotationHeld(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if held {
		return logical.ErrorResponse("config %q: a rotation of its credential is running (since %s); deleting the config now would "+
			"lose the rotated credential. Wait for it to end (read config/%s) and delete again", name, formatTime(since), name), nil
	}
	using, err := rolesUsingConfig(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if len(using) > 0 {
		return logical.ErrorResponse("config %q is used by role(s) %s; delete them or point them at another config first",
			name, strings.Join(using, ", ")), nil
	}
	existing, err := readConfigEntry(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if err := req.Storage.Delete(ctx, configStoragePrefix+name); err != nil {
		return nil, fmt.Errorf("deleting config %q: %w", name, err)
	}
	var resp *logical.Response
	if existing != nil {
		if p := rec.livePending(existing); p != nil {
			resp = &logical.Response{Warnings: []string{fmt.Sprintf("a rotation begun at %s, whose outcome was unknown, is abandoned with the config", formatTime(p.StartedAt))}}
		}
	}
	if err := req.Storage.Delete(ctx, rotationStoragePrefix+name); err != nil {
		b.Logger().Warn("clearing the rotation record failed", "config", name, "error", err.Error())
	}
	b.forgetConfig(name)
	b.scheduled.set(name, time.Time{})
	return resp, nil
}

// configHelp is the help text of config/<name>, its table of providers
// made from their descriptors.
func configHelp() string {
	const indent = "                          "
	var table strings.Builder
	for _, d := range provider.Descriptors() {
		items := make([]string, 0, len(d.Fields)+1)
		for _, f := range d.Fields {
			if f.Hidden {
				continue
			}
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
