#!/usr/bin/env bash
# A Vault cluster of 3 nodes on integrated storage (Raft), on loopback, with
# this plugin registered and mounted at palo/. It is the one implementation
# of the cluster: the Go test harness (internal/vaulttest, StartCluster)
# forms, restarts and stops its clusters by running it, and it is a small,
# readable example of the setup for an operator.
#
#   scripts/cluster.sh start       write the configs, start every node, initialise
#                                  the cluster (1 key share), unseal every node, wait
#                                  until the cluster is healthy, register the plugin
#                                  (sha256 + version) and mount it at palo/
#   scripts/cluster.sh status      each node's pid, seal state and role; the Raft peers
#   scripts/cluster.sh wait        wait until the cluster is healthy: the active node's
#                                  autopilot reports every node healthy and a voter, so
#                                  one node may fail without losing the quorum
#   scripts/cluster.sh restart N   stop node N by its pid (if it runs), start it again,
#                                  unseal it and wait until the cluster is healthy (one
#                                  step of a rolling restart)
#   scripts/cluster.sh stop        stop every node by its pid, delete the cluster folder
#
# Settings, from the environment:
#   CLUSTER_DIR        the cluster's folder (default: $TMPDIR/vault-palo-cluster)
#   CLUSTER_NODES      how many nodes (default 3)
#   CLUSTER_BASE_PORT  node N serves its API on BASE+2(N-1) and Raft and request
#                      forwarding on the port after it (default 8300: 8300-8305)
#   VAULT_BIN          the vault binary (default: what scripts/get-vault.sh provides)
#   PLUGIN_BIN         the plugin (default: bin/vault-plugin-secrets-palo; `make build`)
#   PLUGIN_VERSION     the version stamped into it (default: the VERSION file)
#   CONFIGURE_BIN      palo-configure, which registers and mounts the plugin
#                      (default: what bootstrap/configure.sh finds or builds)
#   CLUSTER_LOG_LEVEL  the nodes' log level (default info)
#
# The cluster folder holds, for node N, nodeN/vault.hcl (its config),
# nodeN/data (its Raft storage), nodeN/vault.log and nodeN/vault.pid; plugins/
# (the plugin directory of every node); and init.txt and env, which hold the
# unseal key and root token. This is a test cluster: one key share, the root
# token on disk, no TLS on the API. Never run production like this.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
plugin_name="vault-plugin-secrets-palo"
mount="palo"

cluster_dir="${CLUSTER_DIR:-${TMPDIR:-/tmp}/vault-palo-cluster}"
nodes="${CLUSTER_NODES:-3}"
base_port="${CLUSTER_BASE_PORT:-8300}"
log_level="${CLUSTER_LOG_LEVEL:-info}"
plugin_dir="$cluster_dir/plugins"
marker="$cluster_dir/.vault-palo-cluster" # only a folder holding this is ever deleted

# Bounds on every wait, in seconds.
start_wait=60    # a node answering its API
unseal_wait=90   # a node joining the cluster and unsealing
healthy_wait=180 # every node healthy and a Raft voter (about 15s when all is well)
stop_wait=30     # a node exiting after SIGTERM

log() { echo "cluster: $*" >&2; }
die() {
  log "$*"
  exit 1
}

api_port() { echo $((base_port + 2 * ($1 - 1))); }
cluster_port() { echo $(($(api_port "$1") + 1)); }
api_addr() { echo "http://127.0.0.1:$(api_port "$1")"; }
node_dir() { echo "$cluster_dir/node$1"; }

