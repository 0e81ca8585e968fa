#!/bin/sh
# run-fuzzer.sh - run one libFuzzer target on its seed corpus for a bounded time (the CI step)
#   run-fuzzer.sh FUZZER SEED_DIR WORK_DIR [libFuzzer options...]
# New inputs go to WORK_DIR/corpus, never into the source tree; a crash leaves its input in
# WORK_DIR (crash-*, leak-*, timeout-*) and fails the run. Add such an input to SEED_DIR with
# the fix, so that every later run replays it.
set -eu
fuzzer=$1 seeds=$2 work=$3
shift 3
mkdir -p "$work/corpus"
# a 5 s budget per input (a loaded CI machine): the decoders take microseconds to milliseconds
exec "$fuzzer" -timeout=5 -max_len=16384 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/" "$@" "$work/corpus" "$seeds"
