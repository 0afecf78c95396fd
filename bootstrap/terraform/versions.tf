terraform {
  # optional() object attributes with defaults need Terraform 1.3 (or any
  # OpenTofu release).
  required_version = ">= 1.3"

  required_providers {
    vault = {
      source = "hashicorp/vault"
      # vault_plugin, and plugin_version on vault_mount, are in every 4.x
      # and 5.x release.
      version = ">= 4.0, < 6.0"
    }
  }
}
