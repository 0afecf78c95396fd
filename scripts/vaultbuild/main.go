// Command vault is the HashiCorp Vault CLI and server, built from the Go
// module proxy at the version pinned in go.mod. scripts/get-vault.sh builds
// it when no suitable vault binary is on PATH. It is a tool for development
// and CI, not part of the plugin.
package main

import (
	"os"

	"github.com/hashicorp/vault/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:]))
}
