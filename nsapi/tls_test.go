package nsapi_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/gwsync/gwsync/nsapi"
)

// testCA is a throw-away certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gwsync test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a certificate and key (PEM) for 127.0.0.1, for servers and clients.
func (ca *testCA) issue(t *testing.T, serial int64) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startTLSMochi runs a broker with a TLS listener; with clientCA, clients
// must present a certificate it signed.
func startTLSMochi(t *testing.T, ca *testCA, clientCA bool) string {
	t.Helper()
	certPEM, keyPEM := ca.issue(t, 2)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCA {
		pool := x509.NewCertPool()
		pool.AddCert(ca.cert)
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	s := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "tls", Address: "127.0.0.1:0", TLSConfig: tc})
	if err := s.AddListener(l); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve() }()
	t.Cleanup(func() { _ = s.Close() })
	return l.Address()
}

func TestDialTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	caFile := writeFile(t, dir, "ca.pem", ca.pem)
	clientCert, clientKey := ca.issue(t, 3)
	certFile, keyFile := writeFile(t, dir, "client.pem", clientCert), writeFile(t, dir, "client.key", clientKey)
	plain := startTLSMochi(t, ca, false)
	mutual := startTLSMochi(t, ca, true)

	cases := []struct {
		name   string
		cfg    nsapi.Config
		reason string // "" for success
	}{
		{"verified with the CA file", nsapi.Config{Broker: "ssl://" + plain, CAFile: caFile}, ""},
		{"unknown authority", nsapi.Config{Broker: "ssl://" + plain}, "certificate"},
		{"verification skipped", nsapi.Config{Broker: "ssl://" + plain, InsecureSkipVerify: true}, ""},
		{"client certificate", nsapi.Config{Broker: "ssl://" + mutual, CAFile: caFile, CertFile: certFile, KeyFile: keyFile}, ""},
		{"client certificate missing", nsapi.Config{Broker: "ssl://" + mutual, CAFile: caFile}, "tls"},
		{"key file without cert file", nsapi.Config{Broker: "ssl://" + mutual, KeyFile: keyFile}, "both a cert file and a key file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.RequestTopic, cfg.ResponseTopic, cfg.ConnectTimeout = "req", "resp", 5*time.Second
			c, err := nsapi.Dial(context.Background(), cfg)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				_ = c.Close()
				return
			}
			if err == nil {
				_ = c.Close()
				t.Fatal("Dial succeeded, want an error")
			}
			msg := err.Error()
			t.Log(msg)
			if strings.Contains(msg, "\n") || !strings.Contains(msg, cfg.Broker) || !strings.Contains(strings.ToLower(msg), strings.ToLower(tc.reason)) {
				t.Errorf("error %q: want one line naming %s and saying %q", msg, cfg.Broker, tc.reason)
			}
		})
	}
}

// startWSSMochi runs a broker with a websocket listener over TLS (wss://).
func startWSSMochi(t *testing.T, ca *testCA) string {
	t.Helper()
	certPEM, keyPEM := ca.issue(t, 4)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	_ = free.Close()
	s := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if err := s.AddListener(listeners.NewWebsocket(listeners.Config{ID: "wss", Address: addr, TLSConfig: tc})); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve() }()
	t.Cleanup(func() { _ = s.Close() })
	return addr
}

// TestDialWSS connects over MQTT on a TLS websocket, verifying the broker
// with the CA file, and refuses a broker it cannot verify.
func TestDialWSS(t *testing.T) {
	ca := newCA(t)
	caFile := writeFile(t, t.TempDir(), "ca.pem", ca.pem)
	addr := startWSSMochi(t, ca)
	cfg := nsapi.Config{Broker: "wss://" + addr, CAFile: caFile, RequestTopic: "req", ResponseTopic: "resp", ConnectTimeout: 5 * time.Second}
	var c *nsapi.Client
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		if c, err = nsapi.Dial(context.Background(), cfg); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // the listener starts in the background
	}
	if err != nil {
		t.Fatalf("Dial %s: %v", cfg.Broker, err)
	}
	_ = c.Close()

	cfg.CAFile = ""
	if c, err := nsapi.Dial(context.Background(), cfg); err == nil {
		_ = c.Close()
		t.Fatal("Dial without the CA succeeded, want a certificate error")
	} else if !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), cfg.Broker) {
		t.Errorf("error %q: want it to name %s and the certificate", err, cfg.Broker)
	}
}
