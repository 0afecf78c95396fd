package fakevendor

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// TLSBundle is a throwaway certificate authority generated at run time and
// a server certificate it signed. The CA's private key is discarded once the
// server certificate is signed; only its certificate is kept, to be trusted
// by clients (for example through the plugin's ca_cert field).
type TLSBundle struct {
	// CACertPEM is the CA certificate, PEM-encoded.
	CACertPEM []byte
	// CACert is the CA certificate, parsed.
	CACert *x509.Certificate
	// ServerCert is the server certificate chain (leaf, then CA) and key.
	ServerCert tls.Certificate
}

// tlsValidity is how long the generated certificates are valid; they are
// back-dated by an hour to tolerate a skewed client clock.
const tlsValidity = 90 * 24 * time.Hour

// DefaultTLSHosts are the names the server certificate covers when
// GenerateTLS is given none.
var DefaultTLSHosts = []string{"127.0.0.1", "::1", "localhost"}

// GenerateTLS creates an ECDSA P-256 CA and a server certificate for hosts
// (IP addresses or DNS names; DefaultTLSHosts if none are given).
func GenerateTLS(hosts ...string) (*TLSBundle, error) {
	if len(hosts) == 0 {
		hosts = DefaultTLSHosts
	}
	now := time.Now()
	ca, err := newCert("CA", &x509.Certificate{
		Subject:               pkix.Name{CommonName: "fakevendor test CA"},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}, now, nil)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0]},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	server, err := newCert("server", tmpl, now, &ca)
	if err != nil {
		return nil, err
	}
	return &TLSBundle{
		CACertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.der}),
		CACert:    ca.cert,
		ServerCert: tls.Certificate{
			Certificate: [][]byte{server.der, ca.der},
			PrivateKey:  server.key,
			Leaf:        server.cert,
		},
	}, nil
}

// keyCert is a generated key and its certificate.
type keyCert struct {
	key  *ecdsa.PrivateKey
	der  []byte
	cert *x509.Certificate
}

// newCert makes a P-256 key and a certificate of it from tmpl, with a
// random serial, the organization "fakevendor", valid from an hour before
// now for tlsValidity, and signed by issuer (self-signed when issuer is
// nil). what names the certificate in errors.
func newCert(what string, tmpl *x509.Certificate, now time.Time, issuer *keyCert) (keyCert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return keyCert{}, fmt.Errorf("generate %s key: %w", what, err)
	}
	tmpl.SerialNumber = randomSerial()
	tmpl.Subject.Organization = []string{"fakevendor"}
	tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(tlsValidity)
	parent, parentKey := tmpl, key
	if issuer != nil {
		parent, parentKey = issuer.cert, issuer.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return keyCert{}, fmt.Errorf("create %s certificate: %w", what, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return keyCert{}, fmt.Errorf("parse %s certificate: %w", what, err)
	}
	return keyCert{key: key, der: der, cert: cert}, nil
}

// randomSerial returns a random 128-bit certificate serial number.
func randomSerial() *big.Int {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[0] &= 0x7f           // keep it positive
	return new(big.Int).SetBytes(b[:])
}

// ServerConfig returns a TLS configuration serving the server certificate
// over HTTP/1.1 only, TLS 1.2 at least. HTTP/1.1 keeps the reset fault a
// real TCP reset (HTTP/2 cannot hand over its connection).
func (b *TLSBundle) ServerConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{b.ServerCert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
}

// CertPool returns a pool holding only the CA certificate.
func (b *TLSBundle) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(b.CACert)
	return pool
}

// ClientConfig returns a TLS client configuration that trusts only the CA.
func (b *TLSBundle) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: b.CertPool(), MinVersion: tls.VersionTLS12}
}
