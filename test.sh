#!/usr/bin/env bash
# Runs every test. On a fresh machine it first installs what the tests need and is missing:
# Debian's prometheus (promtool and the server, for the metrics tests) and redis-server (for
# the Redis backplane tests; each test starts its own on 127.0.0.1), chromium (the browser
# tests drive it with Playwright), nodejs (client.js's unit tests run in Node's test runner, and
# the chat example's agent is a Node program), python3 and curl (the examples' producers).
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v dotnet >/dev/null 2>&1; then
  echo "test.sh: the .NET 10 SDK (dotnet) is required" >&2
  exit 1
fi

missing=()
need() { # need <command> <debian package>
  command -v "$1" >/dev/null 2>&1 || missing+=("$2")
}
need promtool prometheus
need prometheus prometheus
need redis-server redis-server
need chromium chromium
need node nodejs
need python3 python3
need curl curl

if [ ${#missing[@]} -gt 0 ]; then
  packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  echo "test.sh: installing $packages"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  # shellcheck disable=SC2086 # one word per package
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages
fi

dotnet test gateway.sln -c Release "$@"
