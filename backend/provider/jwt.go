package provider

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// private_key_jwt (RFC 7523 section 2.2, OpenID Connect Core section 9): the
// client authenticates with a short JWT signed by a private key that the
// engine makes itself and never shows; the server holds only the public key,
// from a JWKS pasted into its client registration or fetched from the
// engine's jwks_uri. Rotation (keyRotation) publishes the next key beside the
// current one and switches to it once the server accepts it.

// AuthPrivateKeyJWT is the token endpoint authentication method that signs
// a client assertion with a key made in Vault.
const AuthPrivateKeyJWT = "private_key_jwt"

// ClientAssertionType is the client_assertion_type of RFC 7523.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Key types of private_key_jwt, with the algorithm each signs with.
const (
	KeyEC256   = "ec-p256"  // ES256
	KeyRSA2048 = "rsa-2048" // RS256
	KeyEd25519 = "ed25519"  // EdDSA
)

// assertionLifetime is how long a client assertion is valid: servers refuse
// one that lives long (at most five minutes is common), and each is used
// once.
const assertionLifetime = time.Minute

// certificateLifetime is how long the self-signed certificate of a key is
// valid; a rotation makes a new one.
const certificateLifetime = 10 * 365 * 24 * time.Hour

// DefaultRotationOverlap is rotation_overlap when a config sets none.
const DefaultRotationOverlap = 24 * time.Hour

// UsesKey reports whether a config with values v signs client assertions
// with a key pair the engine makes (private_key_jwt).
func UsesKey(v Values) bool { return v[TokenEndpointAuthMethod.Name] == AuthPrivateKeyJWT }

// The config fields of private_key_jwt.
var (
	KeyType = Field{
		Name: "key_type", Label: "Key type", RotationOnly: true,
		Description: "The kind of key pair the engine makes for private_key_jwt: " + KeyEC256 + " (ES256), " + KeyRSA2048 +
			" (RS256) or " + KeyEd25519 + " (EdDSA). A change applies to the next key (rotate-root).",
		Values: []string{KeyEC256, KeyRSA2048, KeyEd25519},
	}
	AssertionAudience = Field{
		Name: "assertion_audience", Label: "Assertion audience", Destination: true,
		Description: "The aud claim of the client assertion, when the server wants one other than the token endpoint URL " +
			"(some want their issuer URL). Empty: the token_url.",
		Check: textCheck("assertion_audience", MaxURLLen),
	}
	RotationOverlap = Field{
		Name: "rotation_overlap", Label: "Rotation overlap", Duration: true, RotationOnly: true,
		Description: "How long the next key is published beside the current one before the engine may sign with it: " +
			"time for a server with a static registration to be given it, and for one that caches the jwks_uri to fetch it. " +
			"0 switches as soon as the server accepts the next key.",
		Check: func(v string) error { return durationCheck("rotation_overlap", v, 0, 90*24*time.Hour) },
	}
	// SigningKey holds the current private key (a JWK with its self-signed
	// certificate); the engine makes it and never shows it.
	SigningKey = Field{Name: "signing_key", Label: "Signing key", Secret: true, Hidden: true}
	// RetiredKeys holds the public keys signing stopped with, each until
	// no token it obtained can still be in use; they stay in the JWKS
	// until then.
	RetiredKeys = Field{Name: "retired_keys", Label: "Retired keys", Hidden: true, RotationOnly: true}
)

// durationCheck accepts a Go duration between lo and hi.
func durationCheck(field, v string, lo, hi time.Duration) error {
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		return fmt.Errorf("%s: %s is out of range; use %s to %s", field, truncate(v, 40), lo, hi)
	}
	return nil
}

// keyAlgorithm is the JWS algorithm of each key type.
var keyAlgorithm = map[string]jose.SignatureAlgorithm{KeyEC256: jose.ES256, KeyRSA2048: jose.RS256, KeyEd25519: jose.EdDSA}

