package provider

import "sort"

// protocols holds every supported provider by name.
var protocols = map[string]Protocol{
	PaloAltoSaaSSecurity: saasSecurity{},
	PaloAltoSCM:          scm{},
	OracleCASB:           oracleCASB{},
	BrightPattern:        brightPattern{},
	OAuth2:               oauth2Generic{},
}

// defaultTokenURLs are the token endpoints used when a config sets none.
var defaultTokenURLs = map[string]string{
	PaloAltoSaaSSecurity: "https://api.aperture.paloaltonetworks.com/oauth/token",
	PaloAltoSCM:          "https://auth.apps.paloaltonetworks.com/am/oauth2/access_token",
}

// Lookup returns the protocol of the named provider.
func Lookup(name string) (Protocol, bool) {
	p, ok := protocols[name]
	return p, ok
}

// Names returns the supported provider names, sorted.
func Names() []string {
	names := make([]string, 0, len(protocols))
	for n := range protocols {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DefaultTokenURL returns the provider's well-known token endpoint, or ""
// when the provider has none (Oracle CASB, Bright Pattern and oauth2 are per
// tenant) or is unknown.
func DefaultTokenURL(name string) string { return defaultTokenURLs[name] }
