# Puts vault-plugin-secrets-palo into a Vault: the catalog entry, the mount,
# the vendor configs and roles, and one read-only policy per team. The
# plugin binary must already be in Vault's plugin directory on every node
# (Terraform does not copy files onto Vault servers).

locals {
  # Every registered version: the previous ones, and the current one last
  # so that its values win.
  plugin_versions = merge(var.previous_plugin_versions, {
    (var.plugin_version) = { sha256 = var.plugin_sha256, command = var.plugin_command }
  })

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

# One catalog entry per version: the current plugin_version and every
# version in previous_plugin_versions. A new binary under the same version
# (sha256, command) updates that entry in place. A new version is a new
# entry, and the previous one stays registered until it is removed from
# previous_plugin_versions, so that a rollback is a change of
# plugin_version alone.
resource "vault_plugin" "palo" {
  for_each = local.plugin_versions

  type    = "secret"
  name    = var.plugin_name
  command = coalesce(each.value.command, var.plugin_name)
  version = each.key
  sha256  = each.value.sha256
}

resource "vault_mount" "palo" {
  path                      = var.mount_path
  type                      = vault_plugin.palo[var.plugin_version].name
  plugin_version            = vault_plugin.palo[var.plugin_version].version
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
    { (local.secret_field[each.value.provider]) = lookup(var.config_secrets, each.key, "") },
  ))

  lifecycle {
    precondition {
      condition     = contains(nonsensitive(keys(var.config_secrets)), each.key)
      error_message = "Config ${each.key} has no entry in config_secrets: give its ${local.secret_field[each.value.provider]} there, by config name."
    }
  }
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
