# Vault Agent for an application that calls WildFire and Oracle CASB with
# tokens from vault-plugin-secrets-palo. Run it from this folder:
#
#   export VAULT_ADDR=https://vault.example.com:8200   # and VAULT_CACERT if needed
#   vault agent -config=agent.hcl
#
# It logs in with AppRole (the role-id and secret-id files beside this one;
# use the auth method of your platform instead, e.g. kubernetes or aws) and
# keeps two files in out/ current. Vault Agent re-reads a non-renewable
# leased secret at 85-95% of its lease, and the lease always ends before
# the token does, so the files always hold a valid token.

auto_auth {
  method "approle" {
    config = {
      role_id_file_path                   = "role-id"
      secret_id_file_path                 = "secret-id"
      remove_secret_id_file_after_reading = false
    }
  }
}

template_config {
  # Stop, rather than keep serving an old token, if Vault keeps refusing.
  exit_on_retry_failure = true
}

# The WildFire token alone, for a program that reads the file before each
# call (wildfire-submit.sh with WILDFIRE_TOKEN_FILE=out/wildfire-token).
template {
  source               = "wildfire-token.ctmpl"
  destination          = "out/wildfire-token"
  perms                = "0600"
  error_on_missing_key = true
}

# Oracle CASB: a curl configuration with both headers its API needs,
# Authorization and X-Apprity-Tenant-Id (used by casb-get.sh).
template {
  source               = "casb.curlrc.ctmpl"
  destination          = "out/casb.curlrc"
  perms                = "0600"
  error_on_missing_key = true
}
