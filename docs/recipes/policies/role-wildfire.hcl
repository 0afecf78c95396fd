# Per role: one application may read one role's token. Attach it to the
# application's own identity (an AppRole, a Kubernetes service account
# role), not to a person.
#
#   vault policy write palo-wildfire-reader docs/recipes/policies/role-wildfire.hcl

path "palo/creds/wildfire" {
  capabilities = ["read"]
}
