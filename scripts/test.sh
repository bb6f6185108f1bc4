#!/usr/bin/env bash
# Install everything the tests need on a fresh Debian/Ubuntu machine, then run lint and the tests
# inside the project's virtual environment (.venv; the system Python is externally managed).
# Real servers come from Debian: mosquitto (MQTT), influxdb 1.x (v1 API), chromium (report
# screenshots), docker-compose (static validation of docker-compose.yml), node and npm (the
# interoperability tests run node-opcua and Eclipse Tahu's decoder). Extra pytest
# arguments pass through: scripts/test.sh -k gateway, scripts/test.sh tests/test_cli.py
set -euo pipefail
# shellcheck source=scripts/lib/venv.sh
. "$(dirname "$0")/lib/venv.sh"
cd "$ROOT"

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v influxd >/dev/null 2>&1 || need+=(influxdb)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"

ensure_venv all,test
# test-only independent stacks (node-opcua, Tahu's sparkplug-payload): tests/interop/node
npm ci --no-audit --no-fund --silent --prefix tests/interop/node
# Grafana's own data transformations (@grafana/data 11.6) for the dashboard tests
npm ci --no-audit --no-fund --silent --prefix tests/dashboards/node
# the venv's console scripts (asyncua's uals, uaread, uacall) for the tests that run them
export PATH="$VENV/bin:$PATH"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/python" -m pytest -q --durations=15 "$@"