# node_hcl N prints node N's configuration. Every node has the same plugin
# directory, and lists every other node in retry_join: a node started
# without Raft data joins whichever of them is the leader.
node_hcl() {
  local n="$1" other
  cat <<EOF
# Node $n of the test cluster, written by scripts/cluster.sh.
ui               = false
disable_mlock    = true
api_addr         = "$(api_addr "$n")"
cluster_addr     = "https://127.0.0.1:$(cluster_port "$n")"
plugin_directory = "$plugin_dir"

listener "tcp" {
  address         = "127.0.0.1:$(api_port "$n")"
  cluster_address = "127.0.0.1:$(cluster_port "$n")"
  tls_disable     = true
}

storage "raft" {
  path    = "$(node_dir "$n")/data"
  node_id = "node$n"
EOF
  for ((other = 1; other <= nodes; other++)); do
    ((other == n)) && continue
    printf '\n  retry_join {\n    leader_api_addr = "%s"\n  }\n' "$(api_addr "$other")"
  done
  echo "}"
}

# configure writes every node's config file and creates its folders (Raft
# needs its storage folder to exist).
configure() {
  local n
  [[ "$nodes" =~ ^[1-9][0-9]*$ ]] || die "CLUSTER_NODES=$nodes is not a number of nodes"
  if ! [[ "$base_port" =~ ^[0-9]+$ ]] || ((base_port < 1024 || base_port + 2 * nodes > 65536)); then
    die "CLUSTER_BASE_PORT=$base_port leaves no room for $((2 * nodes)) ports"
  fi
  mkdir -p "$cluster_dir"
  touch "$marker"
  (
    umask 077
    mkdir -p "$plugin_dir"
    for ((n = 1; n <= nodes; n++)); do mkdir -p "$(node_dir "$n")/data"; done
  )
  for ((n = 1; n <= nodes; n++)); do
    node_hcl "$n" >"$(node_dir "$n")/vault.hcl"
  done
}

# need_vault sets VAULT_BIN, once.
need_vault() {
  if [[ -z "${VAULT_BIN:-}" ]]; then
    VAULT_BIN="$("$root/scripts/get-vault.sh" | tail -n1)"
  fi
  [[ -x "$VAULT_BIN" ]] || die "no vault binary at $VAULT_BIN"
}

# v N args... runs the vault CLI against node N, with the root token once
# there is one, printing tables (what this script reads) whatever
# VAULT_FORMAT says.
v() {
  local n="$1"
  shift
  local token=""
  [[ -f "$cluster_dir/init.txt" ]] && token="$(root_token)"
  VAULT_ADDR="$(api_addr "$n")" VAULT_TOKEN="$token" VAULT_FORMAT=table "$VAULT_BIN" "$@"
}

unseal_key() { sed -n 's/^Unseal Key 1: //p' "$cluster_dir/init.txt"; }
root_token() { sed -n 's/^Initial Root Token: //p' "$cluster_dir/init.txt"; }

pid_of() { cat "$(node_dir "$1")/vault.pid" 2>/dev/null || true; }
alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; }

# seal_state N prints "unsealed", "sealed" or "down": `vault status` exits 0
# when unsealed, 2 when sealed, 1 when it cannot ask.
seal_state() {
  local rc=0
  v "$1" status >/dev/null 2>&1 || rc=$?
  case "$rc" in
    0) echo unsealed ;;
    2) echo sealed ;;
    *) echo down ;;
  esac
}

# ha_mode N prints "active" or "standby" for an unsealed node.
ha_mode() { v "$1" status 2>/dev/null | sed -n 's/^HA Mode *//p'; }

