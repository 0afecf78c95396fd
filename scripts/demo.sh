#!/usr/bin/env bash
# The main job end to end, in one command (`make demo` builds the inputs
# first): a Vault dev server with the plugin registered and mounted at palo/,
# the fake vendor over TLS, one config and role per vendor, then
# `vault read palo/creds/wildfire`. Everything it started is stopped (by
# process id) when it exits, whether it succeeded or not.
#
# State (logs, the generated CA, the run's random demo secrets) is kept in
# .demo/ (git-ignored) until the next run. Settings: see scripts/lib.sh.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

palo_init "$palo_root/.demo"
# A previous demo that was killed may have left its processes: stop them,
# by the ids it recorded, before clearing its state.
palo_stop_all
rm -rf "${palo_state:?}/"*

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if ((status != 0)); then
    palo_tail vault
    palo_tail fakevendor
  fi
  log "stopping everything the demo started"
  palo_stop_all
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

palo_setup

palo_show read "$palo_mount/creds/wildfire"
echo
echo "(A WildFire API call would now send: Authorization: Bearer <access_token>.)"

# The description's first three paragraphs: what a read returns and how
# its lease is set. (awk reads all its input, so the pipe never breaks.)
echo
echo "\$ vault path-help $palo_mount/creds/wildfire   (its description, abridged)"
palo_vault path-help "$palo_mount/creds/wildfire" |
  awk '/^## DESCRIPTION/ { on = 1; next } on && /^$/ && seen { n++ } on && n < 3 { print; seen = 1 }'

echo
log "the demo worked; logs are in ${palo_state#"$palo_root/"}/"
