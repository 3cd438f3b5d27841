#!/usr/bin/env bash
# A simulated build (CMake-style compile, ctest-style tests, a package) streamed into a gateway
# session, the way a CI runner would stream a real one:
#   - every line it prints is piped into the session as a `terminal_output` event (one curl,
#     streaming ingest: the lines are published as they are printed);
#   - progress per component, per feature and overall is published with curl as it happens;
#   - after each stage it writes a checkpoint file, which the gateway's file watcher publishes
#     (no curl for those);
#   - at the end it publishes `build_finished` with "final": true, which ends the session.
# Usage: ./build.sh [--session NAME] [--delay SECONDS] [--checkpoints DIR] [--fail]
# Needs bash and curl. The gateway's address comes from GATEWAY_URL (default http://127.0.0.1:8080).
set -euo pipefail

gateway=${GATEWAY_URL:-http://127.0.0.1:8080}
gateway=${gateway%/}
session=${BUILD_SESSION:-build-demo}
delay=${BUILD_DELAY:-0.02}
checkpoints=${CHECKPOINT_DIR:-$(cd "$(dirname "$0")" && pwd)/checkpoints}
fail=false

usage() {
  echo "usage: $0 [--session NAME] [--delay SECONDS] [--checkpoints DIR] [--fail]" >&2
  echo "  --session      the gateway session to stream into (default build-demo; env BUILD_SESSION)" >&2
  echo "  --delay        seconds between printed lines, 0 for as fast as possible (default 0.02; env BUILD_DELAY)" >&2
  echo "  --checkpoints  the folder checkpoint files go to, which the gateway watches (default ./checkpoints beside this script; env CHECKPOINT_DIR)" >&2
  echo "  --fail         make one test fail, to see a failed build" >&2
}

while [ $# -gt 0 ]; do
  case $1 in
    --session) session=${2:?--session needs a name}; shift 2 ;;
    --delay) delay=${2:?--delay needs a number of seconds}; shift 2 ;;
    --checkpoints) checkpoints=${2:?--checkpoints needs a folder}; shift 2 ;;
    --fail) fail=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "build.sh: unknown argument '$1'" >&2; usage; exit 2 ;;
  esac
done

if ! [[ $session =~ ^[A-Za-z0-9._:-]{1,128}$ ]]; then
  echo "build.sh: --session '$session' is not a session name: 1-128 characters from A-Z a-z 0-9 . _ : -" >&2
  exit 2
fi
if ! [[ $delay =~ ^[0-9]+([.][0-9]+)?$ ]]; then
  echo "build.sh: --delay '$delay' is not a number of seconds (0, 0.02, 1, ...)" >&2
  exit 2
fi

events_url="$gateway/api/sessions/$session/events"

# The build's own output goes to the pipe into the gateway; this script's messages about the
# gateway go to fd 4 (the terminal's stderr), so they never end up in the build log.
exec 3>&1 4>&2

say() { echo "build.sh: $*" >&4; }

# publish <an event object, or a JSON array of them>: one curl, one append (a batch gets
# consecutive seqs). A failed publish is reported and the build goes on: progress is nice to
# have, the build itself must not fail because a dashboard is down.
publish() {
  curl -fsS -o /dev/null -H 'Content-Type: application/json' --data-binary "$1" "$events_url" 2>&4 \
    || say "could not publish to $events_url"
}

pause() { # pause [lines]: the time <lines> lines take to print (default 1)
  if [ "$delay" = 0 ]; then
    return
  elif [ "${1:-1}" = 1 ]; then
    sleep "$delay"
  else
    sleep "$(awk -v d="$delay" -v n="$1" 'BEGIN { print d * n }')"
  fi
}

# Colours, as compilers and test runners print them; the page renders them, anything else can
# strip them.
reset=$'\e[0m' bold=$'\e[1m' red=$'\e[31m' green=$'\e[32m' yellow=$'\e[33m' cyan=$'\e[36m'

# What is built: components (with their source files) and features (each a test suite).
components=(core protocol storage net auth server cli)
declare -A sources=(
  [core]="arena buffer clock config error hash list log map queue ring slab string thread time utf8 vec"
  [protocol]="decode encode frame header json limits message reader varint writer"
  [storage]="btree cache checksum compact cursor index journal page pager recovery snapshot wal"
  [net]="accept backoff conn dns epoll listener proxy socket tls timer"
  [auth]="claims hmac jwt keys rsa session ticket"
  [server]="admin handler health metrics router routes shutdown static upgrade"
  [cli]="args main output"
)
features=(auth sessions storage search billing sync)
verbs=(creates rejects updates deletes lists retries expires resumes validates caches)
objects=(empty_input large_payload unicode_name expired_token duplicate_id missing_field
  concurrent_writers slow_reader restart timeout quota_exceeded bad_signature stale_cursor
  partial_write clock_skew zero_length max_connections)

