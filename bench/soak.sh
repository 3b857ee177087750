#!/usr/bin/env bash
# Soak (issue 16; not run by CI): a local fleet under faults for a long run, then the checks
# that nothing was lost.
#
#   Postgres, s3rver, sluice-strict-sqs (an SQS queue that redelivers a message whose
#   visibility ran out, as SQS does: sqslite never does, and loses every message whose receive
#   answer a fault cut), nginx (media) and sluice-fake-provider (5 % of requests answer
#   500, a burst of 429s every 20 s), each behind sluice-fault-proxy flipping a fault (latency,
#   bandwidth, stall, reset) on for 1.5 s every 6 s; 3 workers taking jobs from the Postgres
#   queue and from SQS; one of workers 2 and 3 killed with SIGKILL every 30 s and restarted
#   (worker 1 is never killed: its memory and descriptors show leaks); sets of 1,000 images
#   submitted at an even pace over the run, half through `sluice submit`, half as SQS messages.
#
# Then: every job done, every item recorded exactly once (ok, or failed with a cause), every set
# committed once, the objects in S3 exactly the distinct contents, no multipart upload left
# open, and worker 1's RSS and open descriptors flat after warm-up.
#
# Usage: bench/soak.sh [ITEMS] [MINUTES]   (default 50000, 30). Markdown on stdout; the logs
# stay in the work directory it names. SOAK_BUILD=build/debug uses that build as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
items=${1:-50000}
minutes=${2:-30}
per_set=1000
sets=$(( (items + per_set - 1) / per_set ))
scripts/install-deps.sh >&2
scripts/test-servers.sh >&2
# SOAK_BUILD=build/debug runs an existing build instead (a quick trial of the script).
bin=${SOAK_BUILD:-build/release}
[[ -n ${SOAK_BUILD:-} ]] || scripts/build.sh release >&2
sluice=$(pwd)/$bin/src/cli/sluice
proxy_bin=$(pwd)/$bin/src/testing/sluice-fault-proxy
fake_bin=$(pwd)/$bin/src/testing/sluice-fake-provider
sqs_bin=$(pwd)/$bin/src/testing/sluice-strict-sqs
node_modules=$(pwd)/.test-servers/node_modules
export OPENBLAS_NUM_THREADS=1