// NewSigningKey makes a key pair of keyType with a self-signed certificate
// whose subject is clientID, and returns it as a private JWK (JSON): its
// kid is the RFC 7638 thumbprint, its alg the key type's, its use sig.
func NewSigningKey(keyType, clientID string) (string, error) {
	alg, ok := keyAlgorithm[keyType]
	if !ok {
		return "", fmt.Errorf("key_type: %q is not one of %s", truncate(keyType, 40), quotedList(KeyType.Values))
	}
	var priv crypto.Signer
	var err error
	switch keyType {
	case KeyEC256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyRSA2048:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		return "", fmt.Errorf("making a %s key: %w", keyType, err)
	}
	pub := jose.JSONWebKey{Key: priv.Public()}
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("the key's thumbprint: %w", err)
	}
	cert, err := selfSigned(priv, clientID)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(cert.Raw)
	jwk := jose.JSONWebKey{
		Key: priv, KeyID: base64.RawURLEncoding.EncodeToString(thumb), Algorithm: string(alg), Use: "sig",
		Certificates: []*x509.Certificate{cert}, CertificateThumbprintSHA256: sum[:],
	}
	b, err := jwk.MarshalJSON()
	return string(b), err
}

// selfSigned makes a certificate of priv's public key, signed by priv, for
// servers that register a client by certificate (Microsoft Entra ID).
func selfSigned(priv crypto.Signer, clientID string) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: truncate(clientID, 64)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certificateLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return nil, fmt.Errorf("the key's certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// parseKey reads a private JWK that NewSigningKey made.
func parseKey(raw string) (jose.JSONWebKey, error) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON([]byte(raw)); err != nil || k.IsPublic() || !k.Valid() {
		return k, errors.New("the stored signing key cannot be read")
	}
	return k, nil
}

// PublicKey is a key of a JWKS: a public JWK, with the time it leaves the
// set (zero: it stays).
type PublicKey struct {
	jose.JSONWebKey
	RetireAt time.Time
}

// retiredKey is how RetiredKeys stores one key.
type retiredKey struct {
	Key      json.RawMessage `json:"key"`
	RetireAt time.Time       `json:"retire_at"`
}

// PublicKeys returns the keys a private_key_jwt config publishes: the
// current key, the next key of a pending rotation (nextKey, if any), and
// the retired keys that are still in use at now.
func PublicKeys(v Values, nextKey string, now time.Time) ([]PublicKey, error) {
	var keys []PublicKey
	for _, raw := range []string{v[SigningKey.Name], nextKey} {
		if raw == "" {
			continue
		}
		k, err := parseKey(raw)
		if err != nil {
			return nil, err
		}
		keys = append(keys, PublicKey{JSONWebKey: k.Public()})
	}
	retired, err := retiredKeys(v)
	if err != nil {
		return nil, err
	}
	for _, r := range retired {
		if now.Before(r.RetireAt) {
			keys = append(keys, r)
		}
	}
	return keys, nil
}

// retiredKeys reads RetiredKeys.
func retiredKeys(v Values) ([]PublicKey, error) {
	raw := v[RetiredKeys.Name]
	if raw == "" {
		return nil, nil
	}
	var stored []retiredKey
	if err := json.Unmarshal([]byte(raw), &stored); err != nil {
		return nil, errors.New("the stored retired keys cannot be read")
	}
	keys := make([]PublicKey, 0, len(stored))
	for _, s := range stored {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(s.Key); err != nil {
			return nil, errors.New("a stored retired key cannot be read")
		}
		keys = append(keys, PublicKey{JSONWebKey: k, RetireAt: s.RetireAt})
	}
	return keys, nil
}

// JWKS renders keys as a JSON Web Key Set (RFC 7517).
func JWKS(keys []PublicKey) ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, len(keys))}
	for i, k := range keys {
		set.Keys[i] = k.JSONWebKey
	}
	return json.Marshal(set)
}

// KeyID returns the kid of the key stored in v, "" when it has none.
func KeyID(v Values) string {
	k, err := parseKey(v[SigningKey.Name])
	if err != nil {
		return ""
	}
	return k.KeyID
}

// CertificatePEM returns the self-signed certificate of the key stored in
// v, PEM-encoded, "" when it has none.
func CertificatePEM(v Values) string {
	k, err := parseKey(v[SigningKey.Name])
	if err != nil || len(k.Certificates) == 0 {
		return ""
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.Certificates[0].Raw}))
}

