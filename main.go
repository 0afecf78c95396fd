// Command vault-plugin-secrets-palo is a HashiCorp Vault secrets engine that
// exchanges vendor API client secrets for short-lived bearer tokens.
//
// This file only serves the plugin; everything else lives in backend/.
package main

import (
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/plugin"

	"github.com/vault-palo/vault-plugin-secrets-palo/backend"
)

func main() {
	if err := plugin.ServeMultiplex(&plugin.ServeOpts{
		BackendFactoryFunc: backend.Factory,
	}); err != nil {
		hclog.New(&hclog.LoggerOptions{}).Error("plugin shutting down", "error", err)
		os.Exit(1)
	}
}
