#!/usr/bin/env bash
# bootstrap/configure.sh: put vault-plugin-secrets-palo into a running Vault
# and configure it from a declarative file. Idempotent: a second run with the
# same inputs changes nothing and says so.
#
# Against the Vault in VAULT_ADDR (with VAULT_TOKEN, or the CLI's token
# helper), it:
#   1. copies the plugin binary into the plugin directory, if --plugin-dir
#      is given;
#   2. registers it in the plugin catalog with its sha256 and version;
#   3. enables the secrets engine at the mount, or, when the mount runs
#      another version, upgrades it (secrets tune -plugin-version, then
#      plugin reload);
#   4. writes the configs and roles of the declarative file (--file), and
#      one ACL policy per team that may read its own roles' tokens and
#      nothing else.
#
# Secrets never appear in the declarative file: a config names the
# environment variable or file that holds each one (client_secret_env,
# access_secret_file, ...). They reach Vault on the vault CLI's standard
# input, never on a command line, and are never printed.
#
# Secrets are write-only in the engine, so a run cannot tell whether a
# stored secret differs from the one given: a config is written only when a
# readable field differs, unless --rotate-secrets is given. After changing a
# secret alone, run with --rotate-secrets.
#
# Needs: bash, the vault CLI, jq, and sha256sum or shasum. The file format
# and every option are described in bootstrap/README.md.
#
# shellcheck disable=SC2016 # the single-quoted $names are jq variables
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(dirname "$script_dir")"

usage() {
  cat <<'EOF'
Usage: bootstrap/configure.sh [options]

Registers and mounts vault-plugin-secrets-palo in the Vault at VAULT_ADDR and
writes configs, roles and team policies from a declarative JSON file.

Options (each also read from the environment variable shown):
  --file PATH             declarative file (BOOTSTRAP_FILE); without it only
                          the plugin and the mount are set up
  --plugin-bin PATH       plugin binary (PLUGIN_BIN;
                          default bin/vault-plugin-secrets-palo)
  --plugin-dir DIR        copy the binary into Vault's plugin directory DIR
                          first (PLUGIN_DIR; default: do not copy)
  --plugin-command NAME   file name of the binary in the plugin directory
                          (PLUGIN_COMMAND; default: the binary's base name)
  --plugin-name NAME      catalog name (PLUGIN_NAME;
                          default vault-plugin-secrets-palo)
  --version VERSION       version stamped in the binary (PLUGIN_VERSION;
                          default v0.1.0)
  --mount PATH            where the engine is mounted (MOUNT_PATH; default palo)
  --policy-prefix PREFIX  team policy names are PREFIX<team> (POLICY_PREFIX;
                          default "<mount>-")
  --reload-scope SCOPE    pass -scope=SCOPE to `vault plugin reload`, e.g.
                          global for every node of a cluster (RELOAD_SCOPE)
  --rotate-secrets        write every config, so that changed secrets are
                          stored even when no readable field changed
  --dry-run               report what would change; write nothing
  -h, --help              this help

The vault CLI is VAULT_BIN, else `vault` on PATH.
EOF
}

die() {
  echo "configure.sh: $*" >&2
  exit 1
}

# Settings: flags win over the environment, which wins over the defaults.
PLUGIN_BIN="${PLUGIN_BIN:-$repo_root/bin/vault-plugin-secrets-palo}"
PLUGIN_DIR="${PLUGIN_DIR:-}"
PLUGIN_COMMAND="${PLUGIN_COMMAND:-}"
PLUGIN_NAME="${PLUGIN_NAME:-vault-plugin-secrets-palo}"
PLUGIN_VERSION="${PLUGIN_VERSION:-v0.1.0}"
MOUNT_PATH="${MOUNT_PATH:-palo}"
BOOTSTRAP_FILE="${BOOTSTRAP_FILE:-}"
POLICY_PREFIX="${POLICY_PREFIX:-}"
RELOAD_SCOPE="${RELOAD_SCOPE:-}"
VAULT_BIN="${VAULT_BIN:-vault}"
rotate=false
dry_run=false

while [[ $# -gt 0 ]]; do
  opt="$1"
  value=""
  case "$opt" in
    --*=*)
      value="${opt#*=}"
      opt="${opt%%=*}"
      ;;
    --file | --plugin-bin | --plugin-dir | --plugin-command | --plugin-name | --version | --mount | --policy-prefix | --reload-scope)
      [[ $# -ge 2 ]] || die "$opt needs a value"
      value="$2"
      shift
      ;;
  esac
  case "$opt" in
    --file) BOOTSTRAP_FILE="$value" ;;
    --plugin-bin) PLUGIN_BIN="$value" ;;
    --plugin-dir) PLUGIN_DIR="$value" ;;
    --plugin-command) PLUGIN_COMMAND="$value" ;;
    --plugin-name) PLUGIN_NAME="$value" ;;
    --version) PLUGIN_VERSION="$value" ;;
    --mount) MOUNT_PATH="$value" ;;
    --policy-prefix) POLICY_PREFIX="$value" ;;
    --reload-scope) RELOAD_SCOPE="$value" ;;
    --rotate-secrets) rotate=true ;;
    --dry-run) dry_run=true ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      usage >&2
      die "unknown option: $1"
      ;;
  esac
  shift
