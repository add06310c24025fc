//go:build !unix

package applier

import "io/fs"

// checkPrivate: this platform keeps no Unix mode or owner to check.
func checkPrivate(string, fs.FileInfo) error { return nil }

// fileIdentity: this platform's file identity is not read; "" never matches.
func fileIdentity(fs.FileInfo) string { return "" }
