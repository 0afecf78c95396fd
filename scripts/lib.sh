# shellcheck shell=bash
# Shared setup for scripts/demo.sh and scripts/dev.sh; sourced, not run.
#
# It starts, on loopback only, the fake vendor (internal/fakevendor, over TLS
# with a CA it generates) and a Vault dev server, and runs palo-configure
# (bootstrap/configure.sh), which registers the plugin with its sha256 and
# version, mounts it at palo/, and writes one config and one role per
# provider (scm-prod and wildfire among them) from the declarative file that
# palo-demo writes (package internal/demo derives it from the providers and
# the fake vendor's demo accounts). The accounts get random secrets for each
# run: the fake vendor reads them from a private accounts file, and
# palo-configure from one private file per config, so no secret is ever on a
# command line.
#
# Every process is started in a session of its own (setsid), its id kept in
# a pid file in the state folder, and stopped by that id: SIGTERM, a bounded
# wait, then SIGKILL to its process group (which also ends any plugin process
# Vault left behind). Nothing is ever stopped by name.
#
# Settings (environment):
#   PLUGIN_BIN, FAKEVENDOR_BIN, PALO_DEMO_BIN, CONFIGURE_BIN
#                               the binaries (default: bin/, built by make)
#   PLUGIN_VERSION or VERSION   the version stamped into the plugin
#                               (default: the VERSION file)
#   VAULT_BIN                   a vault binary (default: scripts/get-vault.sh)
#   VAULT_PORT                  the Vault API port; the next port is its
#                               cluster port (default: a free pair)
#   VAULT_LOG_LEVEL             the Vault server's log level (default: info)

palo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly palo_root
readonly palo_plugin=vault-plugin-secrets-palo
readonly palo_mount=palo
# Bounds, in tenths of a second.
readonly palo_start_wait=600 # for a process to get ready
readonly palo_stop_wait=150  # after SIGTERM, before SIGKILL

palo_script="$(basename "$0")"

log() { printf '%s: %s\n' "$palo_script" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# palo_init STATE_DIR: checks the binaries and settings, and prepares the
# state folder (created private; its contents are the caller's to clear).
palo_init() {
  palo_state="$1"
  umask 077
  mkdir -p "$palo_state"
  palo_plugin_bin="${PLUGIN_BIN:-$palo_root/bin/$palo_plugin}"
  palo_fakevendor_bin="${FAKEVENDOR_BIN:-$palo_root/bin/fakevendor}"
  palo_demo_bin="${PALO_DEMO_BIN:-$palo_root/bin/palo-demo}"
  export CONFIGURE_BIN="${CONFIGURE_BIN:-$palo_root/bin/palo-configure}"
  [[ -x "$palo_plugin_bin" && -x "$CONFIGURE_BIN" ]] ||
    die "no plugin or palo-configure binary in bin/: run 'make build' first (make demo and make dev do)"
  [[ -x "$palo_fakevendor_bin" && -x "$palo_demo_bin" ]] ||
    die "no fakevendor or palo-demo binary in bin/: run 'make fakevendor' first"
  palo_version="${PLUGIN_VERSION:-${VERSION:-$(cat "$palo_root/VERSION")}}"
  palo_vault_bin="$("$palo_root/scripts/get-vault.sh" | tail -n1)"
  [[ -x "$palo_vault_bin" ]] || die "scripts/get-vault.sh gave no vault binary"
  command -v setsid >/dev/null || die "setsid (util-linux) is needed to start and stop processes by id"
  palo_port="${VAULT_PORT:-}"
  palo_log_level="${VAULT_LOG_LEVEL:-info}"

  # Nothing from the caller's own Vault settings (VAULT_NAMESPACE,
  # VAULT_CACERT, ...) may leak into the CLI calls against this Vault.
  local v
  while read -r v; do unset "$v"; done < <(compgen -e | grep '^VAULT_' || true)
}

# Names of the processes this run of the script started.
declare -A palo_started=()

# palo_running NAME: whether the process in NAME.pid is alive and ours:
# started by this run, or (for a pid file left by an earlier run) still
# running a command line that names the state folder, so that a reused
# process id is never taken for ours.
palo_running() {
  local pid_file="$palo_state/$1.pid" pid
  [[ -f "$pid_file" ]] || return 1
  pid="$(cat "$pid_file")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [[ -n "${palo_started[$1]:-}" ]] && return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$palo_state"
}

# palo_start NAME CMD...: starts CMD in a session of its own, its output in
# NAME.log and its process id in NAME.pid.
palo_start() {
  local name="$1"
  shift
  # A background job of a script is not a process group leader, so setsid
  # runs CMD in place: $! is CMD's own process id.
  setsid "$@" >"$palo_state/$name.log" 2>&1 </dev/null &
  echo "$!" >"$palo_state/$name.pid"
  palo_started[$name]=1
}

# palo_stop NAME: stops the process in NAME.pid, if it is still ours.
palo_stop() {
  local name="$1" pid i
  if ! palo_running "$name"; then
    rm -f "$palo_state/$name.pid"
    return 0
  fi
  pid="$(cat "$palo_state/$name.pid")"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < palo_stop_wait; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) did not stop within $((palo_stop_wait / 10))s; killing it"
  fi
  # The process group is the process's own (setsid); this also ends any
  # child it left behind. Nothing left is fine.
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$palo_state/$name.pid"
}

# palo_stop_all: stops Vault (which stops its plugin), then the fake vendor.
palo_stop_all() {
  palo_stop vault
  palo_stop fakevendor
}

# palo_tail NAME: the last lines of NAME.log, for an error message.
palo_tail() {
  [[ -f "$palo_state/$1.log" ]] || return 0
  log "last lines of $palo_state/$1.log:"
  tail -n 25 "$palo_state/$1.log" >&2
}

