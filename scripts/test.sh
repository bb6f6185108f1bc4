#!/usr/bin/env bash
# Install everything the tests need on a fresh Debian machine, then run lint and the test suite.
# Real servers come from Debian: mosquitto (MQTT), influxdb 1.x (v1 API), chromium (report
# screenshots), docker-compose (static validation of docker-compose.yml), node and npm (the
# interoperability tests run node-opcua and Eclipse Tahu's decoder). Extra pytest
# arguments pass through: scripts/test.sh -k gateway
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v influxd >/dev/null 2>&1 || need+=(influxdb)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check -e ".[test]"
# test-only independent stacks (node-opcua, Tahu's sparkplug-payload): tests/interop/node
npm ci --no-audit --no-fund --silent --prefix tests/interop/node
ruff check .
ruff format --check .
python3 -m pytest -q --durations=15 "$@"
