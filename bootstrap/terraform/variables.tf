variable "plugin_name" {
  description = "Name of the plugin in Vault's catalog; also the type of the mount."
  type        = string
  default     = "vault-plugin-secrets-palo"
}

variable "plugin_version" {
  description = "Version stamped into the plugin binary, such as v0.1.0. Vault refuses a registration whose version differs from the binary's."
  type        = string
  default     = "v0.1.0"

  validation {
    condition     = can(regex("^v[0-9]+\\.[0-9]+\\.[0-9]+", var.plugin_version))
    error_message = "The plugin_version must be a semantic version starting with v, such as v0.1.0."
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
    error_message = "Each previous_plugin_versions key must be a version such as v0.1.0, and its sha256 64 lower-case hex digits."
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
    Vendor accounts, by config name: the readable fields of config/<name>
    (see the README's API reference). Durations are whole seconds, as Vault
    returns them on read, so that plans stay clean. The secret of each
    config is not here: it is in config_secrets.
  EOT
  type = map(object({
    provider              = string
    token_url             = optional(string)
    client_id             = optional(string)
    access_key            = optional(string)
    tsg_id                = optional(string)
    scope                 = optional(string)
    auth_style            = optional(string)
    iam_url               = optional(string)
    service_account_id    = optional(string)
    rotation_period       = optional(string)
    ca_cert               = optional(string)
    proxy_url             = optional(string)
    request_timeout       = optional(number)
    default_token_ttl     = optional(number)
    auth_failure_cooldown = optional(number)
    verify_connection     = optional(bool)
  }))
  default = {}

  validation {
    condition = alltrue([
      for c in values(var.configs) : contains(["paloalto_saas_security", "paloalto_scm", "oracle_casb", "bright_pattern", "oauth2"], c.provider)
    ])
    error_message = "Each config's provider must be paloalto_saas_security, paloalto_scm, oracle_casb, bright_pattern or oauth2."
  }
}

variable "config_secrets" {
  description = "The secret of each config, by config name: its client_secret, or for oracle_casb its access_secret. Every config in var.configs needs an entry (a plan names the one missing). Pass it from a secret store or TF_VAR_config_secrets, never from a committed file."
  type        = map(string)
  sensitive   = true
  default     = {}
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
