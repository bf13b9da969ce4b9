#!/usr/bin/env bash
# Creates the three peers' environments under benchmarks/peers/.envs/ (git-ignored)
# and installs them from PyPI at the versions issue 15 measured.
#   zigzag      ZigZag 3.9.1 (zigzag-dse)
#   scalesim    SCALE-Sim 3.0.0 (needs numpy < 2.4)
#   accelforge  AccelForge 1.0.467 (needs Python >= 3.12 and Graphviz's `dot`)
# Usage: benchmarks/peers/setup.sh [zigzag|scalesim|accelforge ...]   (default: all three)
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
ENVS="$HERE/.envs"
PY312="${PY312:-/root/.pyenv/versions/3.12.1/bin/python}"
mkdir -p "$ENVS"

make_env() {  # name python packages...
  local name=$1 py=$2; shift 2
  if [ ! -x "$ENVS/$name/bin/python" ]; then
    "$py" -m venv "$ENVS/$name" || { echo "$name: cannot create a venv with $py"; return 1; }
  fi
  "$ENVS/$name/bin/python" -m pip install -q --disable-pip-version-check "$@" \
    && echo "$name: ok ($("$ENVS/$name/bin/python" -m pip freeze | grep -iE "^($name|zigzag-dse)=" | tr '\n' ' '))" \
    || { echo "$name: pip install $* failed"; return 1; }
}

want="${*:-zigzag scalesim accelforge}"
for tool in $want; do
  case $tool in
    zigzag) make_env zigzag "$PY312" "zigzag-dse==3.9.1" six  # six: imported by zigzag.parser, not declared ;;
    scalesim) make_env scalesim "$PY312" "scalesim==3.0.0" "numpy<2.4" ;;
    accelforge)
      if ! command -v dot >/dev/null; then
        echo "accelforge: Graphviz's dot is missing (Debian: apt-get install -y graphviz)"
      fi
      make_env accelforge "$PY312" "accelforge==1.0.467" ;;
    *) echo "unknown tool $tool (zigzag, scalesim, accelforge)"; exit 2 ;;
  esac
done
