// Command gwsync keeps the LoRaWAN network server of Milesight gateways in
// the state that site files in git describe.
package main

import (
	"os"

	"github.com/gwsync/gwsync/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
