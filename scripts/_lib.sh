# Shared by scripts/demo, scripts/test, scripts/compat, scripts/pin and bench/run: sourced,
# not run. Sets up a virtualenv with the package installed and makes sure a redis-server
# binary is on PATH.
#
# Three resolutions of the same package (VENV names the one set up):
#   pinned  .venv         every package at the version in requirements/constraints.txt: what
#                         CI last tested. The default, for scripts/test, demo, compat, bench.
#   latest  .venv-latest  today's newest releases the ranges in pyproject.toml allow.
#   lowest  .venv-lowest  celeriac's runtime dependencies at the lowest versions its ranges
#                         allow (redis 5.0.1, kombu 5.3, ...), everything else newest.

CONSTRAINTS=requirements/constraints.txt
VENV=.venv

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

# new_venv DIR: a virtualenv at DIR (made with the first Python >= 3.10 found).
new_venv() {
  local python
  python=$(pick_python)
  log "creating $1 with $("$python" --version)"
  "$python" -m venv "$1"
}

# merged_extras HAVE WANTED: the extras of both ("a,b" lists), without repeats.
merged_extras() {
  local all="$1" extra
  for extra in ${2//,/ }; do
    case ",$all," in *",$extra,"*) ;; *) all="${all:+$all,}$extra" ;; esac
  done
  echo "$all"
}

# ensure_venv EXTRAS [MODE]: set VENV to the virtualenv of MODE (pinned, latest or lowest;
# pinned when not given) with the package installed with the given extras ("" for none,
# "a,b" for several). The pinned one is installed again only when pyproject.toml or the
# constraints changed or an extra is missing, so switching between scripts costs nothing;
# latest and lowest are resolved anew on every call (that is their point).
ensure_venv() {
  local wanted="$1" mode="${2:-pinned}"
  case "$mode" in
    pinned) VENV=.venv ;;
    latest | lowest) VENV=".venv-$mode" ;;
    *) echo "ensure_venv: unknown mode $mode (pinned, latest or lowest)" >&2; return 2 ;;
  esac
  [ -x "$VENV/bin/python" ] || new_venv "$VENV"
  case "$mode" in
    pinned) install_pinned "$wanted" ;;
    latest) install_latest "$wanted" ;;
    lowest) install_lowest "$wanted" ;;
  esac
}

install_pinned() {
  local stamp="$VENV/.celeriac-installed" hash have="" all
  [ -f "$CONSTRAINTS" ] || { echo "$CONSTRAINTS is missing (scripts/pin writes it)" >&2; return 1; }
  hash="$(cat pyproject.toml "$CONSTRAINTS" | sha256sum | cut -c1-16)"
  if [ "$(head -n1 "$stamp" 2>/dev/null)" = "$hash" ]; then
    have="$(sed -n 2p "$stamp")"
  fi
  all="$(merged_extras "$have" "$wanted")"
  if [ "$(head -n1 "$stamp" 2>/dev/null)" = "$hash" ] && [ "$all" = "$have" ]; then
    return 0
  fi
  log "installing celeriac${all:+[$all]} into $VENV, pinned by $CONSTRAINTS"
  pip_in_venv install --quiet --constraint "$CONSTRAINTS" pip setuptools wheel
  # the build tools just pinned build the package (no isolated build with today's setuptools)
  pip_in_venv install --quiet --constraint "$CONSTRAINTS" --no-build-isolation \
    -e ".${all:+[$all]}"
  printf '%s\n%s\n' "$hash" "$all" > "$stamp"
}

install_latest() {
  log "installing celeriac${1:+[$1]} into $VENV with the newest releases its ranges allow"
  pip_in_venv install --quiet --upgrade pip setuptools wheel
  pip_in_venv install --quiet --upgrade --upgrade-strategy eager --no-build-isolation \
    -e ".${1:+[$1]}"
  show_versions
}

install_lowest() {
  local floors="$VENV/floors.txt"
  log "installing celeriac${1:+[$1]} into $VENV, its runtime dependencies at their lowest"
  pip_in_venv install --quiet --upgrade pip setuptools wheel
  # its metadata first: where the floors are read
  pip_in_venv install --quiet --no-deps --no-build-isolation -e .
  "$VENV/bin/python" scripts/floors.py > "$floors"
  pip_in_venv install --quiet --upgrade --upgrade-strategy eager --constraint "$floors" \
    --no-build-isolation -e ".${1:+[$1]}"
  show_versions
}

pip_in_venv() {
  # --no-input: CI has no stdin. A pip configuration may name local package folders that
  # are absent; pip's warning for each package looked up is noise, not news.
  "$VENV/bin/python" -m pip --no-input --disable-pip-version-check "$@" 2>&1 |
    { grep -v "^WARNING: Location '.*' is ignored: it is neither a file nor a directory" || true; } >&2
}

show_versions() {
  log "resolved: $("$VENV/bin/python" -m pip list --format=freeze 2>/dev/null |
    grep -iE '^(redis|hiredis|kombu|anyio|click|msgpack|tzdata|celery|mypy|ruff|pytest)==' |
    tr '\n' ' ')"
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
