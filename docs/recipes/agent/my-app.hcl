# The application's policy: the two tokens agent.hcl renders, nothing else.
# approle-setup.sh writes it as policy "my-app".

path "palo/creds/wildfire" {
  capabilities = ["read"]
}

path "palo/creds/casb" {
  capabilities = ["read"]
}
