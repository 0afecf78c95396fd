package backend

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend/provider"
)

// What a config write may change, and how a request becomes the config to
// store: the merge onto the stored config, and the rules that keep a
// writer from learning or losing the credential.

// makeKey gives a private_key_jwt config the key pair it signs with when
// it has none (it is new, or has just switched to private_key_jwt), or a
// new one when the write changes where its assertions go: a key the server
// at the old address knows never signs for another. It returns a message
// for a 400 when no key can be made.
func (w *configWrite) makeKey(existing, entry *configEntry) string {
	if !provider.UsesKey(entry.Values) {
		return ""
	}
	moved := existing != nil && len(entry.destinationsChangedFrom(existing)) > 0
	if entry.Values[provider.SigningKey.Name] != "" && !moved {
		return ""
	}
	if w.key == "" {
		key, err := provider.NewSigningKey(entry.Values[provider.KeyType.Name], entry.Values[provider.ClientID.Name])
		if err != nil {
			return err.Error()
		}
		w.key = key
		msg := "a new key pair was made"
		if moved {
			msg += " because the write changes where its assertions go (" + strings.Join(entry.destinationsChangedFrom(existing), ", ") +
				"); the previous key no longer signs and leaves the JWKS"
		}
		w.warnings = append(w.warnings, msg+". Register its public key with the server before reading creds: the JWKS "+
			"at config/<name>/jwks or, unauthenticated, at the jwks_path the config read shows, or its certificate")
	}
	entry.Values[provider.SigningKey.Name] = w.key
	delete(entry.Values, provider.RetiredKeys.Name)
	return ""
}

// checkConfigChange refuses, with a message naming the fields, a write
// that would let its writer learn the stored credential or lose the way
// back to it:
//
//   - one that changes where the credential is sent (token_url, ca_cert,
//     proxy_url, and the provider's Destination fields such as iam_url)
//     without carrying the secret too: who may change a config's
//     destination is then who may hold its secret;
//   - one that writes the credential, or changes the vendor login, while a
//     rotation of the config runs, here or on another instance: its store
//     would overwrite, or be overwritten by, the rotation's;
//   - one that changes the login a rotation whose outcome is unknown began
//     with (client_id and the fields only rotation uses, such as
//     service_account_id) without a credential to verify: the rotation is
//     resumed for the account it began with, and a login changed under it
//     could leave no working credential.
func checkConfigChange(name string, existing, entry *configEntry, held bool, since time.Time, pending *provider.Pending, req *logical.Request) string {
	if existing == nil {
		return ""
	}
	w := entry.rotationTerms()
	if held && (secretGiven(req) || existing.fingerprint() != entry.fingerprint() || !maps.Equal(existing.Values, entry.Values)) {
		return fmt.Sprintf("config %q: a rotation of its credential is running (since %s); this write would overwrite or lose "+
			"the rotated %s. Wait for it to end (read config/%s) and write again", name, formatTime(since), w.Credential, name)
	}
	if login := entry.loginChangedFrom(existing); pending != nil && !pending.ValidUntil.IsZero() && len(login) > 0 && !secretGiven(req) {
		return fmt.Sprintf("%s: config %q has a %s begun at %s whose outcome is unknown (its answer was lost); the engine resumes it "+
			"for the login it began with, and changing %s now could leave no working %s. Let rotate-root finish it "+
			"(read config/%s: rotation_pending), or write %s=... in the same write: it is verified with the vendor and ends "+
			"the pending %s", strings.Join(login, ", "), name, w.Changed, formatTime(pending.StartedAt), strings.Join(login, " and "),
			w.Credential, name, w.Field, w.Changed)
	}
	changed := entry.destinationsChangedFrom(existing)
	if len(changed) == 0 || secretGiven(req) || provider.UsesKey(entry.Values) {
		return "" // a private_key_jwt config gets a new key instead (makeKey)
	}
	secret := entry.secretField()
	return fmt.Sprintf("%s: changing where config %q sends its credentials needs %s in the same write; otherwise anyone allowed "+
		"to update the config could send the stored secret to an address of their choosing. Write %s=... with the new %s. "+
		"For a config the engine rotates, reset the secret at the vendor first (nobody knows the rotated one) and write it with the new address",
		strings.Join(changed, ", "), name, secret, secret, strings.Join(changed, " and "))
}

// destinationsChangedFrom lists the fields saying where the credential is
// sent that differ from old.
func (c *configEntry) destinationsChangedFrom(old *configEntry) []string {
	var changed []string
	for _, f := range []struct {
		name     string
		now, was string
	}{{"token_url", c.TokenURL, old.TokenURL}, {"ca_cert", c.CACert, old.CACert}, {"proxy_url", c.ProxyURL, old.ProxyURL}} {
		if f.now != f.was {
			changed = append(changed, f.name)
		}
	}
	for _, f := range c.descriptor().Fields {
		if f.Destination && c.Values[f.Name] != old.Values[f.Name] {
			changed = append(changed, f.Name)
		}
	}
	return changed
}

