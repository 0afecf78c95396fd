# Incident response: after rotating the scm-prod client secret at the
# vendor and writing it to palo/config/scm-prod, drop the cached tokens of
# that account, and nothing else. allowed_parameters pins the request to
# config=scm-prod: a purge of another config, of one role, or of the whole
# cache is refused.
#
#   vault policy write palo-scm-purge docs/recipes/policies/incident-purge.hcl

path "palo/cache/purge" {
  capabilities        = ["update"]
  required_parameters = ["config"]
  allowed_parameters = {
    "config" = ["scm-prod"]
  }
}

path "palo/cache" {
  capabilities = ["read"]
}
