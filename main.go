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

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
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
