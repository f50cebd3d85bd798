#!/usr/bin/env bash
# The MQTT intake's speed against a bare C subscriber on the same broker (issue 15 §5:
# "MQTT QoS 1 ... >= 90 % of the rate at which the same broker delivers the same messages to
# mosquitto_sub", measured side by side in one run). Not part of the test run.
#
#   benches/bench_service_mqtt.sh [N] [ROUNDS]        (defaults: 100000 messages, 3 rounds)
#
# Needs Debian's mosquitto and mosquitto-clients (apt-get install mosquitto mosquitto-clients).
# Builds the intake tests in release once, then per round runs, each against a fresh mosquitto
# (max_queued_messages 0, max_inflight_messages $BENCH_INFLIGHT, default 1000, for both):
#   drain qos1: mosquitto holds N QoS 1 messages for two absent persistent sessions and
#               delivers them to mosquitto_sub, then to the intake;
#   live qos1 / live qos0: mosquitto_pub -l publishes N messages at full speed while
#               mosquitto_sub and the intake are subscribed at the same time.
# The intake's consumer stands in for the pipeline: it acknowledges each batch it takes at
# once (no store), so these are the intake's own rates. Prints the BENCH lines.
# With E2E=1 it then runs the end-to-end benchmark (the whole service into SQLite against
# mosquitto_sub, crates/meterlink-service/benches/bench_service_e2e.rs, N messages, ROUNDS drain
# rounds, no kill -9 run).
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_N="${1:-100000}"
rounds="${2:-3}"
for b in /usr/sbin/mosquitto /usr/bin/mosquitto_sub /usr/bin/mosquitto_pub; do
    [ -x "$b" ] || { echo "SKIP: $b missing (apt-get install mosquitto mosquitto-clients)"; exit 0; }
done
cargo test -q -p meterlink-service --release --test intake_mqtt --no-run
for r in $(seq 1 "$rounds"); do
    echo "round $r"
    cargo test -q -p meterlink-service --release --test intake_mqtt -- --ignored --nocapture --test-threads 1 bench_ 2>&1 | grep -oE '(BENCH|SKIP).*' || true
done
if [ "${E2E:-0}" = 1 ]; then
    E2E_N="$BENCH_N" E2E_ROUNDS="$rounds" E2E_KILL9=0 cargo bench -q -p meterlink-service --bench bench_service_e2e
fi
