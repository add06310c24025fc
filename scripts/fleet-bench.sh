#!/usr/bin/env bash
# Issue 12's fleet figures, end to end with the real binaries:
#   a fleet of SITES simulated gateways x DEVICES devices (default 200 x 200)
#   on one Mosquitto broker, planned in one run: wall time, peak RSS of the
#   gwsync process, and the MQTT connections gwsync opened (counted by the
#   broker's own log, and by gwsync); the same plan of a quarter of the
#   fleet (peak memory follows the largest sites in flight, not the fleet);
#   then the fleet applied to empty gateways answering in LATENCY with
#   --jobs 8 and with --jobs 1.
# Uses Mosquitto on a free 127.0.0.1 port when it is installed, otherwise
# the simulator's embedded broker (and says so). Not part of go test ./...
#
#   ./scripts/fleet-bench.sh [SITES [DEVICES [LATENCY]]]
set -euo pipefail
cd "$(dirname "$0")/.."
sites=${1:-200} devices=${2:-200} latency=${3:-5ms}
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/gwsync" .
gw="$work/gwsync"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
broker="tcp://127.0.0.1:$port"

if command -v mosquitto >/dev/null; then
	printf 'listener %s 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\nmax_queued_messages 100000\nlog_type all\nlog_dest stderr\n' \
		"$port" >"$work/mosquitto.conf"
	mosquitto -c "$work/mosquitto.conf" 2>"$work/mosquitto.log" &
	pids+=($!)
	sleep 0.5
	echo "broker: $(mosquitto -h 2>/dev/null | head -1) on $broker"
	simbroker=(--broker "$broker")
else
	echo "broker: mosquitto is not installed: the simulator's embedded broker on $broker"
	simbroker=(--listen "127.0.0.1:$port")
fi

# The fleet: common/ holds the broker, a profile, a codec, deviceDefaults;
# each site names its gateway and its devices, keys in one env file.
python3 - "$work" "$sites" "$devices" <<'PY'
import os, sys, hashlib
work, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fleet = os.path.join(work, "fleet")
os.makedirs(os.path.join(fleet, "common"))
open(os.path.join(fleet, "fleet.yml"), "w").write("version: 1\ncommon: [common]\nsites: [sites]\n")
open(os.path.join(fleet, "common", "shared.yaml"), "w").write(f"""connection:
  broker: {os.environ.get('BROKER', '')}
profiles:
  - name: Fleet-ClassC
    supportsJoin: true
    supportsClassC: true
codecs:
  - name: fleet-codec
    decoderScript: "function Decode(fPort, bytes) {{ return {{}}; }}"
deviceDefaults:
  application: cloud
  profile: Fleet-ClassC
  codec: fleet-codec
""")
keys = []
for i in range(n):
    s = os.path.join(fleet, "sites", f"gw-{i:03d}")
    os.makedirs(s)
    lines = [f"version: 1\ngateway:\n  eui: '{0x24E124FFFE100000 + i:016X}'\n  channelPlan: EU868\ndevices:\n"]
    for k in range(d):
        lines.append(f"  - devEUI: '{0x24E1241300000000 + (i << 16) + k:016X}'\n    name: dev-{i:03d}-{k:03d}\n    appKey: ${{env:K_{i}_{k}}}\n")
        keys.append(f"K_{i}_{k}={hashlib.sha256(f'{i}/{k}'.encode()).hexdigest()[:32]}\n")
    open(os.path.join(s, "site.yaml"), "w").write("".join(lines))
open(os.path.join(work, "keys.env"), "w").write("".join(keys))
PY
sed -i "s|broker: $|broker: $broker|" "$work/fleet/common/shared.yaml"

startsim() { # state dir, extra flags
	"$gw" sim --gateways "$sites" --state-dir "$1" "${simbroker[@]}" "${@:2}" >"$work/sim.log" 2>&1 &
	simpid=$!
	pids+=($simpid)
	for _ in $(seq 100); do grep -qs '^gwsim:' "$work/sim.log" && return; sleep 0.1; done
	cat "$work/sim.log"; exit 1
}
stopsim() { kill -INT "$simpid"; wait "$simpid" || true; }
conns() { # gwsync's connections the broker saw since mark $1
	[ -f "$work/mosquitto.log" ] || { echo "n/a"; return; }
	tail -n +"$1" "$work/mosquitto.log" | grep -c 'New client connected.* as gwsync-' || true
}
mark() { [ -f "$work/mosquitto.log" ] && echo $(($(wc -l <"$work/mosquitto.log") + 1)) || echo 1; }
measure() { # label, args…: wall time, peak RSS, gwsync's own count of connections
	local m; m=$(mark)
	/usr/bin/time -f '%e %M' -o "$work/time" "$gw" "${@:2}" --env-file "$work/keys.env" >"$work/out" 2>"$work/err" || true
	read -r wall rss <"$work/time"
	printf '  %-40s %7.2f s %6d MB   connections: broker saw %s, gwsync says %s   %s\n' "$1" "$wall" $((rss / 1024)) \
		"$(conns "$m")" "$(grep -o 'opened: [0-9]*' "$work/err" | cut -d' ' -f2)" "$(tail -1 "$work/out")"
}

echo "fleet of $sites gateways x $devices devices ($((sites * devices)) devices), one broker"
# Applied once, so that the plans read full gateways.
startsim "$work/state-full"
"$gw" apply "$work/fleet" --jobs 8 --auto-approve --env-file "$work/keys.env" >"$work/apply0" 2>&1 || { tail -20 "$work/apply0"; exit 1; }
echo "plan, every gateway holding its $devices devices (no changes)"
measure "plan --jobs 8" plan "$work/fleet" --jobs 8
measure "plan --jobs 1" plan "$work/fleet" --jobs 1
measure "plan --jobs 8 --shard 1/4 (1/4 fleet)" plan "$work/fleet" --jobs 8 --shard 1/4
stopsim

echo "apply to empty gateways answering in $latency ($((sites * devices)) device creates)"
for jobs in 8 1; do
	startsim "$work/state-empty-$jobs" --latency "$latency"
	measure "apply --jobs $jobs" apply "$work/fleet" --jobs "$jobs" --auto-approve
	stopsim
done
