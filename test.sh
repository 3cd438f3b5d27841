#!/usr/bin/env bash
# Runs every test. On a fresh machine it first installs what the tests need and is missing.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v dotnet >/dev/null 2>&1; then
  echo "test.sh: the .NET 10 SDK (dotnet) is required" >&2
  exit 1
fi

dotnet test gateway.sln -c Release "$@"
