#!/usr/bin/env bash
# Issue 19's hostile files and issue 20's references, end to end with the
# real binary: each case must end in an error naming the file, within 15 s
# and 300 MB of peak RSS, before anything is sent to a gateway (the
# commands that connect point at a port where nothing listens, so a write
# could not happen, and none is attempted). Prints one row a case: exit
# code, wall time, peak RSS and the first line of the error.
# Needs GNU time (/usr/bin/time) and mkfifo. Not part of go test ./...
#
#   ./scripts/hostile-files.sh [GWSYNC_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=${1:-}
if [[ -z $bin ]]; then
	bin=$work/gwsync
	go build -o "$bin" .
fi
command -v /usr/bin/time >/dev/null || { echo "needs GNU time at /usr/bin/time" >&2; exit 2; }

# A site in a repository, with a secret next to it that a pull request
# would like to publish.
repo=$work/repo site=$repo/site
mkdir -p "$site/keys" "$repo/.git"
echo "GWSYNC_PASSWORD=Hunter2-secret" >"$work/runner.env"
mkfifo "$site/pipe.js" "$site/keys/pipe.key" "$work/fifo"
ln -s "$work/runner.env" "$site/keys/out.key"
ln -s /dev/zero "$site/keys/zero.key"
truncate -s 1G "$site/keys/huge.key"
truncate -s 20M "$site/devices.csv"
head=$'version: 1\ngateway: {eui: "24E124FFFEF5A6A8", channelPlan: EU868}\n'
dev() { printf 'devices:\n  - devEUI: "24E124136A456465"\n    name: d\n    application: cloud\n    appKey: ${file:%s}\n' "$1"; }
case_site() { # name, body: a site file of its own
	mkdir -p "$site/$1"
	printf '%s%s' "$head" "$2" >"$site/$1/site.yaml"
	# its references are relative to the site's folder
	echo "$site/$1/site.yaml"
}
s_parent=$(case_site parent "$(dev ../../../runner.env)")
s_abs=$(case_site abs "$(dev "$work/runner.env")")
s_proc=$(case_site proc "$(dev /proc/self/environ)")
s_link=$(case_site link "$(dev ../keys/out.key)")
s_zero=$(case_site zero "$(dev ../keys/zero.key)")
s_fifokey=$(case_site fifokey "$(dev ../keys/pipe.key)")
s_huge=$(case_site huge "$(dev ../keys/huge.key)")
s_codec=$(case_site codec $'codecs:\n  - name: c\n    decoderFile: ../pipe.js\n')
s_codecproc=$(case_site codecproc $'codecs:\n  - name: c\n    decoderFile: /proc/self/environ\n')
s_csv=$(case_site csv $'devicesFrom: ../devices.csv\n')
# 20 MB of small values (over the site file cap), 15 MB (under it: the
# value count refuses it before parsing), and the largest file of keys the
# value cap lets through (the dearest shape: a key without a value).
{ printf '%s' "$head"; echo "x:"; awk 'BEGIN { for (i = 0; i < 5000000; i++) print "- 1" }'; } >"$work/small20.yaml"
{ printf '%s' "$head"; echo "x:"; awk 'BEGIN { for (i = 0; i < 3750000; i++) print "- 1" }'; } >"$work/small15.yaml"
{ printf '%s' "$head"; echo "x:"; seq -f '  k%g:' 1 240000; } >"$work/keys.yaml"
{ printf '%s' "$head"; echo "x-anchors:"; seq -f '  k%g:' 1 240000; } >"$work/xkeys.yaml"
{ printf '%s' "$head"; echo "deviceDefaults:"; seq -f '  k%g:' 1 240000; } >"$work/wide.yaml"
{ printf '%s' "$head"; echo "devices:"; seq -f '  - devEUI: "%016g"' 1 100000; } >"$work/devices.yaml"

steady=testdata/plan/steady
rows=()
run() { # label, args...
	local label=$1
	shift
	local out=$work/out rc=0
	/usr/bin/time -f '%e %M' -o "$work/time" "$bin" "$@" >"$out" 2>&1 </dev/null || rc=$?
	read -r secs kb < <(tail -n1 "$work/time")
	local msg
	msg=$(grep -m1 -E 'rror|cannot|refus|not a|too large|fields|Valid' "$out" || head -n1 "$out")
	if grep -q Hunter2-secret "$out"; then msg="SECRET PRINTED: $msg"; fi
	printf '%-44s %4s %7ss %7s MB  %s\n' "$label" "$rc" "$secs" "$((kb / 1024))" "${msg:0:150}"
}
printf '%-44s %4s %8s %10s  %s\n' "case" "exit" "time" "peak RSS" "message"
run "site: /dev/zero" validate /dev/zero
run "site: a named pipe" validate "$work/fifo"
run "site: 20 MB of small values" validate "$work/small20.yaml"
run "site: 15 MB of small values" validate "$work/small15.yaml"
run "site: 240,000 keys in one mapping" validate "$work/keys.yaml"
run "site: 240,000 unknown deviceDefaults" validate "$work/wide.yaml"
run "site: 240,000 keys under x- (valid)" validate "$work/xkeys.yaml"
run "site: 100,000 devices, 200,000 errors" validate "$work/devices.yaml"
run "\${file:} ../ out of the site" validate "$s_parent"
run "\${file:} absolute path" validate "$s_abs"
run "\${file:/proc/self/environ}" validate "$s_proc"
run "\${file:} symbolic link out" validate "$s_link"
run "\${file:} link to /dev/zero" validate "$s_zero"
run "\${file:} a named pipe" validate "$s_fifokey"
run "\${file:} 1 GB key file" validate "$s_huge"
run "decoderFile: a named pipe" validate "$s_codec"
run "decoderFile: /proc/self/environ" validate "$s_codecproc"
run "devicesFrom: 20 MB CSV" validate "$s_csv"
run "plan --state /dev/zero" plan "$steady/site.yaml" --state /dev/zero
run "plan --state a named pipe" plan "$steady/site.yaml" --state "$work/fifo"
run "plan --env-file /dev/zero" plan "$steady/site.yaml" --state "$steady/state.json" --env-file /dev/zero
run "plan --env-file a named pipe" plan "$steady/site.yaml" --state "$steady/state.json" --env-file "$work/fifo"
run "show /dev/zero (plan file)" show /dev/zero
run "show a named pipe (plan file)" show "$work/fifo"
run "apply a named pipe (plan file)" apply "$work/fifo" --auto-approve --broker tcp://127.0.0.1:1
run "plan --ca-file /dev/zero" plan "$steady/site.yaml" --broker ssl://127.0.0.1:1 --ca-file /dev/zero --timeout 2s
run "plan --ca-file a named pipe" plan "$steady/site.yaml" --broker ssl://127.0.0.1:1 --ca-file "$work/fifo" --timeout 2s
run "plan --key-file /dev/zero" plan "$steady/site.yaml" --broker ssl://127.0.0.1:1 --cert-file /dev/zero --key-file /dev/zero --timeout 2s
