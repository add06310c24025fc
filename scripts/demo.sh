#!/usr/bin/env bash
# The main job on the simulated gateway, with nothing else installed:
# validate → plan → apply → plan (which must come out empty) for
# examples/site.yaml against an in-process simulated UG65 (sim://).
#
#   ./scripts/demo.sh            # a fresh simulated gateway in a temp folder
#   GATEWAY=gw.json ./scripts/demo.sh   # keep the gateway's state in gw.json
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/gwsync" .
gwsync() { "$work/gwsync" "$@"; }

# The example takes its keys from the environment, never from the file:
# give every ${env:…} it names a fresh random key for this run.
for name in $(grep -rhoE '\$\{env:[A-Z0-9_]+\}' examples/site.yaml | sed -E 's/\$\{env:(.*)\}/\1/' | sort -u); do
  export "$name=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
done

export GWSYNC_BROKER="sim://${GATEWAY:-$work/gateway.json}"
site=examples/site.yaml

echo "\$ gwsync validate $site"
gwsync validate "$site"
echo
echo "\$ gwsync plan $site        # against $GWSYNC_BROKER"
gwsync plan "$site"
echo
echo "\$ gwsync apply $site --auto-approve"
gwsync apply "$site" --auto-approve
echo
echo "\$ gwsync plan $site --detailed-exitcode"
gwsync plan "$site" --detailed-exitcode
