#!/usr/bin/env bash
# Benchmarks of issue 10, end to end, each figure beside its floor:
#   plan of 10,000 devices vs a client that only fetches the same pages,
#   apply of 2,000 creates at 20 ms vs the limit and vs parallelism 1,
#   requests per write of 4 creates on a 10,000-device gateway,
#   validate/plan/apply wall time and peak RSS at 1k/5k/10k/20k devices.
# Uses Mosquitto on a free 127.0.0.1 port when it is installed, else the
# simulator's embedded broker (and says so). A few minutes; --quick is about
# one. Not part of `go test ./...`.
#
#   ./scripts/bench.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/gwsync" .
go build -o "$bin/bench" ./internal/bench
"$bin/bench" --gwsync "$bin/gwsync" "$@"
