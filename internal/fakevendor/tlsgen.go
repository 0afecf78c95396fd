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
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "fakevendor test CA", Organization: []string{"fakevendor"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(tlsValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate server key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: hosts[0], Organization: []string{"fakevendor"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(tlsValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse server certificate: %w", err)
	}
	return &TLSBundle{
		CACertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		CACert:    caCert,
		ServerCert: tls.Certificate{
			Certificate: [][]byte{der, caDER},
			PrivateKey:  key,
			Leaf:        leaf,
		},
	}, nil
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
