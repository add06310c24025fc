// Command gwsync keeps the LoRaWAN network server of Milesight gateways in
// the state that site files in git describe.
package main

import (
	"os"
	"runtime/debug"

	"github.com/gwsync/gwsync/cli"
)

// memoryLimit is the Go runtime's soft memory limit when GOMEMLIMIT is not
// set: the garbage collector works harder as the heap nears it, instead of
// letting it grow to twice what is live. A plan of 20,000 devices keeps
// about 106 MB live; without a limit its peak RSS is 216 MB, with it 155 MB.
// A site whose live heap is larger still runs, with more GC work.
const memoryLimit = 128 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
