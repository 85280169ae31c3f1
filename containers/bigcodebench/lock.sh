#!/usr/bin/env bash
# Regenerates requirements.lock from requirements.in: the common script does it for every role.
exec "$(dirname "$0")/../lock.sh" bigcodebench
