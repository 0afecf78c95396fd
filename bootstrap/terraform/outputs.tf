output "mount_path" {
  description = "Where the engine is mounted."
  value       = vault_mount.palo.path
}

output "mount_accessor" {
  description = "Accessor of the mount, for audit log filters."
  value       = vault_mount.palo.accessor
}

output "team_policies" {
  description = "Policy name of each team; attach them to the teams' auth roles."
  value       = { for team, policy in vault_policy.team : team => policy.name }
}

output "creds_paths" {
  description = "The path each role's token is read from."
  value       = { for role in keys(var.roles) : role => "${vault_mount.palo.path}/creds/${role}" }
}