total_files=0
for c in "${components[@]}"; do
  read -ra files <<<"${sources[$c]}"
  total_files=$((total_files + ${#files[@]}))
done
tests_per_feature=$(( ${#verbs[@]} * ${#objects[@]} ))
total_tests=$(( ${#features[@]} * tests_per_feature ))
steps=$((total_files + total_tests + 1))
done_steps=0
checkpoint_number=0
failing_test="sync.resumes_restart"

json_list() { # json_list a b c -> ["a","b","c"]
  local out="" item
  for item in "$@"; do out+="${out:+,}\"$item\""; done
  echo "[$out]"
}

overall() { # the build_progress event for where the build stands now
  echo "{\"event\":\"build_progress\",\"data\":{\"phase\":\"$1\",\"done\":$done_steps,\"total\":$steps,\"pct\":$((done_steps * 100 / steps))}}"
}

# checkpoint <name> <json>: writes checkpoints/NN-<name>.json, numbered in the order written so
# that a burst of them is published in that order. Written aside and renamed into place, so the
# watcher never reads a half-written file (and, with Filter *.json, never sees the .tmp one).
checkpoint() {
  checkpoint_number=$((checkpoint_number + 1))
  local file
  file=$(printf '%s/%02d-%s.json' "$checkpoints" "$checkpoint_number" "$1")
  printf '%s\n' "$2" >"$file.tmp"
  mv -f "$file.tmp" "$file"
  last_checkpoint=${file##*/}
}

compile_component() { # compile_component <name>: CMake-style lines for one library
  local c=$1 file n=0 warnings=0 pct
  read -ra files <<<"${sources[$c]}"
  publish "[{\"event\":\"component_progress\",\"key\":\"$c\",\"data\":{\"component\":\"$c\",\"compiled\":0,\"files\":${#files[@]},\"pct\":0,\"status\":\"compiling\",\"warnings\":0}},$(overall compile)]"
  for file in "${files[@]}"; do
    n=$((n + 1)) done_steps=$((done_steps + 1)) files_done=$((files_done + 1))
    pct=$((files_done * 100 / total_files)) # CMake counts the compile's own steps
    printf '[%3d%%] %sBuilding C object src/%s/CMakeFiles/%s.dir/%s.c.o%s\n' "$pct" "$green" "$c" "$c" "$file" "$reset"
    # A few files warn, as real code does.
    if (( (n * 7 + ${#c}) % 11 == 0 )); then
      warnings=$((warnings + 1))
      printf '%ssrc/%s/%s.c:%d:13:%s %swarning:%s unused variable %s‘scratch’%s [%s-Wunused-variable%s]\n' \
        "$bold" "$c" "$file" $((n * 17 + 40)) "$reset" "$bold$yellow" "$reset" "$bold" "$reset" "$yellow" "$reset"
      printf '  %d |     size_t scratch = 0;\n' $((n * 17 + 40))
    fi
    pause
    # Progress about four times per component, not per file: enough for a smooth bar.
    if (( n % ((${#files[@]} + 3) / 4) == 0 && n < ${#files[@]} )); then
      publish "[{\"event\":\"component_progress\",\"key\":\"$c\",\"data\":{\"component\":\"$c\",\"compiled\":$n,\"files\":${#files[@]},\"pct\":$((n * 100 / ${#files[@]})),\"status\":\"compiling\",\"warnings\":$warnings}},$(overall compile)]"
    fi
  done
  printf '[%3d%%] %sLinking C static library lib%s.a%s\n' "$pct" "$bold$green" "$c" "$reset"
  pause 4
  printf '[%3d%%] Built target %s\n' "$pct" "$c"
  publish "[{\"event\":\"component_progress\",\"key\":\"$c\",\"data\":{\"component\":\"$c\",\"compiled\":$n,\"files\":$n,\"pct\":100,\"status\":\"done\",\"warnings\":$warnings}},$(overall compile)]"
  checkpoint "compile-$c" "{\"stage\":\"compile\",\"component\":\"$c\",\"artifact\":\"build/lib$c.a\",\"objects\":$n,\"warnings\":$warnings,\"at\":\"$(date -u +%FT%TZ)\"}"
  total_warnings=$((total_warnings + warnings))
}

test_feature() { # test_feature <name>: ctest-style lines for one feature's suite; returns 1 when a test failed
  local f=$1 verb object name n=0 passed=0 failed=0 dots ms status
  publish "[{\"event\":\"feature_progress\",\"key\":\"$f\",\"data\":{\"feature\":\"$f\",\"run\":0,\"tests\":$tests_per_feature,\"passed\":0,\"failed\":0,\"pct\":0,\"status\":\"testing\"}},$(overall test)]"
  for verb in "${verbs[@]}"; do
    for object in "${objects[@]}"; do
      n=$((n + 1)) done_steps=$((done_steps + 1)) test_number=$((test_number + 1))
      name="$f.${verb}_$object"
      printf -v dots '%*s' $((38 - ${#name})) ''
      dots=${dots// /.}
      ms=$(( (RANDOM % 240) + 3 ))
      if $fail && [ "$name" = "$failing_test" ]; then
        failed=$((failed + 1))
        failed_tests+=("$name")
        printf '%4d/%d Test %5s: %s %s%s***Failed%s  %2d.%02d sec\n' "$test_number" "$total_tests" "#$test_number" "$name" "$dots" "$red$bold" "$reset" $((ms / 100)) $((ms % 100))
        printf '    %sexpected%s cursor 4182 after restart, %sgot%s 4096 (tests/sync/resume.c:212)\n' "$green" "$reset" "$red" "$reset"
      else
        passed=$((passed + 1))
        printf '%4d/%d Test %5s: %s %s   %sPassed%s  %2d.%02d sec\n' "$test_number" "$total_tests" "#$test_number" "$name" "$dots" "$green" "$reset" $((ms / 100)) $((ms % 100))
      fi
      pause
      if (( n % (tests_per_feature / 4) == 0 && n < tests_per_feature )); then
        publish "[{\"event\":\"feature_progress\",\"key\":\"$f\",\"data\":{\"feature\":\"$f\",\"run\":$n,\"tests\":$tests_per_feature,\"passed\":$passed,\"failed\":$failed,\"pct\":$((n * 100 / tests_per_feature)),\"status\":\"testing\"}},$(overall test)]"
      fi
    done
  done
  status=passed
  [ "$failed" -eq 0 ] || status=failed
  publish "[{\"event\":\"feature_progress\",\"key\":\"$f\",\"data\":{\"feature\":\"$f\",\"run\":$n,\"tests\":$n,\"passed\":$passed,\"failed\":$failed,\"pct\":100,\"status\":\"$status\"}},$(overall test)]"
  checkpoint "test-$f" "{\"stage\":\"test\",\"feature\":\"$f\",\"passed\":$passed,\"failed\":$failed,\"report\":\"build/Testing/$f.xml\",\"at\":\"$(date -u +%FT%TZ)\"}"
  total_passed=$((total_passed + passed)) total_failed=$((total_failed + failed))
  [ "$failed" -eq 0 ]
}

# The build itself: what `make && ctest && cpack` would print. Its exit status is the build's.
run_build() {
  total_warnings=0 total_passed=0 total_failed=0 test_number=0 files_done=0 failed_tests=() last_checkpoint=""
  RANDOM=42 # the same test durations every run
  printf -- '-- The C compiler identification is GNU 12.2.0\n'
  printf -- '-- Detecting C compiler ABI info - done\n'
  printf -- '-- Check for working C compiler: /usr/bin/cc - skipped\n'
  printf -- '-- Found OpenSSL: /usr/lib/x86_64-linux-gnu/libcrypto.so (found version "3.0.19")\n'
  printf -- '-- Found ZLIB: /usr/lib/x86_64-linux-gnu/libz.so (found version "1.2.13")\n'
  printf -- '-- Configuring done (0.4s)\n'
  printf -- '-- Generating done (0.1s)\n'
  printf -- '-- Build files have been written to: /home/ci/demo/build\n'
  pause 10
  local c f
  for c in "${components[@]}"; do
    compile_component "$c"
  done

  printf '%sTest project /home/ci/demo/build%s\n' "$bold" "$reset"
  local tests_ok=true
  for f in "${features[@]}"; do
    test_feature "$f" || tests_ok=false
  done
  echo
  if $tests_ok; then
    printf '%s100%% tests passed%s, 0 tests failed out of %d\n' "$green" "$reset" "$total_tests"
  else
    printf '%s%d%% tests passed%s, %s%d tests failed%s out of %d\n' "$yellow" $((total_passed * 100 / total_tests)) "$reset" "$red" "$total_failed" "$reset" "$total_tests"
    echo
    echo 'The following tests FAILED:'
    for f in "${failed_tests[@]}"; do
      printf '\t%s (%sFailed%s)\n' "$f" "$red" "$reset"
    done
    printf '%sErrors while running CTest%s\n' "$red" "$reset"
    write_summary
    return 8
  fi
  echo
  printf '%sCPack:%s Create package using TGZ\n' "$cyan" "$reset"
  pause 10
  printf '%sCPack:%s - package: /home/ci/demo/build/demo-1.4.2-Linux.tar.gz generated.\n' "$cyan" "$reset"
  done_steps=$steps
  publish "$(overall package)"
  checkpoint package "{\"stage\":\"package\",\"artifact\":\"build/demo-1.4.2-Linux.tar.gz\",\"bytes\":4823113,\"sha256\":\"9f2c4e0b7a1d3e58c6b2f0a47d9e1c3b5a8f6d2e4c0b7a9e1d3f5c7b9a2e4d6f\",\"at\":\"$(date -u +%FT%TZ)\"}"
  printf '%sBuild succeeded%s: %d components, %d tests, %d warnings\n' "$bold$green" "$reset" "${#components[@]}" "$total_tests" "$total_warnings"
  write_summary
}

# run_build runs in a pipeline's subshell: what the final event needs from it comes back in a file.
write_summary() {
  printf 'warnings=%q passed=%q failed=%q last_checkpoint=%q failed_tests=%q\n' \
    "$total_warnings" "$total_passed" "$total_failed" "$last_checkpoint" "$(json_list "${failed_tests[@]}")" >"$summary"
}

# A new build of the session starts it over: the previous build ended it with a final event (a
# complete session takes no more events), and a watcher's page clears itself on the new life.
code=$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE "$gateway/api/sessions/$session" 2>&4) || code=000
case $code in
  204|404) ;;
  000) say "no gateway at $gateway (set GATEWAY_URL, or start it as the README says)"; exit 1 ;;
  *) say "DELETE $gateway/api/sessions/$session answered $code"; exit 1 ;;
esac

mkdir -p "$checkpoints"
summary=$(mktemp) ingest=$(mktemp)
trap 'rm -f "$summary" "$ingest"' EXIT
started=$(date +%s%N)
component_list=() feature_list=()
for c in "${components[@]}"; do
  read -ra files <<<"${sources[$c]}"
  component_list+=("{\"name\":\"$c\",\"files\":${#files[@]}}")
done
for f in "${features[@]}"; do
  feature_list+=("{\"name\":\"$f\",\"tests\":$tests_per_feature}")
done
publish "{\"event\":\"build_started\",\"data\":{\"build\":\"$session\",\"commit\":\"4f2a9c1\",\"branch\":\"main\",\"components\":[$(IFS=,; echo "${component_list[*]}")],\"features\":[$(IFS=,; echo "${feature_list[*]}")],\"steps\":$steps}}"
say "streaming the build into $gateway/ws/$session"

# The heart of it: the build's output, stdout and stderr, piped into the session line by line as
# it is printed (curl -T - sends the body chunked while it reads; the gateway publishes each
# line as it arrives). tee shows it here too.
set +e
run_build 2>&1 | tee /dev/fd/3 | curl -fsS -T - -H 'Content-Type: text/plain' -o "$ingest" "$events_url?event=terminal_output"
statuses=("${PIPESTATUS[@]}")
set -e
build_status=${statuses[0]}
if [ "${statuses[2]}" -ne 0 ]; then
  say "streaming the log to $events_url failed (curl exit ${statuses[2]})"
  exit 1
fi
lines=$(sed -n 's/.*"count":\([0-9]*\).*/\1/p' "$ingest")

# The checkpoint files reach the session through the gateway's file watcher, a debounce (300 ms)
# after they were written. Wait for the last one before ending the session, which would refuse
# them: it is in the session's state once published.
warnings=0 passed=0 failed=0 last_checkpoint="" failed_tests="[]"
# shellcheck source=/dev/null # written by write_summary above
[ ! -s "$summary" ] || . "$summary"
if [ -n "$last_checkpoint" ]; then
  seen=false
  for _ in $(seq 100); do
    if curl -fsS "$gateway/api/sessions/$session" 2>/dev/null | grep -q "\"path\":\"$last_checkpoint\""; then
      seen=true
      break
    fi
    sleep 0.1
  done
  $seen || say "the checkpoint $last_checkpoint did not reach the session within 10 s: is the gateway watching $checkpoints (Gateway:Sources:Watch, see the README)?"
fi

duration_ms=$(( ($(date +%s%N) - started) / 1000000 ))
status=passed
[ "$build_status" -eq 0 ] || status=failed
publish "{\"event\":\"build_finished\",\"final\":true,\"data\":{\"status\":\"$status\",\"exit_code\":$build_status,\"lines\":${lines:-0},\"warnings\":$warnings,\"tests\":{\"passed\":$passed,\"failed\":$failed},\"failed_tests\":$failed_tests,\"duration_ms\":$duration_ms}}"
say "build $status (exit $build_status): ${lines:-0} lines streamed into $session"
exit "$build_status"
