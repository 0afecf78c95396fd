variable "plugin_name" {
  description = "Name of the plugin in Vault's catalog; also the type of the mount."
  type        = string
  default     = "vault-plugin-secrets-palo"
}

variable "plugin_version" {
  description = "Version stamped into the plugin binary, the version of the release it comes from (vX.Y.Z). Vault refuses a registration whose version differs from the binary's."
  type        = string

  validation {
    condition     = can(regex("^v[0-9]+\\.[0-9]+\\.[0-9]+", var.plugin_version))
    error_message = "The plugin_version must be a semantic version starting with v (vX.Y.Z)."
  }
}

variable "plugin_sha256" {
  description = "SHA-256 of the plugin binary, hex-encoded (sha256sum vault-plugin-secrets-palo)."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.plugin_sha256))
    error_message = "The plugin_sha256 must be 64 lower-case hex digits."
  }
}

variable "plugin_command" {
  description = "File name of the binary in Vault's plugin directory; the plugin name when null. Give each version its own file name to keep the old one runnable for a rollback."
  type        = string
  default     = null
}

variable "previous_plugin_versions" {
  description = <<-EOT
    Versions kept registered beside plugin_version, for a rollback: version
    => the sha256 and command (file name in the plugin directory; the plugin
    name when null) of its binary. On an upgrade, move the current
    plugin_version, plugin_sha256 and plugin_command here; remove an entry
    when you no longer need to roll back to it, which deregisters it.
  EOT
  type = map(object({
    sha256  = string
    command = optional(string)
  }))
  default = {}

  validation {
    condition = alltrue([
      for version, p in var.previous_plugin_versions : can(regex("^v[0-9]+\\.[0-9]+\\.[0-9]+", version)) && can(regex("^[0-9a-f]{64}$", p.sha256))
    ])
    error_message = "Each previous_plugin_versions key must be a version (vX.Y.Z), and its sha256 64 lower-case hex digits."
  }
}

variable "mount_path" {
  description = "Where the secrets engine is mounted."
  type        = string
  default     = "palo"
}

variable "mount_description" {
  description = "Description of the mount."
  type        = string
  default     = "Short-lived vendor API tokens (vault-plugin-secrets-palo)"
}

variable "default_lease_ttl_seconds" {
  description = "The mount's default lease TTL in seconds; null keeps Vault's default. Leases never outlive the token whatever this says."
  type        = number
  default     = null
}

variable "max_lease_ttl_seconds" {
  description = "The mount's maximum lease TTL in seconds; null keeps Vault's default."
  type        = number
  default     = null
}

variable "configs" {
  description = <<-EOT
    Vendor accounts, by config name: the readable fields of config/<name>,
    as the engine takes them (see the README's API reference; the engine
    refuses a field its provider does not take, so this module keeps no list
    of them). Durations are whole seconds, as Vault returns them on read, so
    that plans stay clean. The secret of each config is not here: it is in
    config_secrets.
  EOT
  type        = any
  default     = {}

  validation {
    condition = alltrue([
      for c in values(var.configs) : can(c.provider) && length([for k in keys(c) : k if length(regexall("_secret$", k)) > 0]) == 0
    ])
    error_message = "Each config needs a provider, and none may hold its secret (a field ending in _secret): give that in config_secrets."
  }
}

variable "config_secrets" {
  description = "The secret of each config, by config name, as a map of the engine's secret field to its value: { \"scm-prod\" = { client_secret = \"...\" }, \"casb-prod\" = { access_secret = \"...\" } }. Every config needs an entry (a plan names the one missing), except one that signs with a key made in Vault (private_key_jwt). A config the engine rotates takes its secret from here once, when it is created, and never again. Pass it from a secret store or TF_VAR_config_secrets, never from a committed file."
  type        = map(map(string))
  sensitive   = true
  default     = {}
}

variable "rotated_configs" {
  description = "Names of configs whose secret the engine has rotated although they set no rotation_period (a rotate-root by hand): like the configs with a rotation_period, their secret is never written again."
  type        = set(string)
  default     = []
}

variable "roles" {
  description = "Roles, by name: which config each one uses and its overrides. Every field is written, so removing one here resets it in Vault."
  type = map(object({
    config  = string
    scope   = optional(string, "")
    tsg_id  = optional(string, "")
    ttl     = optional(number, 0)
    min_ttl = optional(number, 0)
    lease   = optional(bool, true)
  }))
  default = {}
}

variable "teams" {
  description = "Teams, by name: the roles whose tokens each may read. Each gets one ACL policy (named policy, or policy_prefix + team name)."
  type = map(object({
    roles  = list(string)
    policy = optional(string)
  }))
  default = {}
}

variable "policy_prefix" {
  description = "Prefix of the team policy names; the mount path (slashes as dashes) and a dash when null, such as palo-."
  type        = string
  default     = null
}