done

# Normalise the mount to "a/b" (no leading or trailing slash).
MOUNT_PATH="${MOUNT_PATH#/}"
MOUNT_PATH="${MOUNT_PATH%/}"
[[ -n "$MOUNT_PATH" ]] || die "--mount must not be empty"
[[ -n "$PLUGIN_COMMAND" ]] || PLUGIN_COMMAND="$(basename "$PLUGIN_BIN")"
[[ -n "$POLICY_PREFIX" ]] || POLICY_PREFIX="${MOUNT_PATH//\//-}-"
[[ "$PLUGIN_COMMAND" != */* ]] || die "--plugin-command is a file name in the plugin directory, not a path: $PLUGIN_COMMAND"

command -v "$VAULT_BIN" >/dev/null 2>&1 || die "no vault CLI: install Vault or set VAULT_BIN"
command -v jq >/dev/null 2>&1 || die "jq is required (Debian/Ubuntu: apt-get install -y jq; macOS: brew install jq)"
[[ -n "${VAULT_ADDR:-}" ]] || die "VAULT_ADDR is not set: point it at your Vault (and set VAULT_TOKEN or log in)"
[[ -f "$PLUGIN_BIN" ]] || die "no plugin binary at $PLUGIN_BIN: build it with \`make build\` or pass --plugin-bin"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# ---------------------------------------------------------------------------
# Output: one line per object, and the counts for the summary.

created=0
updated=0
unchanged=0

# report KIND NAME STATUS [DETAIL]: STATUS is created, updated or unchanged;
# in a dry run the first two are printed as "would create"/"would update".
report() {
  local kind="$1" name="$2" status="$3" detail="${4:-}" shown="$3"
  case "$status" in
    created) created=$((created + 1)) ;;
    updated) updated=$((updated + 1)) ;;
    unchanged) unchanged=$((unchanged + 1)) ;;
  esac
  if $dry_run; then
    case "$status" in
      created) shown="would create" ;;
      updated) shown="would update" ;;
    esac
  fi
  printf '%-8s %-44s %s%s\n' "$kind" "$name" "$shown" "${detail:+ ($detail)}"
}

vault_cli() { "$VAULT_BIN" "$@"; }

# vault_read PATH OUT: writes the JSON of `vault read PATH` to OUT and
# returns 0, or returns 1 if nothing is stored there. Any other failure
# (permission denied, Vault unreachable) ends the script.
vault_read() {
  local path="$1" out="$2"
  if vault_cli read -format=json "$path" >"$out" 2>"$tmp/err"; then
    return 0
  fi
  if grep -q "No value found at" "$tmp/err"; then
    return 1
  fi
  cat "$tmp/err" >&2
  die "cannot read $path"
}

# vault_write PATH: writes the JSON object on standard input to PATH, and
# prints the warnings Vault returns. The data never appears on a command
# line.
vault_write() {
  local path="$1"
  if ! vault_cli write -format=json "$path" - >"$tmp/write.json" 2>"$tmp/err"; then
    cat "$tmp/err" >&2
    die "writing $path failed (see above)"
  fi
  if [[ -s "$tmp/write.json" ]]; then
    jq -r '.warnings // [] | .[] | "         warning: " + .' "$tmp/write.json"
  fi
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    die "need sha256sum or shasum"
  fi
}

# ---------------------------------------------------------------------------
# The declarative file. Everything in it is checked, and every secret it
# names is resolved, before anything in Vault is touched.

# jq definitions shared by the programs below.
JQ_DEFS='
def name_ok: type == "string" and test("^[A-Za-z0-9][A-Za-z0-9._-]*$");
def secret_fields: ["client_secret", "access_secret"];
def duration_fields: ["request_timeout", "default_token_ttl", "auth_failure_cooldown", "ttl", "min_ttl"];
def role_defaults: {"scope": "", "tsg_id": "", "ttl": 0, "min_ttl": 0, "lease": true};

# ${VAR} in a string is replaced by the environment variable VAR.
def expand($where):
  if type == "string" then
    gsub("\\$\\{(?<v>[A-Za-z_][A-Za-z0-9_]*)\\}";
      (env[.v] // error("\($where): ${\(.v)} is used but \(.v) is not set")))
  else . end;

# A duration as whole seconds: a number, or a string such as "90", "15m",
# "1h30m", "45s".
def seconds($where):
  if type == "number" and . >= 0 and . == floor then .
  elif type == "string" and test("^[0-9]+$") then tonumber
  elif type == "string" and test("^([0-9]+h)?([0-9]+m)?([0-9]+s)?$") and . != "" then
    capture("^(?:(?<h>[0-9]+)h)?(?:(?<m>[0-9]+)m)?(?:(?<s>[0-9]+)s)?$")
    | ((.h // "0" | tonumber) * 3600 + (.m // "0" | tonumber) * 60 + (.s // "0" | tonumber))
  else error("\($where): \(tojson) is not a duration (use seconds, or a string like \"90s\", \"15m\", \"1h30m\")")
  end;

def boolean($where):
  if type == "boolean" then .
  elif . == "true" then true
  elif . == "false" then false
  else error("\($where): \(tojson) is not true or false") end;

# The typed value of field $f.
def typed($f; $where):
  if (duration_fields | index($f)) then seconds($where)
  elif $f == "verify_connection" or $f == "lease" then boolean($where)
  elif type == "string" then .
  elif type == "number" then tostring
  else error("\($where): \(tojson) is not a string") end;

# A proxy URL as the engine returns it on read: any password replaced.
def redact_proxy: sub("^(?<pre>[A-Za-z][A-Za-z0-9+.-]*://[^:/@]*):[^@/]*@"; "\(.pre):redacted@");

# Checks the whole file; outputs one message per problem.
def problems:
  (keys - ["configs", "roles", "teams"] | .[] | "unknown top-level key \"\(.)\" (expected configs, roles, teams)"),
  (.configs // {} | to_entries[] | .key as $n | "config \"\($n)\"" as $w |
    (if ($n | name_ok) then empty else "\($w): names may use letters, digits, \".\", \"_\" and \"-\"" end),
    (if (.value | type) != "object" then "\($w): must be an object" else
      (.value | keys) as $k |
      ($k | map(sub("_(env|file)$"; "")) | group_by(.) | map(select(length > 1) | .[0]) | .[]
        | "\($w): \(.) is given more than once (as \(.), \(.)_env or \(.)_file)"),
      (secret_fields[] as $s | if ($k | index($s)) then
        "\($w): \($s) must not be in the file; name an environment variable (\($s)_env) or a file (\($s)_file)" else empty end),
      (if ($k | index("proxy_url")) and (.value.proxy_url | type == "string") and (.value.proxy_url | test("://[^/@]*:[^/@]*@")) then
        "\($w): proxy_url carries a password; give it with proxy_url_env or proxy_url_file" else empty end),
      (if ($k | map(sub("_(env|file)$"; "")) | index("provider")) then empty else "\($w): provider is required" end),
      (. as $e | $k[] | select(endswith("_env") or endswith("_file")) | . as $x | $e.value[$x] |
        if type == "string" and . != "" then empty else "\($w): \($x) must name a variable or file" end)
    end)),
  (.roles // {} | to_entries[] | .key as $n | "role \"\($n)\"" as $w |
    (if ($n | name_ok) then empty else "\($w): names may use letters, digits, \".\", \"_\" and \"-\"" end),
    (if (.value | type) != "object" then "\($w): must be an object" else
      (.value | keys - (role_defaults | keys) - ["config"] | .[] | "\($w): unknown field \"\(.)\" (fields: config, scope, tsg_id, ttl, min_ttl, lease)"),
      (if (.value.config | type) == "string" and .value.config != "" then empty else "\($w): config is required" end)
    end)),
  (. as $root | .roles // {} | to_entries[] | select(.value | type == "object") | .value.config as $c
    | select($c | type == "string" and $c != "") | select(($root.configs // {}) | has($c) | not)
    | "role \"\(.key)\": config \"\($c)\" is not in the file"),
  (. as $root | .teams // {} | to_entries[] | .key as $n | "team \"\($n)\"" as $w |
    (if ($n | name_ok) then empty else "\($w): names may use letters, digits, \".\", \"_\" and \"-\"" end),
    (if (.value | type) != "object" then "\($w): must be an object" else
      (.value.roles | if type == "array" and length > 0 and all(.[]; type == "string") then empty
        else "\($w): roles must be a non-empty list of role names" end),
      (.value | keys - ["roles", "policy"] | .[] | "\($w): unknown field \"\(.)\" (fields: roles, policy)"),
      (.value.policy | if . == null or name_ok then empty else "\($w): policy must be a name" end),
      (.value.roles | if type == "array" then .[] else empty end | . as $r
        | select(($root.roles // {}) | has($r | tostring) | not) | "\($w): role \"\($r)\" is not in the file")
    end));

# The config $name resolved: {"readable": fields a read returns, "payload":
# what is written, secrets included}. File contents arrive as $ARGS.named
# ["file:<field>"].
def resolved_config($name):
  "config \"\($name)\"" as $w
  | [.configs[$name] | to_entries[]
      | if (.key | endswith("_env")) then
          (.key | rtrimstr("_env")) as $f | .value as $var
          | {key: $f, value: (env[$var] // error("\($w): \($f)_env names \($var), which is not set (export it)"))}
        elif (.key | endswith("_file")) then
          (.key | rtrimstr("_file")) as $f
          | {key: $f, value: ($ARGS.named["file:" + $f] | if $f == "ca_cert" then . else sub("\\s+$"; "") end)}
        else .key as $k | {key: $k, value: (.value | expand("\($w): \($k)"))}
        end
      | .key as $k
      | if (secret_fields | index($k)) and .value == "" then error("\($w): \($k) is empty") else . end
      | .value |= typed($k; "\($w): \($k)")]
  | from_entries as $payload
  | {payload: $payload,
     readable: ($payload | with_entries(select(.key as $k | secret_fields | index($k) | not))
                | if has("proxy_url") then .proxy_url |= redact_proxy else . end)};

# The role $name with every field, defaults filled in.
def resolved_role($name):
  "role \"\($name)\"" as $w |
  role_defaults + (.roles[$name] | with_entries(.key as $k | .value |= (expand("\($w): \($k)") | typed($k; "\($w): \($k)"))));

# The policy of team $team: read on its roles creds paths, nothing else.
def team_policy($team; $mount):
  "# Team \($team) may read the tokens of these roles and nothing else.\n"
  + "# Written by bootstrap/configure.sh (vault-plugin-secrets-palo); edits are overwritten.\n"
  + ([.teams[$team].roles | unique | .[] | "\npath \"\($mount)/creds/\(.)\" {\n  capabilities = [\"read\"]\n}\n"] | join(""));

# The names of the fields of $want that differ from $have.
def changed($want; $have): [$want | to_entries[] | select(.value != $have[.key]) | .key];
'

file_dir=""
if [[ -n "$BOOTSTRAP_FILE" ]]; then
  [[ -f "$BOOTSTRAP_FILE" ]] || die "no declarative file at $BOOTSTRAP_FILE"
  file_dir="$(cd "$(dirname "$BOOTSTRAP_FILE")" && pwd)"
  jq -e 'type == "object"' "$BOOTSTRAP_FILE" >/dev/null 2>&1 ||
    die "$BOOTSTRAP_FILE is not a JSON object"
  problems="$(jq -r "$JQ_DEFS problems" "$BOOTSTRAP_FILE")"
  if [[ -n "$problems" ]]; then
    while IFS= read -r line; do
      echo "configure.sh: $BOOTSTRAP_FILE: $line" >&2
    done <<<"$problems"
    exit 1
  fi
fi

# jq_file PROGRAM [ARGS...]: runs a jq program (with JQ_DEFS) on the
# declarative file; on an error prints jq's message without its prefix.
jq_file() {
  local program="$1"
  shift
  if ! jq "$@" "$JQ_DEFS $program" "$BOOTSTRAP_FILE" 2>"$tmp/jqerr"; then
    sed -e 's/^jq: error (at [^)]*): //' "$tmp/jqerr" | sed "s|^|configure.sh: $BOOTSTRAP_FILE: |" >&2
    exit 1
  fi
}

# config_file_args NAME: sets file_args to the --rawfile arguments that hand
# the config's *_file contents to jq (paths relative to the declarative
# file's folder).
config_file_args() {
  local name="$1" field path
  file_args=()
  jq_file '.configs[$n] | to_entries[] | select(.key | endswith("_file")) | .key as $k
      | [($k | rtrimstr("_file")), (.value | expand("config \"\($n)\": \($k)"))] | @tsv' \
    -r --arg n "$name" >"$tmp/files.tsv"
  while IFS=$'\t' read -r field path; do
    [[ -n "$field" ]] || continue
    [[ "$path" == /* ]] || path="$file_dir/$path"
    [[ -r "$path" && -f "$path" ]] || die "config \"$name\": ${field}_file: cannot read $path"
    file_args+=(--rawfile "file:$field" "$path")
  done <"$tmp/files.tsv"
}

configs=()
roles=()
teams=()
if [[ -n "$BOOTSTRAP_FILE" ]]; then
  mapfile -t configs < <(jq -r '.configs // {} | keys[]' "$BOOTSTRAP_FILE")
  mapfile -t roles < <(jq -r '.roles // {} | keys[]' "$BOOTSTRAP_FILE")
  mapfile -t teams < <(jq -r '.teams // {} | keys[]' "$BOOTSTRAP_FILE")
  # Resolve every config and role once now, so that a missing variable or
  # file stops the run before anything is written.
  for name in "${configs[@]}"; do
    config_file_args "$name"
    jq_file 'resolved_config($n) | .payload | length' --arg n "$name" "${file_args[@]}" >/dev/null
  done
  for name in "${roles[@]}"; do
    jq_file 'resolved_role($n)' --arg n "$name" >/dev/null
  done
fi

# ---------------------------------------------------------------------------
# The plugin: binary, catalog entry, mount.

sha="$(sha256_of "$PLUGIN_BIN")"

if [[ -n "$PLUGIN_DIR" ]]; then
  [[ -d "$PLUGIN_DIR" ]] || die "no plugin directory at $PLUGIN_DIR"
  dest="$PLUGIN_DIR/$PLUGIN_COMMAND"
  if [[ -f "$dest" && "$(sha256_of "$dest")" == "$sha" ]]; then
    report binary "$dest" unchanged
  else
    status=created
    [[ -e "$dest" ]] && status=updated
    if ! $dry_run; then
      # Copy next to the target and rename, so that Vault never sees a
      # half-written binary.
      cp "$PLUGIN_BIN" "$dest.tmp.$$"
      chmod 0755 "$dest.tmp.$$"
      mv -f "$dest.tmp.$$" "$dest"
    fi
    report binary "$dest" "$status"
  fi
fi

registration_changed=false
plugin_label="$PLUGIN_NAME $PLUGIN_VERSION"
if vault_cli plugin info -format=json -version="$PLUGIN_VERSION" secret "$PLUGIN_NAME" >"$tmp/plugin.json" 2>"$tmp/err"; then
  have="$(jq -r '[.sha256, .command] | @tsv' "$tmp/plugin.json")"
  if [[ "$have" == "$sha"$'\t'"$PLUGIN_COMMAND" ]]; then
    report plugin "$plugin_label" unchanged
  else
    registration_changed=true
    report plugin "$plugin_label" updated "sha256 ${sha:0:12}, command $PLUGIN_COMMAND"
  fi
elif grep -q "Code: 404" "$tmp/err"; then
  registration_changed=true
  report plugin "$plugin_label" created "sha256 ${sha:0:12}"
else
  cat "$tmp/err" >&2
  die "cannot read the plugin catalog"
fi
if $registration_changed && ! $dry_run; then
  vault_cli plugin register -sha256="$sha" -command="$PLUGIN_COMMAND" -version="$PLUGIN_VERSION" \
    secret "$PLUGIN_NAME" >/dev/null
fi

reload_args=(-plugin="$PLUGIN_NAME")
[[ -z "$RELOAD_SCOPE" ]] || reload_args+=(-scope="$RELOAD_SCOPE")

vault_cli secrets list -format=json >"$tmp/mounts.json"
mount_json="$(jq -c --arg m "$MOUNT_PATH/" '.[$m] // empty' "$tmp/mounts.json")"
if [[ -z "$mount_json" ]]; then
  $dry_run || vault_cli secrets enable -path="$MOUNT_PATH" -plugin-version="$PLUGIN_VERSION" "$PLUGIN_NAME" >/dev/null
  report mount "$MOUNT_PATH/" created "$PLUGIN_NAME $PLUGIN_VERSION"
else
  mount_type="$(jq -r '.type' <<<"$mount_json")"
  [[ "$mount_type" == "$PLUGIN_NAME" ]] ||
    die "$MOUNT_PATH/ is already a \"$mount_type\" secrets engine, not $PLUGIN_NAME; choose another --mount"
  mount_version="$(jq -r '.plugin_version // ""' <<<"$mount_json")"
  if [[ "$mount_version" != "$PLUGIN_VERSION" ]]; then
    if ! $dry_run; then
      vault_cli secrets tune -plugin-version="$PLUGIN_VERSION" "$MOUNT_PATH" >/dev/null
      vault_cli plugin reload "${reload_args[@]}" >/dev/null
    fi
    report mount "$MOUNT_PATH/" updated "${mount_version:-unpinned} -> $PLUGIN_VERSION, reloaded"
  elif $registration_changed; then
    # Same version, new binary: restart the plugin so that it runs.
    $dry_run || vault_cli plugin reload "${reload_args[@]}" >/dev/null
    report mount "$MOUNT_PATH/" updated "reloaded with the new $PLUGIN_VERSION binary"
  else
    report mount "$MOUNT_PATH/" unchanged "$PLUGIN_VERSION"
  fi
fi

# ---------------------------------------------------------------------------
# Configs, roles and team policies.

# report_unmanaged KIND KEY: lists the objects under <mount>/KEY (KIND
# config or role) that the file's KEY does not name. They are never
# deleted: removing one is a decision for a person.
report_unmanaged() {
  local kind="$1" key="$2" name
  local list_path="$MOUNT_PATH/$kind"
  [[ "$kind" == config ]] || list_path="$MOUNT_PATH/roles"
  vault_cli list -format=json "$list_path" >"$tmp/list.json" 2>/dev/null || return 0
  while IFS= read -r name; do
    report "$kind" "$name" "not in the file, left alone"
  done < <(jq -r --slurpfile f "$BOOTSTRAP_FILE" --arg k "$key" \
    '($f[0][$k] // {}) as $known | .[] | . as $n | select($known | has($n) | not)' "$tmp/list.json")
}

if [[ -n "$BOOTSTRAP_FILE" ]]; then
  for name in "${configs[@]}"; do
    path="$MOUNT_PATH/config/$name"
    config_file_args "$name"
    status=created
    detail=""
    if vault_read "$path" "$tmp/current.json"; then
      jq_file 'resolved_config($n).readable as $want | changed($want; $cur[0].data) | join(", ")' \
        -r --arg n "$name" --slurpfile cur "$tmp/current.json" "${file_args[@]}" >"$tmp/changed"
      detail="$(cat "$tmp/changed")"
      if [[ -n "$detail" ]]; then
        status=updated
      elif $rotate; then
        status=updated
        detail="--rotate-secrets"
      else
        status=unchanged
      fi
    fi
    if [[ "$status" != unchanged ]] && ! $dry_run; then
      jq_file 'resolved_config($n).payload' --arg n "$name" "${file_args[@]}" | vault_write "$path"
    fi
    report config "$name" "$status" "$detail"
  done

  for name in "${roles[@]}"; do
    path="$MOUNT_PATH/roles/$name"
    status=created
    detail=""
    if vault_read "$path" "$tmp/current.json"; then
      detail="$(jq_file 'changed(resolved_role($n); $cur[0].data) | join(", ")' \
        -r --arg n "$name" --slurpfile cur "$tmp/current.json")"
      status=unchanged
      [[ -z "$detail" ]] || status=updated
    fi
    if [[ "$status" != unchanged ]] && ! $dry_run; then
      jq_file 'resolved_role($n)' --arg n "$name" | vault_write "$path"
    fi
    report role "$name" "$status" "$detail"
  done

  for team in "${teams[@]}"; do
    policy="$(jq -r --arg t "$team" --arg p "$POLICY_PREFIX" '.teams[$t].policy // ($p + $t)' "$BOOTSTRAP_FILE")"
    jq_file 'team_policy($t; $m)' -j --arg t "$team" --arg m "$MOUNT_PATH" >"$tmp/policy.hcl"
    status=created
    if vault_read "sys/policies/acl/$policy" "$tmp/current.json"; then
      status=updated
      if [[ "$(jq -j '.data.policy' "$tmp/current.json")" == "$(cat "$tmp/policy.hcl")" ]]; then
        status=unchanged
      fi
    fi
    if [[ "$status" != unchanged ]] && ! $dry_run; then
      vault_cli policy write "$policy" - <"$tmp/policy.hcl" >/dev/null
    fi
    report policy "$policy" "$status" "team $team"
  done

  # Objects in Vault that the file does not name are left alone; say so.
  report_unmanaged config configs
  report_unmanaged role roles
fi

# ---------------------------------------------------------------------------
# Summary.

if [[ $((created + updated)) -eq 0 ]]; then
  echo "Nothing changed: Vault already matches (${unchanged} objects unchanged)."
elif $dry_run; then
  echo "Dry run: ${created} would be created, ${updated} would be updated, ${unchanged} unchanged. Nothing was written."
else
  echo "Done: ${created} created, ${updated} updated, ${unchanged} unchanged."
fi
