package planner

import "github.com/gwsync/gwsync/internal/safefile"

// readFirmware reads a firmware file: a regular file under the firmware
// cap only (the site loader checked it already; this is the read the
// task carries).
func readFirmware(path string) ([]byte, error) {
	return safefile.Read(path, safefile.Firmware)
}
