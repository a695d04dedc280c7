# Shared by scripts/demo, scripts/test and bench/run: sourced, not run.
# Sets up .venv with the package installed (re-installing only when pyproject.toml changed)
# and makes sure a redis-server binary is on PATH.

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

pick_python() {
  for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11 python3.10; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "celeriac needs Python >= 3.10; none found on PATH (set PYTHON=/path/to/python3)" >&2
  return 1
}

# ensure_venv EXTRAS: create .venv and install the package with the given extras ("" for
# none, "a,b" for several). Installs again only when pyproject.toml changed or an extra is
# missing, so switching between scripts/demo and scripts/test costs nothing.
ensure_venv() {
  local wanted="$1" python stamp hash have extra all
  if [ ! -x .venv/bin/python ]; then
    python=$(pick_python)
    log "creating .venv with $("$python" --version)"
    "$python" -m venv .venv
  fi
  stamp=.venv/.celeriac-installed
  hash="$(sha256sum pyproject.toml | cut -c1-16)"
  have=""
  if [ "$(head -n1 "$stamp" 2>/dev/null)" = "$hash" ]; then
    have="$(sed -n 2p "$stamp")"
  fi
  all="$have"
  for extra in ${wanted//,/ }; do
    case ",$all," in *",$extra,"*) ;; *) all="${all:+$all,}$extra" ;; esac
  done
  if [ "$(head -n1 "$stamp" 2>/dev/null)" = "$hash" ] && [ "$all" = "$have" ]; then
    return 0
  fi
  log "installing celeriac${all:+[$all]} into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip >&2
  .venv/bin/python -m pip install --quiet -e ".${all:+[$all]}" >&2
  printf '%s\n%s\n' "$hash" "$all" > "$stamp"
}

ensure_redis_server() {
  command -v redis-server >/dev/null 2>&1 && return 0
  log "redis-server is missing: installing it with apt-get"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >&2
  command -v redis-server >/dev/null 2>&1 || {
    echo "could not install redis-server; install it (apt-get install redis-server) and retry" >&2
    return 1
  }
}
