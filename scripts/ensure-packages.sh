#!/usr/bin/env bash
# Install Debian packages that are missing: ensure-packages.sh COMMAND=PACKAGE ...
# Runs apt-get update at most once, and only when something is missing.
set -euo pipefail
missing=()
for pair in "$@"; do
  check="${pair%%=*}"; package="${pair#*=}"
  if [[ "$check" == /* ]]; then [[ -e "$check" ]] || missing+=("$package")
  else command -v "$check" >/dev/null 2>&1 || missing+=("$package"); fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
echo "Installing missing packages: ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
