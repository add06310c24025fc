// Package reserved names the records gwsync keeps on the gateway itself:
// custom payload codecs with reserved names, which hold the lock every
// machine sees and the digests of the write-only values gwsync wrote. They
// are gwsync's own, never a user's resource: the planner, export, status
// and fleet skip them, and a site may not declare one.
//
// It is a leaf package with no dependency, so that site, nsapi, planner,
// applier and cli all share one list.
package reserved

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// The reserved custom payload codec names.
const (
	// LockCodec is the lock: created to take it (a second create is
	// answered 6 "Already exists"), deleted to release it.
	LockCodec = "gwsync-lock"
	// StateCodec holds the digests of the write-only values gwsync last
	// wrote (codecJson, FUOTA firmware files).
	StateCodec = "gwsync-state"
)

// Codecs lists the reserved codec names.
var Codecs = []string{LockCodec, StateCodec}

// Codec reports whether name is a reserved codec name (in any case: a
// gateway may compare names without regard to case).
func Codec(name string) bool {
	n := strings.TrimSpace(name)
	for _, r := range Codecs {
		if strings.EqualFold(n, r) {
			return true
		}
	}
	return false
}

// Digest is how the record on the gateway names a write-only value:
// "sha256:" and the hex SHA-256 of the value as sent.
func Digest(value string) string {
	sum := sha256.Sum256([]byte(value))
	return "sha256:" + hex.EncodeToString(sum[:])
}
