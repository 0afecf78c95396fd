# Delegated role management with allowed_parameters: team secops creates and
# changes its own roles (names starting with "secops-") and reads their
# tokens, but only on the scm-prod vendor account, and only for the two
# Tenant Service Groups it owns. It cannot touch config/ (the vendor
# secrets), other teams' roles, or the mount.
#
#   vault policy write palo-secops-role-admin docs/recipes/policies/secops-role-admin.hcl

path "palo/roles/secops-*" {
  capabilities        = ["create", "update", "read", "delete"]
  required_parameters = ["config"]
  allowed_parameters = {
    "config"  = ["scm-prod"]
    "tsg_id"  = ["1234567890", "1234567891"]
    "ttl"     = []
    "min_ttl" = []
    "lease"   = []
  }
}

path "palo/roles" {
  capabilities = ["list"]
}

path "palo/creds/secops-*" {
  capabilities = ["read"]
}
