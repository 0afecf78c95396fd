#!/usr/bin/env bash
# A Vault dev server with the plugin and the fake vendor, left running for
# development (`make dev` builds the inputs first). The same setup as the
# demo: the plugin registered and mounted at palo/, one config and role per
# vendor (wildfire among them), all on loopback.
#
#   scripts/dev.sh          start, and print the export lines to use it
#   scripts/dev.sh env      print the export lines again: VAULT_ADDR,
#                           VAULT_TOKEN, and PATH with .dev/bin first, where
#                           `vault` is the binary this Vault runs
#   scripts/dev.sh status   say whether it runs
#   scripts/dev.sh stop     stop what `scripts/dev.sh` started, by process id
#
# State (pid files, logs, the generated CA, the random demo secrets) is kept
# in .dev/ (git-ignored). Settings: see scripts/lib.sh; VAULT_PORT defaults
# to 8200 here, so that the address stays the same from one run to the next.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

VAULT_PORT="${VAULT_PORT:-8200}"
palo_init "$palo_root/.dev"
env_file="$palo_state/env"

print_env() {
  cat "$env_file"
  echo "# or: eval \"\$(scripts/dev.sh env)\""
  echo "# stop with: scripts/dev.sh stop"
}

case "${1:-start}" in
start)
  if palo_running vault || palo_running fakevendor; then
    log "already running; here is how to use it (or: scripts/dev.sh stop)"
    print_env
    exit 0
  fi
  rm -rf "${palo_state:?}/"*
  # On any failure, stop what was started so far.
  trap 'status=$?; if ((status != 0)); then palo_stop_all; fi' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  palo_setup
  # The vault CLI of this server, as .dev/bin/vault: the printed commands
  # need one, and a machine where get-vault.sh built it has none on PATH.
  mkdir -p "$palo_state/bin"
  ln -sf "$palo_vault_bin" "$palo_state/bin/vault"
  {
    echo "export VAULT_ADDR=$VAULT_ADDR"
    echo "export VAULT_TOKEN=$VAULT_TOKEN"
    echo "export PATH=\"$palo_state/bin:\$PATH\""
  } >"$env_file"
  trap - EXIT INT TERM
  echo
  log "running: Vault (pid $(cat "$palo_state/vault.pid")) and the fake vendor (pid $(cat "$palo_state/fakevendor.pid") at $palo_vendor_url)"
  log "try: vault read palo/creds/wildfire"
  print_env
  ;;
env)
  palo_running vault || die "not running; start it with scripts/dev.sh"
  print_env
  ;;
status)
  for name in vault fakevendor; do
    if palo_running "$name"; then
      echo "$name: running (pid $(cat "$palo_state/$name.pid"))"
    else
      echo "$name: stopped"
    fi
  done
  ;;
stop)
  palo_stop_all
  rm -f "$env_file"
  log "stopped"
  ;;
*)
  die "unknown command '$1' (want: start, env, status or stop)"
  ;;
esac
