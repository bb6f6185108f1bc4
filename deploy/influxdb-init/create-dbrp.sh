#!/bin/bash
# Runs once, after the InfluxDB 2 image's automated setup (fresh volume only): map the v1
# database "$DOCKER_INFLUXDB_INIT_BUCKET" (retention policy autogen) to the bucket, so InfluxQL on
# /query (Grafana, twin analytics) finds it. InfluxDB 2.4+ also has a virtual mapping; an explicit
# one is harmless and keeps older 2.x working. twin analytics checks it again at start.
set -euo pipefail
if influx v1 dbrp list --org "$DOCKER_INFLUXDB_INIT_ORG" --db "$DOCKER_INFLUXDB_INIT_BUCKET" \
    2>/dev/null | grep -q "$DOCKER_INFLUXDB_INIT_BUCKET_ID"; then
  echo "DBRP mapping for $DOCKER_INFLUXDB_INIT_BUCKET exists"
  exit 0
fi
influx v1 dbrp create --org "$DOCKER_INFLUXDB_INIT_ORG" \
  --bucket-id "$DOCKER_INFLUXDB_INIT_BUCKET_ID" \
  --db "$DOCKER_INFLUXDB_INIT_BUCKET" --rp autogen --default