// loginChangedFrom lists the fields naming the account whose credential
// a rotation changes (client_id, and the fields only rotation uses) that
// differ from old.
func (c *configEntry) loginChangedFrom(old *configEntry) []string {
	var changed []string
	for _, f := range c.descriptor().Fields {
		if (f.Name == provider.ClientID.Name || f.RotationOnly && !f.Hidden) && c.Values[f.Name] != old.Values[f.Name] {
			changed = append(changed, f.Name)
		}
	}
	return changed
}

// secretField is the name of the provider's secret field.
func (c *configEntry) secretField() string {
	for _, f := range c.descriptor().Fields {
		if f.Secret && f.Applies(c.Values) {
			return f.Name
		}
	}
	return "client_secret"
}

// rotationTerms are the words of the config's rotation messages.
func (c *configEntry) rotationTerms() provider.Terms {
	if rot := c.rotation(); rot != nil {
		return rot.Terms()
	}
	return provider.Terms{Credential: "secret", Field: c.secretField()}
}

// secretGiven reports whether the request writes a secret field.
func secretGiven(req *logical.Request) bool {
	for _, f := range provider.Fields() {
		if _, ok := req.Data[f.Name]; ok && f.Secret {
			return true
		}
	}
	return false
}

// mergeConfig applies the request to the existing config (or to defaults
// for a new one) and validates the result. It returns a message for a 400
// when the input is wrong.
func mergeConfig(existing *configEntry, req *logical.Request, d *framework.FieldData) (*configEntry, string) {
	entry := &configEntry{
		RequestTimeout:      defaultRequestTimeout,
		DefaultTokenTTL:     defaultTokenTTL,
		AuthFailureCooldown: defaultAuthFailureCooldown,
		VerifyConnection:    defaultVerifyConnection,
		Values:              provider.Values{},
	}
	if existing != nil {
		entry = existing.clone()
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
	given, msg := setProviderFields(entry.Values, d)
	if msg != "" {
		return nil, msg
	}
	entry.setEngineFields(d)
	for _, f := range provider.Fields() {
		ok, why := desc.Takes(f.Name, entry.Values)
		switch {
		case ok:
		case given[f.Name] != "" && why == "":
			return nil, fmt.Sprintf("%s: does not apply to provider %s", given[f.Name], entry.Provider)
		case given[f.Name] != "":
			return nil, fmt.Sprintf("%s: does not apply %s", given[f.Name], why)
		default:
			delete(entry.Values, f.Name) // a field the config no longer takes
		}
	}
	if field := scheduleGiven(req); field != "" {
		if entry.rotation() == nil {
			return nil, fmt.Sprintf("%s: does not apply to provider %s: the engine cannot rotate its credential (see rotate-root)", field, entry.Provider)
		}
		if msg := entry.setSchedule(d); msg != "" {
			return nil, msg
		}
	}
	if entry.rotation() == nil {
		entry.schedule = schedule{}
	}
	entry.applyDefaults()
	if msg := entry.validate(); msg != "" {
		return nil, msg
	}
	return entry, ""
}

// setProviderFields copies the provider fields the request gives, under
// their names or their older names (aliases), into v, and reports which
// were given, each under the name the request used.
func setProviderFields(v provider.Values, d *framework.FieldData) (map[string]string, string) {
	given := map[string]string{}
	for _, f := range provider.Fields() {
		if f.Hidden {
			continue
		}
		raw, ok := d.GetOk(f.Name)
		if ok {
			given[f.Name] = f.Name
			if f.Duration {
				v[f.Name] = (time.Duration(raw.(int)) * time.Second).String()
			} else {
				v[f.Name] = raw.(string)
			}
		}
		if f.Alias == nil {
			continue
		}
		old, aliased := d.GetOk(f.Alias.Name)
		if !aliased {
			continue
		}
		cur, known := f.Alias.Resolve(old.(string))
		switch {
		case !known:
			return nil, fmt.Sprintf("%s: %q is not valid; use %s (or %s instead)", f.Alias.Name, old, strings.Join(slices.Sorted(maps.Keys(f.Alias.Values)), " or "), f.Name)
		case ok && cur != v[f.Name]:
			return nil, fmt.Sprintf("%s and %s disagree; give only %s", f.Alias.Name, f.Name, f.Name)
		}
		given[f.Name] = f.Alias.Name
		v[f.Name] = cur
	}
	return given, ""
}

// setEngineFields copies the engine's own fields that the request gives.
func (c *configEntry) setEngineFields(d *framework.FieldData) {
	for name, dst := range map[string]*string{"token_url": &c.TokenURL, "ca_cert": &c.CACert, "proxy_url": &c.ProxyURL} {
		if v, ok := d.GetOk(name); ok {
			*dst = v.(string)
		}
	}
	for name, dst := range map[string]*time.Duration{
		"request_timeout": &c.RequestTimeout, "default_token_ttl": &c.DefaultTokenTTL, "auth_failure_cooldown": &c.AuthFailureCooldown,
	} {
		if v, ok := d.GetOk(name); ok {
			*dst = time.Duration(v.(int)) * time.Second
		}
	}
	if v, ok := d.GetOk("verify_connection"); ok {
		c.VerifyConnection = v.(bool)
	}
}
