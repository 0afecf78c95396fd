# Puts vault-plugin-secrets-palo into a Vault: the catalog entry, the mount,
# the vendor configs and roles, and one read-only policy per team. The
# plugin binary must already be in Vault's plugin directory on every node
# (Terraform does not copy files onto Vault servers).

locals {
  policy_prefix = coalesce(var.policy_prefix, "${replace(var.mount_path, "/", "-")}-")

  # The write-only field that holds each provider's secret.
  secret_field = {
    paloalto_saas_security = "client_secret"
    paloalto_scm           = "client_secret"
    oracle_casb            = "access_secret"
    bright_pattern         = "client_secret"
    oauth2                 = "client_secret"
  }
}

resource "vault_plugin" "palo" {
  type    = "secret"
  name    = var.plugin_name
  command = coalesce(var.plugin_command, var.plugin_name)
  version = var.plugin_version
  sha256  = var.plugin_sha256

  # A new version or binary replaces the catalog entry: register the new one
  # before the old one goes, so that the mount always has one to run.
  lifecycle {
    create_before_destroy = true
  }
}

resource "vault_mount" "palo" {
  path                      = var.mount_path
  type                      = vault_plugin.palo.name
  plugin_version            = vault_plugin.palo.version
  description               = var.mount_description
  default_lease_ttl_seconds = var.default_lease_ttl_seconds
  max_lease_ttl_seconds     = var.max_lease_ttl_seconds
}

# config/<name>. The secret is sent on every write but never returned by a
# read; ignore_absent_fields compares only the fields a read returns, so
# plans stay clean while a changed secret still shows as a change (against
# the state, which therefore holds the secret: protect the state). Fields
# left null are not sent, and the engine keeps their defaults.
resource "vault_generic_endpoint" "config" {
  for_each = var.configs

  path                 = "${vault_mount.palo.path}/config/${each.key}"
  ignore_absent_fields = true
  data_json = jsonencode(merge(
    { for field, value in each.value : field => value if value != null },
    { (local.secret_field[each.value.provider]) = var.config_secrets[each.key] },
  ))
}

# roles/<name>, every field written so that removing one resets it.
resource "vault_generic_endpoint" "role" {
  for_each = var.roles

  path                 = "${vault_mount.palo.path}/roles/${each.key}"
  ignore_absent_fields = true
  data_json            = jsonencode(each.value)

  # A role's config must exist when the role is written, and a config in use
  # cannot be deleted: depend on all of them.
  depends_on = [vault_generic_endpoint.config]
}

# One policy per team: read on its own roles' creds paths, nothing else.
resource "vault_policy" "team" {
  for_each = var.teams

  name = coalesce(each.value.policy, "${local.policy_prefix}${each.key}")
  policy = join("\n", [
    for role in sort(distinct(each.value.roles)) : <<-EOT
      path "${vault_mount.palo.path}/creds/${role}" {
        capabilities = ["read"]
      }
    EOT
  ])

  lifecycle {
    precondition {
      condition     = alltrue([for role in each.value.roles : contains(keys(var.roles), role)])
      error_message = "Team ${each.key} names a role that is not in var.roles."
    }
  }
}
