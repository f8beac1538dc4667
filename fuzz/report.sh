#!/usr/bin/env bash
# The table of docs/RELIABILITY.md's "Fuzzing" section, from the logs of the
# last fuzz/run.sh (`make fuzz` or `make fuzz-report` regenerates them):
# per target, executions, time, speed, coverage (edges, features), corpus
# size, and the result. Then the replica target's counts of forged and
# malformed messages sent to the replica and accepted by it.
#
#   fuzz/report.sh BUILD_DIR [TARGET...]
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:?build folder}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(wire_frame_fuzz wire_body_fuzz frame_reader_fuzz client_stream_fuzz replica_fuzz replica_primary_fuzz http_api_fuzz config_fuzz)

stat() { grep -m1 "^stat::$2:" "$1" | awk '{print $2}'; }
echo "| target | executions | seconds | exec/s | coverage (edges) | features | corpus | result |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
for t in "${targets[@]}"; do
  log="$build/logs/$t.log"
  [ -f "$log" ] || { echo "| $t | - | - | - | - | - | - | not run |"; continue; }
  runs=$(stat "$log" number_of_executed_units)
  secs=$(grep -oE "Done [0-9]+ runs in [0-9]+ second" "$log" | tail -1 | awk '{print $5}')
  speed=$(stat "$log" average_exec_per_sec)
  last=$(grep -E "^#[0-9]+" "$log" | tail -1)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.* corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$last")
  if grep -qE "ERROR: libFuzzer|SUMMARY: (Address|Undefined)|check failed|deadly signal" "$log"; then
    result="FAILED: $(grep -m1 -oE "check failed: .*|SUMMARY: .*|ERROR: libFuzzer: .*" "$log" | cut -c1-80)"
  else
    result="no finding"
  fi
  echo "| $t | ${runs:--} | ${secs:--} | ${speed:--} | ${cov:--} | ${ft:--} | ${corp:--} | $result |"
done
for r in "${targets[@]}"; do
  case "$r" in replica_fuzz | replica_primary_fuzz) ;; *) continue ;; esac
  log="$build/logs/$r.log"
  [ -f "$log" ] || continue
  who="replica 1 (a backup)"
  [ "$r" = replica_primary_fuzz ] && who="replica 0 (the primary)"
  echo
  echo "Messages sent to $who by $r (one run), and how many it accepted:"
  echo
  echo "| message | sent | accepted |"
  echo "| --- | ---: | ---: |"
  line=$(grep "^replica_fuzz: messages" "$log" | tail -1)
  num() { sed -nE "s/.*$1 ([0-9]+).*/\1/p" <<<"$line"; }
  acc() { sed -nE "s/.*$1 sent [0-9]+ accepted ([0-9]+).*/\1/p" <<<"$line"; }
  echo "| all decoded messages | $(num 'messages') | - |"
  echo "| forged (outer signature or claimed sender wrong) | $(num 'forged sent') | $(acc 'forged') |"
  echo "| on a link that is not a peer's | $(num 'non-peer link sent') | $(acc 'non-peer link') |"
  echo "| in a frame with another cluster id | $(num 'wrong cluster id sent') | $(acc 'wrong cluster id') |"
  echo "| undecodable bodies (rejected by the codec) | $(num 'undecodable') | 0 |"
  grep "^replica_fuzz: forged [a-z_-]* sent" "$log" | tail -12 |
    sed -E 's/^replica_fuzz: forged ([^ ]+) sent ([0-9]+) accepted ([0-9]+)/| forged \1 | \2 | \3 |/'
done
