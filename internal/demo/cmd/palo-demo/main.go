// Command palo-demo writes the demo's fixtures into a private folder for
// scripts/lib.sh (`make demo`, `make dev`): the fake vendor's demo accounts
// with random secrets (accounts.json, for fakevendor -accounts), each
// secret in secrets/<config>, and the declarative file palo-configure
// writes into Vault (palo.json; it refers to ${FAKEVENDOR_URL} and
// ${FAKEVENDOR_CA_FILE}). See package demo.
//
// Usage: palo-demo DIR
package main

import (
	"fmt"
	"os"

	"github.com/vault-palo/vault-plugin-secrets-palo/internal/demo"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: palo-demo DIR")
		os.Exit(2)
	}
	if _, err := demo.Write(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "palo-demo: %v\n", err)
		os.Exit(1)
	}
}