# wait_for SECONDS COMMAND... runs COMMAND every half second until it
# succeeds (status 0), or gives up after SECONDS (status 1).
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# wait_until SECONDS WHAT COMMAND... is wait_for that fails the script,
# naming WHAT, when it gives up.
wait_until() {
  local limit="$1" what="$2"
  shift 2
  wait_for "$limit" "$@" || die "gave up after ${limit}s waiting for $what"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_node N starts node N in a session of its own (so that stop can end
# the plugin processes it started) and records its pid.
start_node() {
  local n="$1" dir
  dir="$(node_dir "$n")"
  if ! port_free "$(api_port "$n")" || ! port_free "$(cluster_port "$n")"; then
    die "node $n: port $(api_port "$n") or $(cluster_port "$n") is taken; set CLUSTER_BASE_PORT"
  fi
  setsid "$VAULT_BIN" server -config="$dir/vault.hcl" -log-level="$log_level" \
    >>"$dir/vault.log" 2>&1 </dev/null &
  echo $! >"$dir/vault.pid"
  log "node $n: pid $!, API $(api_addr "$n"), log $dir/vault.log"
}

# stop_node N stops node N by its pid: SIGTERM, a bounded wait, then SIGKILL
# to its whole session's process group, plugins included.
stop_node() {
  local n="$1" pid deadline
  pid="$(pid_of "$n")"
  [[ -n "$pid" ]] || return 0
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + stop_wait))
    while alive "$pid" && ((SECONDS < deadline)); do sleep 0.5; done
    alive "$pid" && log "node $n (pid $pid) did not stop within ${stop_wait}s; killing it"
  fi
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$(node_dir "$n")/vault.pid"
}

answers() { [[ "$(seal_state "$1")" != down ]]; }
unsealed() { [[ "$(seal_state "$1")" == unsealed ]]; }

# unseal N unseals node N. A node without Raft data must first join the
# cluster (retry_join does that on its own, every few seconds), so the
# unseal is retried until it takes.
unseal() {
  local n="$1" key
  key="$(unseal_key)"
  try_unseal() {
    v "$n" operator unseal "$key" >/dev/null 2>&1 || true
    unsealed "$n"
  }
  wait_until "$unseal_wait" "node $n to unseal" try_unseal
}

# healthy: the active node's autopilot reports the cluster healthy with
# every node a voter. (The active node is asked, not node 1: leadership may
# have moved.) Autopilot promotes a joined node to voter once it has been
# healthy for a while, and counts a restarted node healthy once it has caught
# up; until then, losing another node could lose the quorum.
healthy() {
  local active state=sys/storage/raft/autopilot/state voters
  active="$(active_node)" || return 1
  [[ "$(v "$active" read -field=healthy "$state" 2>/dev/null)" == true ]] || return 1
  voters="$(v "$active" read -field=voters "$state" 2>/dev/null)" || return 1
  voters="${voters//[][]/}" # the CLI prints the list as [node1 node2 node3]
  (($(wc -w <<<"$voters") == nodes))
}

# wait_healthy waits until the cluster is healthy. If it gives up, it prints
# each node's state and, from every unsealed node, the Raft peers and
# autopilot's view of each node (health, last contact, term, index): what
# says why a node is not promoted or not healthy.
wait_healthy() {
  local n
  wait_for "$healthy_wait" healthy && return 0
  log "the cluster is not healthy; each node's view:"
  for ((n = 1; n <= nodes; n++)); do
    log "node $n: $(seal_state "$n") $(ha_mode "$n")"
    unsealed "$n" || continue
    v "$n" operator raft list-peers >&2 || true
    v "$n" operator raft autopilot state >&2 || true
    echo >&2 # the CLI ends that table without a newline
  done
  die "gave up after ${healthy_wait}s waiting for every node to be healthy and a Raft voter"
}

active_node() {
  local n
  for ((n = 1; n <= nodes; n++)); do
    if alive "$(pid_of "$n")" && [[ "$(ha_mode "$n")" == active ]]; then
      echo "$n"
      return 0
    fi
  done
  return 1
}

