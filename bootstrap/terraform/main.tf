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

  # The readable fields of each config, those left null left out.
  config_fields = { for name, c in var.configs : name => { for field, value in c : field => value if value != null } }

  # Whether the engine, not Terraform, keeps the secret of each config: it
  # rotates it (a rotation_period other than 0, a rotation_schedule, or the
  # config is named in rotated_configs; a rotation_period that is not a
  # number, such as "30d", counts as one), or the config signs with a key made in Vault
  # (private_key_jwt) and has no secret. A secret written over one the
  # engine rotated would undo the rotation and clear its record.
  pkjwt = { for name, c in local.config_fields : name => lookup(c, "token_endpoint_auth_method", "") == "private_key_jwt" }
  engine_keeps_secret = {
    for name, c in local.config_fields : name => (
      local.pkjwt[name] || contains(var.rotated_configs, name) ||
      try(tonumber(lookup(c, "rotation_period", 0)), 1) != 0 || lookup(c, "rotation_schedule", "") != ""
    )
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

# The first write of each config whose secret the engine rotates: its
# fields and its first secret. Terraform never writes it again
# (ignore_changes), whatever config_secrets says later; the config resource
# below keeps its other fields in line and deletes it.
resource "vault_generic_endpoint" "first_secret" {
  for_each = { for name, keeps in local.engine_keeps_secret : name => name if keeps && !local.pkjwt[name] }

  path                 = "${vault_mount.palo.path}/config/${each.key}"
  ignore_absent_fields = true
  disable_delete       = true
  data_json            = jsonencode(merge(local.config_fields[each.key], lookup(var.config_secrets, each.key, {})))

  lifecycle {
    ignore_changes = [data_json]
  }
}

# config/<name>. The secret is sent on every write but never returned by a
# read; ignore_absent_fields compares only the fields a read returns, so
# plans stay clean while a changed secret still shows as a change (against
# the state, which therefore holds the secret: protect the state). Fields
# left null are not sent, and the engine keeps their defaults. A config
# whose secret the engine keeps is written without it (see first_secret).
resource "vault_generic_endpoint" "config" {
  for_each = var.configs

  path                 = "${vault_mount.palo.path}/config/${each.key}"
  ignore_absent_fields = true
  data_json = jsonencode(merge(
    local.config_fields[each.key],
    local.engine_keeps_secret[each.key] ? {} : lookup(var.config_secrets, each.key, {}),
  ))
  depends_on = [vault_generic_endpoint.first_secret]

  lifecycle {
    precondition {
      condition     = local.pkjwt[each.key] || contains(nonsensitive(keys(var.config_secrets)), each.key)
      error_message = "Config ${each.key} has no entry in config_secrets: give its secret there, by config name and field (client_secret, or access_secret for oracle_casb)."
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
