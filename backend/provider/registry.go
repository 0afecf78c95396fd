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
	// Rotates is true when the vendor has an API to reset the client
	// secret, so the engine can rotate it (rotate-root; see iam.go).
	Rotates bool
	// scope is the scope a token is requested for; nil means Params.Scope.
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
}

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

// DefaultTokenURL returns the provider's well-known token endpoint, or ""
// when the provider has none (the endpoint is per tenant) or is unknown.
func DefaultTokenURL(name string) string {
	d, _ := Describe(name)
	return d.DefaultTokenURL
}

// RequestedScope is the scope a token is requested for, as the token
// request sends it: for example tsg_id:<id> for paloalto_scm, or SaaS
// Security's default when no scope is set.
func (p Params) RequestedScope() string {
	if d, _ := Describe(p.Provider); d.scope != nil {
		return d.scope(p)
	}
	return p.Scope
}

// Fields returns every provider-specific field once, in the order of the
// descriptors.
func Fields() []Field {
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
}

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

// Default returns the provider's default for the named field, "" if none.
func (d Descriptor) Default(name string) string {
	f, _ := d.Field(name)
	return f.Default
}

// Missing lists the fields the provider requires that value reports empty,
// token_url first when the provider has no default for it, each with its
// note ("tsg_id (the Tenant Service Group id, for example 1234567890)").
func (d Descriptor) Missing(value func(field string) string) []string {
	var missing []string
	if d.DefaultTokenURL == "" && value("token_url") == "" {
		missing = append(missing, "token_url")
	}
	for _, f := range d.Fields {
		if f.Required && value(f.Name) == "" {
			item := f.Name
			if f.Note != "" {
				item += " (" + f.Note + ")"
			}
			missing = append(missing, item)
		}
	}
	return missing
}

// checkParams returns a config error when p lacks a field its provider
// requires or has an invalid token URL. It is the protocol's
// last guard; the backend refuses such a config before it is stored.
func (d Descriptor) checkParams(p Params) error {
	if missing := d.Missing(p.value); len(missing) > 0 {
		return configError(d.Name, strings.Join(fieldNames(missing), ", ")+" is required")
	}
	if err := CheckTokenURL(p.tokenURL()); err != nil {
		return configError(d.Name, err.Error())
	}
	return nil
}

// fieldNames strips the notes Missing adds.
func fieldNames(items []string) []string {
	names := make([]string, len(items))
	for i, it := range items {
		names[i], _, _ = strings.Cut(it, " ")
	}
	return names
}
