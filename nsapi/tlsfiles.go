package nsapi

import (
	"crypto/tls"

	"github.com/gwsync/gwsync/internal/safefile"
)

// loadKeyPair is tls.LoadX509KeyPair reading its files through safefile:
// regular files of a bounded size only (a named pipe or /dev/zero given as
// a key file hung the connection or grew without bound).
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := safefile.Read(certFile, safefile.TLS)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := safefile.Read(keyFile, safefile.TLS)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(cert, key)
}

// readTLSFile reads a CA file through safefile.
func readTLSFile(path string) ([]byte, error) {
	return safefile.Read(path, safefile.TLS)
}
