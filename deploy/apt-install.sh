#!/usr/bin/env bash
# Install Debian packages PriceHub needs, as root; otherwise print the command and fail.
# Usage: deploy/apt-install.sh PACKAGE ...   (nothing to do without arguments)
set -euo pipefail

[ $# -gt 0 ] || exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "PriceHub needs: sudo apt-get install -y $*" >&2
  exit 1
fi
echo "Installing $* ..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