cmd_start() {
  local n active pid
  for ((n = 1; n <= nodes; n++)); do
    pid="$(pid_of "$n")"
    alive "$pid" && die "node $n is running (pid $pid); run '$0 stop' first"
  done
  local plugin="${PLUGIN_BIN:-$root/bin/$plugin_name}" version="${PLUGIN_VERSION:-$(cat "$root/VERSION")}"
  [[ -x "$plugin" ]] || die "no plugin at $plugin; run 'make build'"
  if [[ -e "$cluster_dir" ]]; then
    [[ -f "$marker" ]] || die "$cluster_dir exists and is not a cluster folder; set CLUSTER_DIR"
    rm -rf "$cluster_dir"
  fi

  configure
  for ((n = 1; n <= nodes; n++)); do start_node "$n"; done
  wait_until "$start_wait" "node 1 to answer" answers 1

  # One node is initialised; the others join it. A test cluster needs one
  # key share; production uses several, or auto-unseal.
  (umask 077 && v 1 operator init -key-shares=1 -key-threshold=1 >"$cluster_dir/init.txt")
  [[ -n "$(unseal_key)" && -n "$(root_token)" ]] || die "could not read the unseal key and root token"
  for ((n = 1; n <= nodes; n++)); do
    unseal "$n"
    log "node $n: unsealed"
  done
  wait_healthy
  wait_until "$start_wait" "an active node" active_node >/dev/null
  active="$(active_node)"

  # The plugin catalog is replicated, so the plugin is registered once; but
  # every node runs the binary from its own plugin directory, which must hold
  # the same file (here all nodes share one folder). palo-configure copies
  # it there, registers it with its sha256 and version and mounts it.
  VAULT_ADDR="$(api_addr "$active")" VAULT_TOKEN="$(root_token)" \
    "$root/bootstrap/configure.sh" --plugin-bin "$plugin" --plugin-dir "$plugin_dir" \
    --plugin-command "$plugin_name" --version "$version" --mount "$mount" >&2

  {
    echo "export VAULT_ADDR=$(api_addr "$active")"
    echo "export VAULT_TOKEN=$(root_token)"
  } >"$cluster_dir/env"
  chmod 0600 "$cluster_dir/env"
  log "ready; node $active is active. To use it:"
  log "  source $cluster_dir/env"
  cmd_status
}

cmd_status() {
  local n pid state peers=""
  for ((n = 1; n <= nodes; n++)); do
    pid="$(pid_of "$n")"
    if ! alive "$pid"; then
      echo "node$n  $(api_addr "$n")  stopped"
      continue
    fi
    state="$(seal_state "$n")"
    [[ "$state" == unsealed ]] && state="$(ha_mode "$n")"
    echo "node$n  $(api_addr "$n")  pid $pid  $state"
  done
  for ((n = 1; n <= nodes; n++)); do
    if alive "$(pid_of "$n")" && unsealed "$n"; then
      peers="$(v "$n" operator raft list-peers 2>/dev/null || true)"
      [[ -n "$peers" ]] && break
    fi
  done
  if [[ -n "$peers" ]]; then
    echo
    echo "$peers"
  fi
}

cmd_restart() {
  local n="${1:-}"
  if ! [[ "$n" =~ ^[0-9]+$ ]] || ((n < 1 || n > nodes)); then
    die "usage: $0 restart <1..$nodes>"
  fi
  need_cluster
  stop_node "$n"
  start_node "$n"
  wait_until "$start_wait" "node $n to answer" answers "$n"
  unseal "$n"
  wait_healthy
  log "node $n: unsealed, $(ha_mode "$n"); the cluster is healthy"
}

need_cluster() {
  [[ -f "$cluster_dir/init.txt" ]] || die "no cluster in $cluster_dir; run '$0 start' first"
}

cmd_stop() {
  local n
  for ((n = 1; n <= nodes; n++)); do stop_node "$n"; done
  if [[ -f "$marker" ]]; then
    rm -rf "$cluster_dir"
    log "stopped; deleted $cluster_dir"
  fi
}

case "${1:-}" in
  start) need_vault; cmd_start ;;
  status) need_vault; cmd_status ;;
  wait) need_vault; need_cluster; wait_healthy ;;
  restart) need_vault; cmd_restart "${2:-}" ;;
  stop) cmd_stop ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
