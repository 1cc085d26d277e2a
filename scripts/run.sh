#!/usr/bin/env bash
# `make run`: node_exporter, a Prometheus with its remote-write receiver on, and Outpost on
# config-examples/quickstart.yaml, all on 127.0.0.1. Ctrl-C stops the three.
set -euo pipefail
cd "$(dirname "$0")/.."
OUTPOST=${1:-.build/debug/outpost}
NODE_PORT=19100 PROM_PORT=19090 OUTPOST_PORT=19091
DATA=${DATA:-data}

for port in $NODE_PORT $PROM_PORT $OUTPOST_PORT; do
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
        echo "port $port on 127.0.0.1 is in use; stop what listens there (the quickstart uses 19090, 19091, 19100)" >&2
        exit 1
    fi
done
mkdir -p "$DATA/prometheus" "$DATA/outpost"
printf 'global:\n  scrape_interval: 1h\n' > "$DATA/prometheus.yml"

pids=()
stop() {
    trap - INT TERM EXIT
    echo; echo "stopping..."
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop INT TERM EXIT

prometheus-node-exporter --web.listen-address=127.0.0.1:$NODE_PORT >"$DATA/node_exporter.log" 2>&1 &
pids+=($!)
prometheus --config.file="$DATA/prometheus.yml" --storage.tsdb.path="$DATA/prometheus" \
    --web.listen-address=127.0.0.1:$PROM_PORT --web.enable-remote-write-receiver >"$DATA/prometheus.log" 2>&1 &
pids+=($!)
"$OUTPOST" --config.file=config-examples/quickstart.yaml --storage.agent.path="$DATA/outpost" \
    --web.listen-address=127.0.0.1:$OUTPOST_PORT --web.enable-lifecycle &
pids+=($!)

cat <<MSG

  Outpost status:      http://127.0.0.1:$OUTPOST_PORT/status
  Outpost metrics:     http://127.0.0.1:$OUTPOST_PORT/metrics
  Prometheus (graph):  http://127.0.0.1:$PROM_PORT/graph?g0.expr=node_load1&g0.tab=1
  Logs of the peers:   $DATA/node_exporter.log, $DATA/prometheus.log

  node_exporter's series reach Prometheus within seconds. Ctrl-C stops all three.

MSG
wait -n "${pids[@]}" || true
