# Per team: what bootstrap/configure.sh writes for a team (policy
# "palo-secops"). The team may read the tokens of its own roles and nothing
# else: no config/ (vendor accounts), no roles/ (bindings), no other team's
# creds/.
#
#   vault policy write palo-secops docs/recipes/policies/team-secops.hcl

path "palo/creds/wildfire" {
  capabilities = ["read"]
}

path "palo/creds/wildfire-child" {
  capabilities = ["read"]
}

path "palo/creds/saas" {
  capabilities = ["read"]
}
