// Command vault is HashiCorp Vault 1.19.0, built from the Go module proxy for
// make compat, which runs the end-to-end suite against it. It is a tool for
// CI, not part of the plugin.
package main

import (
	"os"

	"github.com/hashicorp/vault/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:]))
}