# palo_died NAME WHAT: fails with the end of NAME's log.
palo_died() {
  local hint=""
  if grep -q "address already in use" "$palo_state/$1.log" 2>/dev/null; then
    hint=" (a port it needs is taken: $2)"
  fi
  palo_tail "$1"
  die "$1 exited during start-up$hint"
}

# palo_random: 32 random hex characters.
palo_random() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }

# palo_port_taken PORT: whether something listens on 127.0.0.1:PORT.
palo_port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# palo_pick_port: prints the VAULT_PORT setting, after checking that it and
# the next port (Vault's cluster listener) are free, or else a free pair.
palo_pick_port() {
  local p i
  if [[ -n "$palo_port" ]]; then
    if ! [[ "$palo_port" =~ ^[0-9]+$ ]] || ((palo_port < 1 || palo_port > 65534)); then
      die "VAULT_PORT=$palo_port is not a port number"
    fi
    for p in "$palo_port" "$((palo_port + 1))"; do
      if palo_port_taken "$p"; then
        die "port $p on 127.0.0.1 is taken (Vault needs VAULT_PORT=$palo_port and the next port for its cluster listener); choose another VAULT_PORT"
      fi
    done
    echo "$palo_port"
    return
  fi
  for ((i = 0; i < 100; i++)); do
    p=$((20000 + RANDOM % 40000))
    if ! palo_port_taken "$p" && ! palo_port_taken "$((p + 1))"; then
      echo "$p"
      return
    fi
  done
  die "found no two free consecutive ports on 127.0.0.1"
}

# palo_start_fakevendor: starts the fake vendor over TLS on a free loopback
# port; sets palo_vendor_url and palo_ca (the generated CA's PEM file).
palo_start_fakevendor() {
  local i
  "$palo_demo_bin" "$palo_state"
  palo_ca="$palo_state/ca.pem"
  rm -f "$palo_state/fakevendor.url" "$palo_ca"
  log "starting the fake vendor (TLS, with a CA generated for this run)"
  palo_start fakevendor "$palo_fakevendor_bin" -addr 127.0.0.1:0 -tls \
    -ca-out "$palo_ca" -addr-out "$palo_state/fakevendor.url" -accounts "$palo_state/accounts.json"
  for ((i = 0; i < palo_start_wait; i++)); do
    [[ -s "$palo_state/fakevendor.url" ]] && break
    palo_running fakevendor || palo_died fakevendor "see above"
    sleep 0.1
  done
  [[ -s "$palo_state/fakevendor.url" ]] || {
    palo_tail fakevendor
    die "the fake vendor did not start within $((palo_start_wait / 10))s"
  }
  palo_vendor_url="$(cat "$palo_state/fakevendor.url")"
  log "fake vendor at $palo_vendor_url"
}

# palo_start_vault: starts `vault server -dev` with an empty plugin
# directory and waits until it is unsealed; exports VAULT_ADDR and
# VAULT_TOKEN for the vault CLI calls that follow.
palo_start_vault() {
  local port i
  port="$(palo_pick_port)"
  mkdir -p "$palo_state/plugins" "$palo_state/home"
  rm -f "$palo_state/plugins/"*
  VAULT_ADDR="http://127.0.0.1:$port"
  VAULT_TOKEN="root-$(palo_random)"
  export VAULT_ADDR VAULT_TOKEN
  log "starting Vault $("$palo_vault_bin" version | head -n1 | cut -d' ' -f2) in dev mode at $VAULT_ADDR"
  # HOME points into the state folder so that the dev server does not write
  # its token to the caller's ~/.vault-token.
  palo_start vault env HOME="$palo_state/home" "$palo_vault_bin" server -dev \
    -dev-root-token-id="$VAULT_TOKEN" -dev-listen-address="127.0.0.1:$port" \
    -dev-plugin-dir="$palo_state/plugins" -log-level="$palo_log_level"
  for ((i = 0; i < palo_start_wait; i++)); do
    palo_running vault || palo_died vault "127.0.0.1:$port or $((port + 1)); set VAULT_PORT to another port"
    "$palo_vault_bin" status >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  palo_tail vault
  die "Vault did not become ready within $((palo_start_wait / 10))s"
}

# palo_vault ARGS...: the vault CLI against this Vault.
palo_vault() { "$palo_vault_bin" "$@"; }

# palo_show ARGS...: prints `$ vault ARGS...` as a user would type it, then
# runs it.
palo_show() {
  local line="" arg
  for arg in "$@"; do
    [[ "$arg" == *[[:space:]]* ]] && arg="\"$arg\""
    line+=" $arg"
  done
  printf '\n$ vault%s\n' "$line"
  palo_vault "$@"
}

# palo_configure: palo-configure puts the plugin into this Vault (copied into
# its plugin directory, registered with its sha256 and version, mounted at
# palo/) and writes the demo's configs and roles, trusting the fake vendor's
# CA. Its report lists every object.
palo_configure() {
  echo
  echo "\$ bootstrap/configure.sh --plugin-dir ${palo_state#"$palo_root/"}/plugins --file ${palo_state#"$palo_root/"}/palo.json"
  FAKEVENDOR_URL="$palo_vendor_url" FAKEVENDOR_CA_FILE="$palo_ca" PLUGIN_BIN="$palo_plugin_bin" \
    PLUGIN_VERSION="$palo_version" MOUNT_PATH="$palo_mount" \
    "$palo_root/bootstrap/configure.sh" --plugin-dir "$palo_state/plugins" --file "$palo_state/palo.json"
}

# palo_setup: everything above, in order.
palo_setup() {
  palo_start_fakevendor
  palo_start_vault
  palo_configure
}
