#!/usr/bin/env bash
# A two-node Ray cluster on this machine for CooPy's Ray tests; nothing installed, nothing left behind.
#
#   .ci/ray.sh start       start the head and a second node (idempotent); waits until both are alive
#   .ci/ray.sh stop        stop both nodes (by their process groups, never by name)
#   .ci/ray.sh stop-head   stop only the head (the tests' "head goes away"); the other node is left to notice
#   .ci/ray.sh status      exit 0 if the Jobs API answers and both nodes are alive
#   .ci/ray.sh env         print `export RAY_ADDRESS=...` (use: eval "$(.ci/ray.sh env)")
#
# The head listens on 127.0.0.2 and the second node on 127.0.0.3: two loopback addresses, so the two
# nodes look like two hosts (and nothing listens for traffic from outside). The second node has the
# custom resource `special` (2 units), the head has none, so a job asking for it runs on the second node.
# Each node is `ray start --block` in its own session: stopping its process group stops all of that node
# (raylet, GCS, dashboard, workers; Ray's job watcher then kills the jobs' own process groups).
#
# Everything lives under $COOPY_RAY_DIR (default /tmp/coopy-ray). Ports: $COOPY_RAY_PORT (GCS, default
# 6390), $COOPY_RAY_DASHBOARD_PORT (the Jobs API, default 8275; the nodes' agents use the next two).
# `ray` is $COOPY_RAY_BIN, else the one on PATH (pip install -e '.[ray]').
set -euo pipefail

DIR="${COOPY_RAY_DIR:-/tmp/coopy-ray}"
PORT="${COOPY_RAY_PORT:-6390}"
DASHBOARD_PORT="${COOPY_RAY_DASHBOARD_PORT:-8275}"
HEAD_IP=127.0.0.2
WORKER_IP=127.0.0.3
CPUS="${COOPY_RAY_CPUS:-2}"  # logical CPUs per node (Ray does not enforce them)
OBJECT_STORE=78643200        # bytes: Ray's minimum (75 MiB); CooPy's jobs put nothing in it
ADDRESS="http://$HEAD_IP:$DASHBOARD_PORT"
RAY="${COOPY_RAY_BIN:-$(command -v ray || true)}"
export RAY_USAGE_STATS_ENABLED=0  # no usage reports (and no network)

die() { echo "ray.sh: $*" >&2; exit 1; }

pid_alive() {  # pid_alive PIDFILE
    [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

alive_nodes() {  # the number of alive nodes the Jobs API's host knows (0 when it does not answer)
    local out
    out="$(curl -sf --max-time 5 "$ADDRESS/api/v0/nodes?limit=100" 2>/dev/null)" || { echo 0; return; }
    grep -o '"state": *"ALIVE"' <<<"$out" | wc -l
}

jobs_api_up() {
    curl -sf --max-time 5 "$ADDRESS/api/version" >/dev/null 2>&1
}

running() {
    pid_alive "$DIR/head.pid" && pid_alive "$DIR/worker.pid" && jobs_api_up && [[ "$(alive_nodes)" -ge 2 ]]
}

wait_for() {  # wait_for SECONDS WHAT COMMAND...
    local seconds="$1" what="$2" i
    shift 2
    for i in $(seq 1 $((seconds * 10))); do
        "$@" && return 0
        sleep 0.1
    done
    die "$what not reached after ${seconds}s; see $DIR/head.out, $DIR/worker.out and $DIR/session_latest/logs"
}

two_nodes() { [[ "$(alive_nodes)" -ge 2 ]]; }
one_node() { [[ "$(alive_nodes)" -ge 1 ]]; }

start() {
    [[ -n "$RAY" && -x "$RAY" ]] || die "ray is not installed (pip install -e '.[ray]'), or set COOPY_RAY_BIN"
    command -v curl >/dev/null || die "curl is needed to wait for the cluster"
    if running; then
        echo "ray.sh: already running (RAY_ADDRESS=$ADDRESS)"
        return 0
    fi
    stop quiet
    mkdir -p "$DIR"
    local began=$SECONDS
    setsid "$RAY" start --block --head --disable-usage-stats \
        --node-ip-address="$HEAD_IP" --port="$PORT" --temp-dir="$DIR" \
        --num-cpus="$CPUS" --num-gpus=0 --object-store-memory="$OBJECT_STORE" \
        --include-dashboard=true --dashboard-host="$HEAD_IP" --dashboard-port="$DASHBOARD_PORT" \
        --dashboard-agent-listen-port=$((DASHBOARD_PORT + 1)) --include-log-monitor=false \
        </dev/null >"$DIR/head.out" 2>&1 &
    echo $! >"$DIR/head.pid"
    wait_for 120 "the head's Jobs API" jobs_api_up
    wait_for 60 "the head node" one_node
    setsid "$RAY" start --block --disable-usage-stats \
        --address="$HEAD_IP:$PORT" --node-ip-address="$WORKER_IP" \
        --num-cpus="$CPUS" --num-gpus=0 --resources='{"special": 2}' --object-store-memory="$OBJECT_STORE" \
        --dashboard-agent-listen-port=$((DASHBOARD_PORT + 2)) --include-log-monitor=false \
        </dev/null >"$DIR/worker.out" 2>&1 &
    echo $! >"$DIR/worker.pid"
    wait_for 120 "two alive nodes" two_nodes
    echo "ray.sh: two-node cluster up in $((SECONDS - began))s (RAY_ADDRESS=$ADDRESS)"
}

stop_group() {  # stop_group NAME PIDFILE: TERM the node's process group, wait up to 5 s, then KILL it
    local name="$1" file="$2" pid i
    [[ -s "$file" ]] || return 0
    pid="$(cat "$file")"
    rm -f "$file"
    kill -0 "$pid" 2>/dev/null || kill -0 -- "-$pid" 2>/dev/null || return 0
    kill -TERM -- "-$pid" 2>/dev/null || true
    for i in $(seq 1 50); do  # a test cluster: no need to wait for a graceful drain
        kill -0 -- "-$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
        kill -0 -- "-$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    echo "ray.sh: $name (process group $pid) survived SIGKILL for 10 s" >&2
}

stop() {
    stop_group worker "$DIR/worker.pid"
    stop_group head "$DIR/head.pid"
    [[ "${1:-}" == quiet ]] || echo "ray.sh: stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    stop-head) stop_group head "$DIR/head.pid"; echo "ray.sh: head stopped" ;;
    status) running ;;
    env) echo "export RAY_ADDRESS=$ADDRESS" ;;
    *) echo "usage: $0 start|stop|stop-head|status|env" >&2; exit 2 ;;
esac
