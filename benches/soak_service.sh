#!/usr/bin/env bash
# Memory soak of `meterlink serve` (issue 15 §5: "Memory flat over a one-hour soak"): mosquitto,
# `meterlink-serve` (MQTT QoS 1 -> SQLite, default settings, one process for the whole run) and
# the load generator of benches/bench_service_e2e.rs (E2E_MODE=publish: distinct mode-5
# telegrams with 3 records from 20,000 meters, QoS 1, stamped with the wall clock) at RATE
# messages/s for SECS seconds. VmRSS/VmHWM of the service sampled every 10 s from
# /proc/PID/status into a CSV with the service's own counters and the database size.
#
#   benches/soak_service.sh [RATE] [SECS] [OUTDIR]     (defaults: 4000/s, 3600 s, /tmp/ml-soak)
#
# SOAK_RETENTION_MIN=N sets `[store] retention_minutes = N`, so a run at full rate keeps only the
# last N minutes (pruned every quarter of that) and fits the disk; unset, nothing is pruned.
#
# The database is bounded by the disk (SOAK_MAX_GB, default 10): a sample that finds it larger
# stops the publisher (said in the summary). The database is deleted at the end; the CSV and
# the logs stay in OUTDIR. Needs mosquitto and curl; builds the bench in release when needed.
set -euo pipefail
cd "$(dirname "$0")/.."
rate="${1:-4000}"; secs="${2:-3600}"; out="${3:-/tmp/ml-soak}"
max_gb="${SOAK_MAX_GB:-10}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
for b in mosquitto curl; do command -v "$b" >/dev/null || { echo "SKIP: $b missing"; exit 0; }; done
exe=$(cargo bench -p meterlink-service --bench bench_service_e2e --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)
serve="$CARGO_TARGET_DIR/release/meterlink-serve"
[ -x "$exe" ] && [ -x "$serve" ] || { echo "build failed: bench '$exe', serve '$serve'"; exit 1; }
rm -rf "$out"; mkdir -p "$out"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mqtt=$(free_port); http=$(free_port)
# SOAK_BROKER_QUEUE bounds mosquitto's queue for the service's session (default 0: unbounded).
# A run that publishes faster than the service stores keeps it saturated for the whole run;
# the bound keeps the broker's memory in check, and mosquitto drops what exceeds it.
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages %s\nmax_inflight_messages 1000\npersistence false\n' "$mqtt" "${SOAK_BROKER_QUEUE:-0}" > "$out/mosquitto.conf"
awk 'BEGIN { print "manufacturer,id,key"; for (i = 1; i <= 20000; i++) printf "KAM,%08d,51728910E66D83F851728910E66D83F8\n", i }' > "$out/keys.csv"
cat > "$out/serve.toml" <<EOF
[[http]]
name = "http"
listen = "127.0.0.1:$http"
[broker]
embedded = false
[keys]
files = ["$out/keys.csv"]
[store]
path = "$out/soak.db"
retention_minutes = ${SOAK_RETENTION_MIN:-0}
[[mqtt]]
url = "mqtt://127.0.0.1:$mqtt"
qos = 1
persistent_session = true
client_id = "soak-ml"
EOF
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -f "$out"/soak.db*; }
trap cleanup EXIT
mosquitto -c "$out/mosquitto.conf" > "$out/mosquitto.log" 2>&1 & pids+=($!)
sleep 1
"$serve" "$out/serve.toml" 2> "$out/serve.log" & svc=$!; pids+=($svc)
until curl -sf "http://127.0.0.1:$http/health" >/dev/null; do sleep 0.2; done
sleep 1
# A counter summed over its labels (`received` is counted per intake and gateway).
metric() { awk -v k="$1" '$1 == k || index($1, k "{") == 1 { s += $2; n++ } END { if (n) printf "%d", s }' "$out/metrics.txt"; }
sample() {
    curl -s --max-time 5 "http://127.0.0.1:$http/metrics" > "$out/metrics.txt" || true
    local db_bytes; db_bytes=$(stat -c %s "$out"/soak.db* 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }')
    read -r rss hwm < <(awk '/^VmRSS/ { r = $2 } /^VmHWM/ { h = $2 } END { print r, h }' "/proc/$svc/status")
    echo "$(( $(date +%s) - start )),$rss,$hwm,$(metric meterlink_received_total),$(metric meterlink_stored_total),$(metric meterlink_batches_total),$(metric meterlink_queue_depth),$db_bytes,$(metric meterlink_duplicates_total),$(metric meterlink_mqtt_reconnects_total)" >> "$out/rss.csv"
    echo "$db_bytes"
}
echo "t_s,vmrss_kb,vmhwm_kb,received,stored,batches,queue_depth,db_bytes,duplicates,mqtt_reconnects" > "$out/rss.csv"
start=$(date +%s)
E2E_MODE=publish E2E_PORT=$mqtt E2E_RATE=$rate E2E_SECS=$secs "$exe" > "$out/publisher.log" 2>&1 & pub=$!; pids+=($pub)
stopped=""
while kill -0 "$pub" 2>/dev/null; do
    sleep 10
    db_bytes=$(sample)
    if [ "$db_bytes" -gt $(( max_gb * 1024 * 1024 * 1024 )) ] && [ -z "$stopped" ]; then
        stopped="publisher stopped at $(( $(date +%s) - start )) s: database over $max_gb GB"; kill "$pub" || true
    fi
done
for _ in $(seq 1 12); do sample > /dev/null; sleep 5; done   # the tail commits
kill -TERM "$svc"; wait "$svc" || true
cat "$out/publisher.log"
awk -F, -v stopped="$stopped" 'NR == 2 { first = $2 } NR > 1 && $1 >= 600 && !ten { ten = $2 } NR > 1 { if ($2 > max) max = $2; last = $2; t = $1; s = $5; db = $8; dup = $9; rc = $10 }
     END { printf "soak: %d s, stored %d telegrams, database %.2f GB at the end, %d duplicates, %d MQTT reconnects\nVmRSS kB: first %d, at 10 min %d, end %d, max %d (end/10-min %.3f) %s\n", t, s, db / 2^30, dup, rc, first, ten, last, max, (ten ? last / ten : 0), stopped }' "$out/rss.csv" | tee "$out/summary.txt"
