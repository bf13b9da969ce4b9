#!/usr/bin/env bash
# Creates the three peers' environments under benchmarks/peers/.envs/ (git-ignored)
# and installs them from PyPI at the versions issue 15 measured.
#   zigzag      ZigZag 3.9.1 (zigzag-dse)
#   scalesim    SCALE-Sim 3.0.0 (needs numpy < 2.4)
#   accelforge  AccelForge 1.0.467 (needs Python >= 3.12 and Graphviz's `dot`)
# Usage: benchmarks/peers/setup.sh [zigzag|scalesim|accelforge ...]   (default: all three)
# PY312=/path/to/python overrides the search for a Python >= 3.12 (used for all three envs).
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
ENVS="$HERE/.envs"
mkdir -p "$ENVS"

is_py312() {  # true when $1 runs and is CPython >= 3.12 with venv
  [ -n "$1" ] && "$1" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1
}

find_py312() {  # prints a Python >= 3.12: $PY312, PATH, /usr/bin, pyenv, uv-managed
  local c
  # 3.12 first: the version issue 15's figures were measured with
  for c in "${PY312:-}" python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12 \
           /root/.pyenv/versions/3.12*/bin/python3 python3.13 /usr/bin/python3.13 \
           /usr/local/bin/python3.13 /root/.pyenv/versions/3.13*/bin/python3 python3; do
    if is_py312 "$c"; then command -v "$c" || echo "$c"; return 0; fi
  done
  if command -v uv >/dev/null; then
    c="$(uv python find '>=3.12' 2>/dev/null)"
    is_py312 "$c" && { echo "$c"; return 0; }
  fi
  return 1
}

make_env() {  # name python packages...
  local name=$1 py=$2; shift 2
  if [ ! -x "$ENVS/$name/bin/python" ]; then
    "$py" -m venv "$ENVS/$name" || { echo "$name: cannot create a venv with $py"; return 1; }
  fi
  "$ENVS/$name/bin/python" -m pip install -q --disable-pip-version-check "$@" \
    && echo "$name: ok ($("$ENVS/$name/bin/python" -m pip freeze | grep -iE "^($name|zigzag-dse)=" | tr '\n' ' '))" \
    || { echo "$name: pip install $* failed"; return 1; }
}

PY="$(find_py312)" || {
  echo "no Python >= 3.12 found (tried PY312, python3.13/3.12 on PATH, /usr/bin, /usr/local/bin, pyenv, uv);"
  echo "install one (Debian 13: apt-get install python3.13-venv; or uv python install 3.12) and set PY312"
  exit 1
}
echo "using $PY ($("$PY" -V 2>&1))"

status=0
want="${*:-zigzag scalesim accelforge}"
for tool in $want; do
  # six: imported by zigzag.parser, not declared by zigzag-dse
  case $tool in
    zigzag) make_env zigzag "$PY" "zigzag-dse==3.9.1" six || status=1 ;;
    scalesim) make_env scalesim "$PY" "scalesim==3.0.0" "numpy<2.4" || status=1 ;;
    accelforge)
      if ! command -v dot >/dev/null; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
          echo "accelforge: installing Graphviz (dot)"
          { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz; } >/dev/null 2>&1 \
            || echo "accelforge: apt-get install graphviz failed"
        fi
        command -v dot >/dev/null || echo "accelforge: Graphviz's dot is missing (Debian: apt-get install -y graphviz)"
      fi
      make_env accelforge "$PY" "accelforge==1.0.467" || status=1 ;;
    *) echo "unknown tool $tool (zigzag, scalesim, accelforge)"; exit 2 ;;
  esac
done
exit $status
