#!/usr/bin/env bash
# Install the load tools `make bench` drives: wrk and hey, from Debian's packages.
set -euo pipefail

missing=()
for tool in wrk hey; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done

"$(dirname "$0")/../deploy/apt-install.sh" ${missing[@]+"${missing[@]}"}
