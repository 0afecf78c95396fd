package provider

import (
	"testing"
	"time"
)

func TestDescriptors(t *testing.T) {
	t.Parallel()
	for _, d := range Descriptors() {
		if d.Protocol == nil {
			t.Errorf("%s has no Protocol", d.Name)
		}
		if d.Vendor == "" || d.TokenURLHint == "" {
			t.Errorf("%s: Vendor or TokenURLHint is empty", d.Name)
		}
		if d.DefaultTokenURL != "" {
			if err := CheckTokenURL(d.DefaultTokenURL); err != nil {
				t.Errorf("%s: default token URL: %v", d.Name, err)
			}
		}
		secrets := 0
		for _, f := range d.Fields {
			if f.Secret && !f.Hidden {
				secrets++
			}
			if f.Required && f.Default != "" {
				t.Errorf("%s: %s is both required and defaulted", d.Name, f.Name)
			}
			if f.Default != "" {
				if err := f.Validate(f.Default); err != nil {
					t.Errorf("%s: default of %s: %v", d.Name, f.Name, err)
				}
				if _, err := time.ParseDuration(f.Default); f.Duration && err != nil {
					t.Errorf("%s: default of %s is not a duration: %v", d.Name, f.Name, err)
				}
			}
		}
		if secrets != 1 {
			t.Errorf("%s takes %d secret fields, want exactly one", d.Name, secrets)
		}
	}
}

// protocolOf is the protocol of the named provider, nil if unknown.
func protocolOf(name string) Protocol {
	d, _ := Describe(name)
	return d.Protocol
}
