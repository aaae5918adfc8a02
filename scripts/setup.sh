#!/usr/bin/env bash
# Set up iotcop on a Debian machine: Debian packages (when root) and a virtual environment in .venv.
# Idempotent: a second run only checks. Usage: scripts/setup.sh [--dev]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
mapfile -t packages < <(grep -v '^\s*#' scripts/debian-packages.txt | grep -v '^\s*$')
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: these Debian packages are missing; install them as root and run again:" >&2
    echo "  sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
# Debian's own Python 3.11 first: extractors run as 'nobody', who must be able to run the venv's
# interpreter (a Python below a 0700 home, such as pyenv's under /root, cannot be reached)
python=${PYTHON:-}
[ -n "$python" ] || { [ -x /usr/bin/python3.11 ] && python=/usr/bin/python3.11; }
[ -n "$python" ] || python=python3.11
command -v "$python" >/dev/null || python=python3
"$python" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || {
  echo "setup: iotcop needs Python 3.11 (found $("$python" --version 2>&1))" >&2; exit 1; }
stamp=.venv/.iotcop-installed
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
extra=""
[ "${1:-}" = "--dev" ] && extra="[dev]"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)$extra"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".$extra"
  echo "$want" > "$stamp"
fi
# Tools iotcop runs as separate programs, never imports: sslyze (AGPL-3.0; it also pins its own cryptography)
# lives in its own environment, .venv-tools, and iotcop reads its JSON output
tools_want="$(sha256sum scripts/tool-requirements.txt | cut -d' ' -f1)"
if [ ! -f .venv-tools/.installed ] || [ "$(cat .venv-tools/.installed)" != "$tools_want" ]; then
  [ -x .venv-tools/bin/python ] || "$python" -m venv .venv-tools
  .venv-tools/bin/python -m pip install -q -r scripts/tool-requirements.txt
  echo "$tools_want" > .venv-tools/.installed
fi
echo "setup: ready (.venv/bin/iotcop)"
