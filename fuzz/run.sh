#!/usr/bin/env bash
# Runs every fuzz target for SECONDS: first over its committed corpus
# (fuzz/corpus/<target>, regressions included), then mutating. New inputs go
# to BUILD_DIR/corpus/<target>, never into the repository; a crash or a
# failed check stops that target and leaves the reproducer in
# BUILD_DIR/artifacts/<target>/. Prints the table of fuzz/report.sh and
# exits non-zero when any target failed.
#
#   fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:?build folder}
seconds=${2:?seconds per target}
shift 2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(wire_frame_fuzz wire_body_fuzz frame_reader_fuzz client_stream_fuzz replica_fuzz replica_primary_fuzz http_api_fuzz config_fuzz)

mkdir -p "$build/logs"
failed=()
for t in "${targets[@]}"; do
  bin="$build/fuzz/$t"
  [ -x "$bin" ] || { echo "missing $bin (make fuzz-build)" >&2; exit 2; }
  mkdir -p "$build/corpus/$t" "$build/artifacts/$t" "fuzz/corpus/$t"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$build/artifacts/$t/")
  [ -f "fuzz/dict/$t.dict" ] && args+=(-dict="fuzz/dict/$t.dict")
  start=$(date +%s)
  "$bin" "${args[@]}" "$build/corpus/$t" "fuzz/corpus/$t" >"$build/logs/$t.log" 2>&1
  rc=$?
  echo "$t: ${seconds}s asked, $(( $(date +%s) - start ))s taken, exit $rc" >&2
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    echo "---- $t failed; the end of $build/logs/$t.log:" >&2
    tail -n 40 "$build/logs/$t.log" >&2
    ls "$build/artifacts/$t/" >&2
  fi
done
fuzz/report.sh "$build" "${targets[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]} (reproducers in $build/artifacts/; run one with: $build/fuzz/<target> <file>)" >&2
  exit 1
fi
