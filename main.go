// Command gwsync keeps the LoRaWAN network server of Milesight gateways in
// the state that site files in git describe.
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"

	"github.com/gwsync/gwsync/cli"
)

// memoryLimit is the Go runtime's soft memory limit when GOMEMLIMIT is not
// set: the garbage collector works harder as the heap nears it, instead of
// letting it grow to twice what is live. A plan of 20,000 devices keeps
// about 106 MB live; without a limit its peak RSS is 216 MB, with it 155 MB.
// A site whose live heap is larger still runs, with more GC work.
const memoryLimit = 128 << 20

// gcPercent is the garbage collector's target when GOGC is not set: below
// the memory limit the heap may grow to five times what is live before a
// collection, as a run is short and its heap mostly lives to its end. A
// plan of 10,000 devices spends 8% less CPU than with the default 100.
const gcPercent = 400

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	os.Exit(run())
}

// run is the command; GWSYNC_CPUPROFILE=FILE writes a CPU profile of it
// (go tool pprof FILE), for the benchmarks of README "Speed".
func run() int {
	if path := os.Getenv("GWSYNC_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gwsync: GWSYNC_CPUPROFILE:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "gwsync: GWSYNC_CPUPROFILE:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	return cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}
