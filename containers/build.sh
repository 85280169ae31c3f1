#!/usr/bin/env bash
# Builds the pinned images from the lock files: containers/build.sh [ROLE...]   (default: every role, that is
# every folder of containers/ with a Dockerfile: harness.containers.roles() names the same, tests check)
#
# Engine: podman where installed, else docker ($SCODER_ENGINE names one). Each image is tagged
# scoder-<role>:<tag>, where <tag> is the first 12 hex digits of the sha256 of its Dockerfile and the lock
# files it copies: the name harness/containers.py starts (image_name), so a changed lock is a new image.
# Base: the image the Dockerfile pins by digest where a registry answers; where none does (the machines this
# project is built on), a base made here from Debian's own packages (mmdebstrap, then imported), with the
# Python of the pinned base (python:X.Y...; 3.11 for another): Debian 12's python3.11, or a copy of pyenv's
# Python X.Y (bigcodebench's 3.10). The base used is recorded in the image's label scoder.base.
set -euo pipefail
cd "$(dirname "$0")/.."

ROLES=($(ls containers/*/Dockerfile | cut -d/ -f2))
engine=${SCODER_ENGINE:-$(command -v podman >/dev/null && echo podman || echo docker)}
roles=("$@")
[ ${#roles[@]} -gt 0 ] || roles=("${ROLES[@]}")

# The tag: what harness.containers.image_name computes (tests/test_containers.py checks they agree).
image_tag() {
  local dockerfile=containers/$1/Dockerfile
  { cat "$dockerfile"; grep -o 'containers/[^ ]*\.lock' "$dockerfile" | LC_ALL=C sort -u | xargs cat; } | sha256sum | cut -c1-12
}

# Fully qualified (podman refuses short names without a terminal to ask on): python:3.11 -> docker.io/library/python:3.11
pinned_base() {
  local base
  base=$(sed -n 's/^ARG BASE_IMAGE=//p' "containers/$1/Dockerfile")
  case "$base" in */*) echo "$base" ;; *) echo "docker.io/library/$base" ;; esac
}

# A Debian 12 root with the role's Python, imported as an image; made once per Python.
local_base() {
  local python=$1 name=localhost/scoder-base:bookworm-python$1
  if "$engine" image exists "$name" 2>/dev/null || "$engine" image inspect "$name" >/dev/null 2>&1; then
    echo "$name"; return
  fi
  command -v mmdebstrap >/dev/null || { echo "no registry answers and mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; return 1; }
  local packages=ca-certificates,python3,python3-venv,python-is-python3 hooks=() tarball
  if [ "$python" != 3.11 ]; then  # not Debian 12's own
    local prefix
    prefix=$(pyenv prefix "$python" 2>/dev/null || ls -d "$(pyenv root 2>/dev/null || echo ~/.pyenv)"/versions/"$python".* 2>/dev/null | tail -1)
    [ -x "$prefix/bin/python$python" ] || { echo "a Python $python base needs pyenv's Python $python (pyenv install $python)" >&2; return 1; }
    # pyenv's build links these libraries of Debian 12; its prefix is kept, so its paths stay valid.
    packages+=,libssl3,libffi8,zlib1g,libbz2-1.0,liblzma5,libsqlite3-0,libreadline8,libncursesw6,libuuid1,libgdbm6
    hooks=(--customize-hook="mkdir -p \"\$1$prefix\"" --customize-hook="copy-in $prefix $(dirname "$prefix")"
           --customize-hook="ln -sf $prefix/bin/python$python \"\$1/usr/local/bin/python\""
           # Runs as the caller's uid: every folder down to the prefix must let others through (/root is 0700).
           --customize-hook="d=$prefix; while [ \"\$d\" != / ]; do chmod o+rx \"\$1\$d\"; d=\$(dirname \"\$d\"); done")
  fi
  tarball=$(mktemp --suffix=.tar)
  mmdebstrap --quiet --variant=minbase --include="$packages" "${hooks[@]}" bookworm "$tarball" http://deb.debian.org/debian >&2
  "$engine" import "$tarball" "$name" >&2
  rm -f "$tarball"
  echo "$name"
}

for role in "${roles[@]}"; do
  [ -f "containers/$role/Dockerfile" ] || { echo "unknown role $role; the roles are ${ROLES[*]}" >&2; exit 2; }
  name=scoder-$role:$(image_tag "$role")
  base=$(pinned_base "$role")
  if ! "$engine" pull -q "$base" >/dev/null 2>&1; then
    python=$(sed -n 's|^docker\.io/library/python:\([0-9]*\.[0-9]*\).*|\1|p' <<<"$base")
    python=${python:-3.11}
    echo "$role: the pinned base $base cannot be pulled; building on a local Debian 12 base with Python $python" >&2
    base=$(local_base "$python")
  fi
  started=$(date +%s)
  # The host's CA bundle: package indexes behind a TLS-inspecting proxy are then trusted inside the build.
  ca_bundle=()
  [ "$engine" = podman ] && ca_bundle=(--volume /etc/ssl/certs:/etc/ssl/certs:ro --build-arg PIP_CERT=/etc/ssl/certs/ca-certificates.crt)
  "$engine" build --build-arg "BASE_IMAGE=$base" --label "scoder.base=$base" "${ca_bundle[@]}" \
    -f "containers/$role/Dockerfile" -t "$name" .
  echo "$role: built $name in $(( $(date +%s) - started )) s on $base" >&2
done
