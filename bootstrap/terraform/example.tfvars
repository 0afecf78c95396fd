# Example values for the module (terraform plan -var-file=example.tfvars). No
# secrets here: pass config_secrets from your secret store, or in the
# environment of the run as
# TF_VAR_config_secrets='{"scm-prod":{"client_secret":"..."},"casb-prod":{"access_secret":"..."},...}'.

plugin_version = "v0.1.0"
# sha256sum vault-plugin-secrets-palo
plugin_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
mount_path    = "palo"

configs = {
  "scm-prod" = {
    provider  = "paloalto_scm"
    client_id = "wildfire-sa@1234567890.iam.panserviceaccount.com"
    tsg_id    = "1234567890"
    # The engine resets this secret every 30 days: Terraform writes the
    # secret of config_secrets once, when it creates the config.
    rotation_period = 2592000
  }
  "saas-prod" = {
    provider  = "paloalto_saas_security"
    client_id = "0oa1example2client3id"
    # Another region: https://api.aperture-eu.paloaltonetworks.com/oauth/token
    token_url = "https://api.aperture.paloaltonetworks.com/oauth/token"
  }
  "casb-prod" = {
    provider        = "oracle_casb"
    token_url       = "https://example-pod.palerra.net/api/v1/token"
    access_key      = "EXAMPLEACCESSKEY"
    request_timeout = 20
  }
}

roles = {
  "wildfire" = {
    config = "scm-prod"
  }
  "wildfire-child" = {
    config = "scm-prod"
    tsg_id = "1234567891"
    ttl    = 600
  }
  "saas" = {
    config = "saas-prod"
  }
  "casb" = {
    config = "casb-prod"
    lease  = false
  }
}

teams = {
  "secops" = {
    roles = ["wildfire", "wildfire-child", "saas"]
  }
  "cloudops" = {
    roles = ["casb"]
  }
}
