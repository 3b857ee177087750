#!/usr/bin/env bash
# A whole fleet on this machine, for trying it: PostgreSQL (results, queue, checkpoints),
# s3rver (objects and result documents), sqslite (intake) and WORKERS `sluice worker`
# processes, all on loopback. Jobs arrive both ways — three SQS messages and one
# `sluice submit` — over the bundled sample media; when the queue is drained it prints the
# jobs and sets, then stops everything (KEEP=1 leaves the servers and their data running).
# Usage: scripts/local-fleet.sh [WORKERS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
workers=${1:-3}
scripts/install-deps.sh
scripts/test-servers.sh
scripts/build.sh release >&2
scripts/make-samples.sh sluice-data/samples >&2
sluice=$PWD/build/release/src/cli/sluice
node_modules=$PWD/.test-servers/node_modules

fleet=$(mktemp -d /tmp/sluice-fleet.XXXXXX)
chmod 755 "$fleet"
pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [[ ${KEEP:-0} != 1 ]]; then
    scripts/postgres.sh stop "$fleet/pg" || true
    rm -rf "$fleet"
  fi
}
trap stop_all EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return; sleep 0.1; done; echo "fleet: $1 did not start" >&2; exit 1; }

pg_port=$(free_port) s3_port=$(free_port) sqs_port=$(free_port) media_port=$(free_port)
export SLUICE_DB=$(scripts/postgres.sh start "$fleet/pg" "$pg_port")
mkdir -p "$fleet/s3"
node "$node_modules/s3rver/bin/s3rver.js" -d "$fleet/s3" -a 127.0.0.1 -p "$s3_port" --silent \
  --configure-bucket sluice-fleet >"$fleet/s3rver.log" 2>&1 &
pids+=($!)
node "$node_modules/sqslite/bin/cli.js" --host 127.0.0.1 --port "$sqs_port" >"$fleet/sqslite.log" 2>&1 &
pids+=($!)
python3 -m http.server "$media_port" --bind 127.0.0.1 --directory sluice-data/samples \
  >"$fleet/media.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$s3_port/"
wait_for "http://127.0.0.1:$sqs_port/"
wait_for "http://127.0.0.1:$media_port/"

# What every worker and command reads: the fleet's backends and AWS-style settings.
export SLUICE_STORE=s3://sluice-fleet/media
export AWS_ENDPOINT_URL=http://127.0.0.1:$s3_port AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
queue=http://localhost:$sqs_port/queues/intake
curl -sf -o /dev/null "http://127.0.0.1:$sqs_port/" --data-urlencode Action=CreateQueue \
  --data-urlencode QueueName=intake

samples=()
for f in sluice-data/samples/*; do samples+=("\"http://127.0.0.1:$media_port/$(basename "$f")\""); done
urls=$(IFS=,; echo "${samples[*]}")
for set in brand-a brand-b brand-c; do
  curl -sf -o /dev/null "http://127.0.0.1:$sqs_port/" --data-urlencode Action=SendMessage \
    --data-urlencode "QueueUrl=$queue" --data-urlencode "MessageBody={\"set\": \"$set\", \"urls\": [$urls]}"
done
for f in sluice-data/samples/*; do echo "http://127.0.0.1:$media_port/$(basename "$f")"; done > "$fleet/catalogue.txt"
echo "fleet: submitted job $("$sluice" submit "$fleet/catalogue.txt" --set catalogue --data "$fleet/submit" 2>/dev/null)" >&2

echo "fleet: Postgres $SLUICE_DB, objects $SLUICE_STORE at $AWS_ENDPOINT_URL, SQS $queue" >&2
for i in $(seq "$workers"); do
  # Each worker's --data holds only its scratch files; everything shared is in the backends.
  "$sluice" worker --data "$fleet/worker-$i" --name "worker-$i" --sqs "$queue" --sqs-wait 1 \
    --allow-private --exit-when-idle 2>"$fleet/worker-$i.log" &
  pids+=($!)
  worker_pids+=($!)
done
for pid in "${worker_pids[@]}"; do wait "$pid" || true; done
grep -h "committed\|intake:" "$fleet"/worker-*.log >&2 || true

"$sluice" jobs --data "$fleet/submit"
"$sluice" results --data "$fleet/submit"
echo "fleet: worker logs in $fleet/worker-*.log$([[ ${KEEP:-0} == 1 ]] && echo "; servers left running (KEEP=1)")" >&2
