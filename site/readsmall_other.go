//go:build !unix

package site

import (
	"bytes"
	"os"
)

// readSmall is os.ReadFile, keeping the bytes in a slice of their size
// (os.ReadFile keeps at least 512 bytes: 20,000 key files, 10 MB instead of
// 0.7 MB).
func readSmall(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil || cap(b) <= 2*len(b) {
		return b, err
	}
	return bytes.Clone(b), nil
}