work=$(mktemp -d /tmp/sluice-soak.XXXXXX)
chmod 755 "$work"
echo "soak: work directory $work" >&2
pids=()
counted=()  # the proxies and the model server: they print their counts when stopped
nginx_pid=""
running=1
cleanup() {
  running=0
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [[ -f $work/workers.pids ]] && xargs -r kill 2>/dev/null <"$work/workers.pids" || true
  [[ -n $nginx_pid ]] && kill "$nginx_pid" 2>/dev/null || true
  scripts/postgres.sh stop "$work/pg" >/dev/null 2>&1 || true
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_proxy VAR PORT NAME: a proxy in front of 127.0.0.1:PORT (NAME: what listens there), its
# own port in $VAR (not through $(…): a subshell would keep the proxy's pid from the cleanup).
start_proxy() {
  "$proxy_bin" --target "127.0.0.1:$2" --calm-ms 6000 --fault-ms 1500 \
    --faults latency,bandwidth,stall,reset >"$work/proxy-$3.port" 2>"$work/proxy-$3.log" &
  pids+=($!)
  counted+=($!)
  for _ in $(seq 50); do [[ -s $work/proxy-$3.port ]] && break; sleep 0.1; done
  printf -v "$1" '%s' "$(cat "$work/proxy-$3.port")"
}

# --- the dependencies --------------------------------------------------------------------
serve_distinct_pngs "$items"  # nginx on $port; $work/urls.txt
origin_port=$port
pg_port=$(free_port)
pg_uri=$(scripts/postgres.sh start "$work/pg" "$pg_port")
s3_port=$(free_port)
mkdir -p "$work/s3"
node "$node_modules/s3rver/bin/s3rver.js" -d "$work/s3" -a 127.0.0.1 -p "$s3_port" --silent \
  --configure-bucket soak >"$work/s3rver.log" 2>&1 &
pids+=($!)
# A received message stays invisible 30 s unless its worker renews it (at half of 60 s).
"$sqs_bin" --queue soak --visibility-seconds 30 >"$work/sqs.port" 2>"$work/sqs.log" &
pids+=($!)
counted+=($!)
"$fake_bin" --latency-ms 50 --fail-percent 5 --burst-every-s 20 >"$work/fake.url" 2>"$work/fake.log" &
pids+=($!)
counted+=($!)
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$s3_port/" -o /dev/null && [[ -s $work/sqs.port && -s $work/fake.url ]] &&
    break
  sleep 0.2
done
fake_port=$(sed -E 's#.*:([0-9]+)/v1#\1#' "$work/fake.url")
sqs_port=$(cat "$work/sqs.port")
queue_url="http://127.0.0.1:$sqs_port/queue/soak"

# Everything sluice talks to goes through a proxy.
start_proxy origin_proxy "$origin_port" origin
start_proxy pg_proxy "$pg_port" postgres
start_proxy s3_proxy "$s3_port" s3
start_proxy sqs_proxy "$sqs_port" sqs
start_proxy fake_proxy "$fake_port" model-server
sed -E "s#127.0.0.1:$origin_port#127.0.0.1:$origin_proxy#" "$work/urls.txt" >"$work/urls-proxied.txt"
queue_proxied="http://127.0.0.1:$sqs_proxy/queue/soak"

cat >"$work/sluice.toml" <<TOML
[providers]
default = "fake"
[providers.fake]
base_url = "http://127.0.0.1:$fake_proxy/v1"
chat_model = "fake-chat"
timeout_seconds = 10
TOML
cat >"$work/pipeline.toml" <<'TOML'
name = "soak"
[[cycle]]
  [[cycle.item]]
  method = "image.phash"
  [[cycle.item]]
  method = "llm.tags"
  [[cycle.set]]
  method = "set.summary"
TOML
export SLUICE_DB="postgresql://postgres@127.0.0.1:$pg_proxy/postgres"
export SLUICE_STORE=s3://soak/data
export AWS_ENDPOINT_URL="http://127.0.0.1:$s3_proxy"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export SLUICE_CONFIG=$work/sluice.toml
psql_direct() { psql "$pg_uri" -Atq -c "$1"; }

# --- the workers ---------------------------------------------------------------------------
# Worker N in a restart loop: a killed worker comes back, as under a supervisor.
: >"$work/workers.pids"
start_worker() {
  local n=$1
  mkdir -p "$work/w$n"
  (
    while [[ -f $work/running ]]; do
      "$sluice" worker --data "$work/w$n" --name "w$n" --pipeline "$work/pipeline.toml" \
        --allow-private --concurrency 64 --jobs 2 --lease 30 --poll 0.5 \
        --sqs "$queue_proxied" --sqs-wait 5 --sqs-visibility 60 \
        >>"$work/w$n.log" 2>&1 &
      echo $! >"$work/w$n.pid"
      wait $! || true
      sleep 1
    done
  ) &
  echo $! >>"$work/workers.pids"
}
touch "$work/running"
# The queue's tables exist once one command has opened the database.
"$sluice" jobs --data "$work/submitter" >/dev/null
for n in 1 2 3; do start_worker "$n"; done

# --- the run -------------------------------------------------------------------------------
started=$(date +%s)
duration=$((minutes * 60))
interval=$(( duration / sets ))
kills=0
next_kill=$((started + 30))
printf 'second\tworker\trss_kb\tfds\n' >"$work/samples.tsv"
submitted=0
split -l "$per_set" -d -a 4 "$work/urls-proxied.txt" "$work/set-"
for list in "$work"/set-*; do
  name="soak-$(basename "$list" | sed 's/set-//')"
  if (( submitted % 2 == 0 )); then
    "$sluice" submit "$list" --set "$name" --data "$work/submitter" --pipeline "$work/pipeline.toml" >/dev/null
  else
    python3 - "$list" "$name" >"$work/message.json" <<'PY'
import json, sys
print(json.dumps({"set": sys.argv[2], "urls": open(sys.argv[1]).read().split()}))
PY
    curl -sS "http://127.0.0.1:$sqs_port/" --data-urlencode Action=SendMessage \
      --data-urlencode "QueueUrl=$queue_url" --data-urlencode "MessageBody@$work/message.json" >/dev/null
  fi
  submitted=$((submitted + 1))
  # Until the next submission: kill a worker every 30 s, sample worker 1 every 10 s.
  until_next=$(( $(date +%s) + interval ))
  while (( $(date +%s) < until_next )); do
    now=$(date +%s)
    if (( now >= next_kill )); then
      victim=$((2 + RANDOM % 2))
      kill -9 "$(cat "$work/w$victim.pid")" 2>/dev/null && kills=$((kills + 1)) || true
      next_kill=$((now + 30))
    fi
    w1=$(cat "$work/w1.pid")
    if [[ -r /proc/$w1/status ]]; then
      printf '%d\tw1\t%s\t%s\n' $((now - started)) "$(awk '/VmRSS/{print $2}' /proc/$w1/status)" \
        "$(ls /proc/$w1/fd | wc -l)" >>"$work/samples.tsv"
    fi
    sleep 10
  done
done
echo "soak: all $sets sets submitted after $(( $(date +%s) - started )) s; waiting for the queue" >&2

# Until every set has a finished job and SQS is empty, in flight included (at most 30 more
# minutes).
deadline=$(( $(date +%s) + 1800 ))
while (( $(date +%s) < deadline )); do
  done_jobs=$(psql_direct "SELECT count(*) FROM jobs WHERE state = 'done'")
  open_jobs=$(psql_direct "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')")
  waiting=$(curl -sS "http://127.0.0.1:$sqs_port/" --data-urlencode Action=GetQueueAttributes \
    --data-urlencode "QueueUrl=$queue_url" --data-urlencode AttributeName.1=ApproximateNumberOfMessages \
    --data-urlencode AttributeName.2=ApproximateNumberOfMessagesNotVisible |
    grep -o '<Value>[0-9]*' | sed 's/<Value>//' | awk '{ n += $1 } END { print n + 0 }')
  (( done_jobs >= sets && open_jobs == 0 && waiting == 0 )) && break
  sleep 10
done
elapsed=$(( $(date +%s) - started ))
rm -f "$work/running"
xargs -r kill <"$work/workers.pids" 2>/dev/null || true
for n in 1 2 3; do kill "$(cat "$work/w$n.pid")" 2>/dev/null || true; done
sleep 2

# --- the checks ------------------------------------------------------------------------------
jobs_total=$(psql_direct "SELECT count(*) FROM jobs")
jobs_done=$(psql_direct "SELECT count(*) FROM jobs WHERE state = 'done'")
jobs_dead=$(psql_direct "SELECT count(*) FROM jobs WHERE state = 'dead'")
item_rows=$(psql_direct "SELECT count(*) FROM items")
item_distinct=$(psql_direct "SELECT count(DISTINCT (set_name, url)) FROM items")
items_ok=$(psql_direct "SELECT count(*) FROM items WHERE status = 'ok'")
no_cause=$(psql_direct "SELECT count(*) FROM items WHERE status <> 'ok' AND coalesce(failure_cause, '') = ''")
causes=$(psql_direct "SELECT string_agg(failure_cause || ' ×' || n, ', ') FROM (SELECT failure_cause, count(*) n FROM items WHERE status <> 'ok' GROUP BY 1 ORDER BY 2 DESC) c")
commits=$(psql_direct "SELECT coalesce(max(commits), 0) || ' max, ' || coalesce(min(commits), 0) || ' min' FROM sets")
hashes=$(psql_direct "SELECT count(DISTINCT sha256) FROM items WHERE status = 'ok'")
# s3rver keeps each object as a file named by its key: count them, and hash each against its
# name (an object under a content key holds exactly those bytes).
objects=$(find "$work/s3/soak/data/objects" -name '*._S3rver_object' | wc -l)
mismatched=$(find "$work/s3/soak/data/objects" -name '*._S3rver_object' -print0 |
  xargs -0 -r sha256sum | awk '{ n = split($2, p, "/"); sub(/\._S3rver_object$/, "", p[n]); if ($1 != p[n]) bad++ } END { print bad + 0 }')
uploads=$(curl -s "http://127.0.0.1:$s3_port/soak?uploads" | grep -c "<Upload>" || true)
read -r rss_early rss_late fds_early fds_late < <(python3 - "$work/samples.tsv" <<'PY'
import statistics, sys
rows = [line.split("\t") for line in open(sys.argv[1]).read().splitlines()[1:]]
rows = [(int(s), int(r), int(f)) for s, _, r, f in rows if r and f]
if len(rows) < 4:
    print("0 0 0 0"); sys.exit()
third = len(rows) // 3
early, late = rows[third:2 * third], rows[2 * third:]
print(statistics.median(r for _, r, _ in early), statistics.median(r for _, r, _ in late),
      statistics.median(f for _, _, f in early), statistics.median(f for _, _, f in late))
PY
)
for pid in "${counted[@]}"; do kill "$pid" 2>/dev/null || true; done
for pid in "${counted[@]}"; do wait "$pid" 2>/dev/null || true; done
verdict() { if [[ $1 == yes ]]; then echo "✅"; else echo "❌"; fi; }
yes_if() { if eval "$1"; then echo yes; else echo no; fi; }

cat <<MD
### Soak: $items items in $sets sets over $((elapsed / 60)) min ($(date -u +%Y-%m-%d))

Command: \`bench/soak.sh $items $minutes\` ($bin; work directory $work).
Fleet: 3 workers (Postgres queue + SQS intake), every dependency behind a flipping fault proxy,
the model server failing 5 % of requests and throttling bursts; $kills worker kills (SIGKILL).

| check | result | |
| --- | --- | --- |
| jobs done | $jobs_done of $sets sets ($jobs_total jobs, $jobs_dead dead) | $(verdict "$(yes_if "(( jobs_done == sets && jobs_total == sets ))")") |
| items recorded once | $item_rows rows, $item_distinct distinct (set, URL), of $items | $(verdict "$(yes_if "(( item_rows == items && item_distinct == items ))")") |
| failed items with a cause | $((item_rows - items_ok)) failed (${causes:-none}); $no_cause without a cause | $(verdict "$(yes_if "(( no_cause == 0 ))")") |
| set commits | $commits | $(verdict "$(yes_if "[[ '$commits' == '1 max, 1 min' ]]")") |
| objects = distinct contents | $objects objects, $hashes distinct hashes, $mismatched not matching their key | $(verdict "$(yes_if "(( objects == hashes && mismatched == 0 ))")") |
| multipart uploads left open | $uploads | $(verdict "$(yes_if "(( uploads == 0 ))")") |
| worker 1 RSS (median, middle → last third) | ${rss_early} → ${rss_late} kB | $(verdict "$(yes_if "python3 -c 'import sys; sys.exit(0 if $rss_late <= 1.2 * $rss_early else 1)'")") |
| worker 1 open descriptors | ${fds_early} → ${fds_late} | $(verdict "$(yes_if "python3 -c 'import sys; sys.exit(0 if $fds_late <= $fds_early + 16 else 1)'")") |
MD
for f in "$work"/proxy-*.log "$work/sqs.log"; do echo "- $(basename "$f" .log): $(tail -1 "$f")"; done
echo "- model server: $(tail -1 "$work/fake.log")"