// clientAssertion signs a client assertion for p (RFC 7523 section 3): iss
// and sub the client id, aud the token endpoint (or assertion_audience), a
// unique jti, iat and a short exp; the header names the key (kid) and its
// certificate (x5t#S256).
func clientAssertion(p Params, now time.Time) (string, error) {
	key, err := parseKey(p.Get(SigningKey))
	if err != nil {
		return "", configError(OAuth2, err.Error())
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if len(key.CertificateThumbprintSHA256) > 0 {
		opts = opts.WithHeader("x5t#S256", base64.RawURLEncoding.EncodeToString(key.CertificateThumbprintSHA256))
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Algorithm), Key: key}, opts)
	if err != nil {
		return "", configError(OAuth2, "the signing key cannot sign: "+err.Error())
	}
	jti := make([]byte, 18)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	aud := p.Get(AssertionAudience)
	if aud == "" {
		aud = p.TokenURL
	}
	claims := jwt.Claims{
		Issuer: p.Get(ClientID), Subject: p.Get(ClientID), Audience: jwt.Audience{aud},
		ID:       base64.RawURLEncoding.EncodeToString(jti),
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(assertionLifetime)),
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

// keyRotation rotates a private_key_jwt config's key pair. Begin makes the
// next key, which the engine publishes in the JWKS beside the current one
// from then on; Finish, once rotation_overlap has passed, fetches a token
// signed with the next key and, when the server accepts it, makes it the
// signing key. The old key's public part stays in the JWKS until no token
// it obtained can still be in use. A refusal keeps the next key pending:
// the server may not have it yet.
type keyRotation struct{}

const stateNextKey = "next_key"

func (keyRotation) Applies(v Values) bool { return UsesKey(v) }

func (keyRotation) Terms() Terms {
	return Terms{Credential: "signing key", Changed: "replaced", Saved: "published next key", Field: KeyType.Name}
}

func (keyRotation) Reports() []ResponseField {
	return []ResponseField{{"key_id", "The kid of the key the engine signs with from now on."}}
}

func (keyRotation) KeepsPending(error) bool { return true }

func (keyRotation) Begin(_ context.Context, env RotationEnv) (Pending, error) {
	keyType := env.Params.Get(KeyType)
	next, err := NewSigningKey(keyType, env.Params.Get(ClientID))
	if err != nil {
		return Pending{}, stepError("key", err)
	}
	overlap := DefaultRotationOverlap
	if d, err := time.ParseDuration(env.Params.Get(RotationOverlap)); err == nil {
		overlap = d
	}
	now := env.Now().UTC()
	return Pending{StartedAt: now, NotBefore: now.Add(overlap), State: map[string]string{stateNextKey: next}}, nil
}

func (keyRotation) Finish(ctx context.Context, env RotationEnv, pend Pending) (Outcome, error) {
	next := pend.State[stateNextKey]
	p := env.Params
	p.Values = cloneValues(p.Values)
	p.Values[SigningKey.Name] = next
	tok, err := env.fetch(ctx, p)
	if err != nil {
		return Outcome{}, stepError("accept", fmt.Errorf("the server does not accept the next key yet: %w", err))
	}
	retired, err := retire(env.Params.Values, env.Now().UTC(), tok.Lifetime())
	if err != nil {
		return Outcome{}, stepError("accept", err)
	}
	return Outcome{
		Values:   Values{SigningKey.Name: next, RetiredKeys.Name: retired},
		Info:     map[string]string{"key_id": KeyID(p.Values)},
		Verified: true,
	}, nil
}

// retire returns RetiredKeys with the current key of v added, kept in the
// JWKS for lifetime from now (no token it obtained lives longer), and the
// keys whose time is over dropped.
func retire(v Values, now time.Time, lifetime time.Duration) (string, error) {
	keys, err := retiredKeys(v)
	if err != nil {
		return "", err
	}
	keys = slices.DeleteFunc(keys, func(k PublicKey) bool { return !now.Before(k.RetireAt) })
	if cur, err := parseKey(v[SigningKey.Name]); err == nil {
		keys = append(keys, PublicKey{JSONWebKey: cur.Public(), RetireAt: now.Add(min(lifetime, MaxLifetime))})
	}
	stored := make([]retiredKey, len(keys))
	for i, k := range keys {
		raw, err := k.MarshalJSON()
		if err != nil {
			return "", err
		}
		stored[i] = retiredKey{Key: raw, RetireAt: k.RetireAt}
	}
	b, err := json.Marshal(stored)
	return string(b), err
}

// checkResource accepts space-separated absolute URIs without a fragment
// (RFC 8707 section 2).
func checkResource(v string) error {
	if err := textCheck("resource", MaxURLLen)(v); err != nil {
		return err
	}
	for _, r := range strings.Fields(v) {
		if !absoluteURI(r) {
			return errors.New("resource: each value must be an absolute URI without a fragment (RFC 8707)")
		}
	}
	return nil
}
