# shellcheck shell=bash
# Sourced by scripts/twin and scripts/test.sh: the project's virtual environment in .venv.
# The system Python of Debian 12 and Ubuntu 24.04 is "externally managed" (PEP 668): pip
# refuses to install into it, so everything goes into .venv. `ensure_venv EXTRAS` creates it
# when missing (installing Debian's python3-venv first if `venv` lacks ensurepip) and
# (re)installs the project, editable, with EXTRAS (e.g. "test") whenever pyproject.toml changed.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${TWIN_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: $*" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_venv() {
  local extras="${1:-}" spec="." stamp
  [ -z "$extras" ] || spec=".[$extras]"
  if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -c "import ensurepip, venv" >/dev/null 2>&1; then
      command -v apt-get >/dev/null 2>&1 || {
        echo "error: $PYTHON cannot create virtual environments (no ensurepip); install venv support" >&2
        exit 1
      }
      local ver
      ver="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
      apt_install "python${ver}-venv" || apt_install python3-venv
    fi
    echo "creating the virtual environment $VENV" >&2
    "$PYTHON" -m venv "$VENV"
  fi
  stamp="$VENV/.installed-${extras:-core}"
  if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ] || [ "$ROOT/constraints.txt" -nt "$stamp" ]; then
    echo "installing smart-factory-twin${extras:+[$extras]} into $VENV (first time: a few minutes)" >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    # the versions constraints.txt pins (as the Docker image has them), not the newest of today
    (cd "$ROOT" && "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c constraints.txt -e "$spec")
    touch "$stamp"
  fi
}
