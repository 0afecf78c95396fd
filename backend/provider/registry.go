package provider

import (
	"sort"
	"strings"
)

// Descriptor is everything the engine, its help texts and its tests know
// about one provider. Each is written next to its protocol, in the
// provider's own file.
type Descriptor struct {
	Name string
	// Vendor names the vendor and the API, for help texts.
	Vendor string
	// DefaultTokenURL is used when a config sets no token_url; "" when the
	// endpoint is per tenant and token_url is required.
	DefaultTokenURL string
	// TokenURLHint describes the token URL for help texts: its default or
	// its form.
	TokenURLHint string
	// Fields are the provider-specific config fields it takes, in the order
	// help texts show them. Every other provider-specific field is refused.
	Fields []FieldUse
	// Extra are the response fields a token carries besides the standard
	// ones (Token.Extra).
	Extra []ResponseField
	// Protocol speaks to the token endpoint.
	Protocol Protocol
	// Rotation, when set, replaces the credential of a config whose values
	// it applies to with one nobody holds (rotate-root; see rotation.go).
	Rotation Rotation
	// scope is the scope a token is requested for; nil means the scope
	// field's value.
	scope func(p Params) string
}

// FieldUse is how one provider uses a Field.
type FieldUse struct {
	Field
	Required bool
	// Default is stored when a config gives no value (a duration: when
	// it is zero).
	Default string
	// Note says what the field holds for this provider, for help texts and
	// the message about a missing value.
	Note string
	// When, if set, limits the field to configs whose values it accepts
	// (for example a key type only with private_key_jwt): elsewhere the
	// field is refused, never required and never defaulted. Unless says
	// in words when the field does not apply, for messages and help.
	When   func(v Values) bool
	Unless string
}

// Applies reports whether the field belongs to a config with values v.
func (u FieldUse) Applies(v Values) bool { return u.When == nil || u.When(v) }

// ResponseField is a field of a token response that only some providers
// return.
type ResponseField struct {
	Name        string
	Description string
}

// descriptors holds every supported provider, in the order help texts list
// them.
var descriptors = []Descriptor{
	saasSecurityDescriptor,
	scmDescriptor,
	oracleCASBDescriptor,
	brightPatternDescriptor,
	oauth2Descriptor,
}

// Descriptors returns every supported provider, in the order help texts
// list them.
func Descriptors() []Descriptor { return append([]Descriptor(nil), descriptors...) }

// Describe returns the descriptor of the named provider.
func Describe(name string) (Descriptor, bool) {
	for _, d := range descriptors {
		if d.Name == name {
			return d, true
		}
	}
	return Descriptor{}, false
}

// Names returns the supported provider names, sorted.
func Names() []string {
	names := make([]string, 0, len(descriptors))
	for _, d := range descriptors {
		names = append(names, d.Name)
	}
	sort.Strings(names)
	return names
}

// RequestedScope is the scope a token is requested for, as the token
// request sends it: for example tsg_id:<id> for paloalto_scm, or SaaS
// Security's default when no scope is set.
func (p Params) RequestedScope() string {
	if d, _ := Describe(p.Provider); d.scope != nil {
		return d.scope(p)
	}
	return p.Get(Scope)
}

// allFields is every provider-specific field once, in the order of the
// descriptors.
var allFields = func() []Field {
	var fields []Field
	seen := map[string]bool{}
	for _, d := range descriptors {
		for _, f := range d.Fields {
			if !seen[f.Name] {
				seen[f.Name] = true
				fields = append(fields, f.Field)
			}
		}
	}
	return fields
}()

// Fields returns every provider-specific field once, in the order of the
// descriptors.
func Fields() []Field { return append([]Field(nil), allFields...) }

// Field returns how the provider uses the named field; ok is false when it
// does not take it.
func (d Descriptor) Field(name string) (FieldUse, bool) {
	for _, f := range d.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return FieldUse{}, false
}

// Takes reports whether a config of this provider with values v takes the
// named field, and when it does not, why ("" when the provider never
// takes it).
func (d Descriptor) Takes(name string, v Values) (bool, string) {
	f, ok := d.Field(name)
	if !ok {
		return false, ""
	}
	if !f.Applies(v) {
		return false, f.Unless
	}
	return true, ""
}

// Default returns the provider's default for the named field, "" if none.
func (d Descriptor) Default(name string) string {
	f, _ := d.Field(name)
	return f.Default
}

// ApplyDefaults fills in v the defaults of the fields that apply to it and
// are empty.
func (d Descriptor) ApplyDefaults(v Values) {
	for _, f := range d.Fields {
		if f.Default != "" && v[f.Name] == "" && f.Applies(v) {
			v[f.Name] = f.Default
		}
	}
}

// Missing lists the fields the provider requires of a config with values
// v that are empty, token_url (given as tokenURL) first when the provider
// has no default for it, each with its note ("tsg_id (the Tenant Service
// Group id, for example 1234567890)").
func (d Descriptor) Missing(tokenURL string, v Values) []string {
	var missing []string
	if d.DefaultTokenURL == "" && tokenURL == "" {
		missing = append(missing, "token_url")
	}
	for _, f := range d.Fields {
		if f.Required && v[f.Name] == "" && f.Applies(v) {
			item := f.Name
			if f.Note != "" {
				item += " (" + f.Note + ")"
			}
			missing = append(missing, item)
		}
	}
	return missing
}

// fieldNames strips the notes Missing adds.
func fieldNames(items []string) []string {
	names := make([]string, len(items))
	for i, it := range items {
		names[i], _, _ = strings.Cut(it, " ")
	}
	return names
}
