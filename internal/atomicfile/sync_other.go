//go:build !unix

package atomicfile

// NoFollow is the open flag that refuses a symbolic link as the last
// element of a path; this platform has none, so callers check with
// os.Lstat as well.
const NoFollow = 0

// SyncDir makes the entries of dir durable. This platform makes a rename
// durable without syncing the folder (Windows flushes the metadata with
// the file), and cannot open a folder to sync it: nothing to do.
func SyncDir(dir string) error { return nil }
