package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

func TestSignJWT(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{"k1", ""} {
		jws, err := jose.ParseSignedCompact(SignJWT(t, jose.ES256, key, kid, map[string]any{"iss": "c", "n": 1}), []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		h := jws.Signatures[0].Protected
		if h.Algorithm != "ES256" || h.KeyID != kid || h.ExtraHeaders["typ"] != "JWT" {
			t.Errorf("kid %q: header %+v", kid, h)
		}
		payload, err := jws.Verify(&key.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		var claims map[string]any
		if err := json.Unmarshal(payload, &claims); err != nil || claims["iss"] != "c" || claims["n"] != float64(1) {
			t.Errorf("claims %s (%v)", payload, err)
		}
	}
}
