# Shared by the whole-process benchmarks. Source it; needs $work (a directory nginx can read).

# start_nginx FIRST_FILE: serves $work/www on a random loopback port with one worker; sets
# $port and $nginx_pid and waits until FIRST_FILE is served. The caller kills $nginx_pid.
start_nginx() {
  port=$((20000 + RANDOM % 20000))
  cat > "$work/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 100000;
  server { listen 127.0.0.1:$port; root $work/www; }
}
CONF
  nginx -c "$work/nginx.conf" -p "$work" &
  nginx_pid=$!
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/$1" -o /dev/null && return; sleep 0.1; done
  echo "bench: nginx did not start" >&2
  return 1
}

# serve_distinct_pngs COUNT: COUNT distinct small PNGs under $work/www — one picture, each copy
# with its own trailing bytes (decoders and header readers ignore data after IEND), so no two
# items share a step key — served by start_nginx, their URLs in $work/urls.txt.
serve_distinct_pngs() {
  mkdir -p "$work/www"
  convert -size 96x64 gradient:red-blue "$work/base.png"
  for ((i = 0; i < $1; i++)); do
    { cat "$work/base.png"; printf 'item %d' "$i"; } > "$work/www/$(printf 'i%05d.png' "$i")"
  done
  start_nginx i00000.png
  for ((i = 0; i < $1; i++)); do printf 'http://127.0.0.1:%d/i%05d.png\n' "$port" "$i"; done > "$work/urls.txt"
}

# start_fanout_work PREFIX: $work, a new directory PREFIX.XXXXXX nginx can read, removed on
# exit together with the nginx and fake provider the fan-out benchmarks start ($nginx_pid,
# $fake_pid).
start_fanout_work() {
  work=$(mktemp -d "$1.XXXXXX")
  chmod 755 "$work"  # nginx's worker runs as nobody
  nginx_pid=""; fake_pid=""
  trap 'stop_fanout_work' EXIT
}
stop_fanout_work() {
  [[ -n $nginx_pid ]] && kill "$nginx_pid" 2>/dev/null || true
  [[ -n $fake_pid ]] && kill "$fake_pid" 2>/dev/null || true
  rm -rf "$work"
}

# write_three_call_pipeline: the fan-out benchmarks' pipeline, three remote calls an item
# (llm.tags, llm.content_type, llm.seo_filename), in $work/pipeline.toml.
write_three_call_pipeline() {
  cat > "$work/pipeline.toml" <<'TOML'
name = "three-remote-calls"
[[cycle]]
  [[cycle.item]]
  method = "llm.tags"
  [[cycle.item]]
  method = "llm.content_type"
  [[cycle.item]]
  method = "llm.seo_filename"
TOML
}

# start_fake_provider LATENCY_MS: sluice-fake-provider ($bin's) on loopback answering after
# LATENCY_MS; sets $fake_pid and $fake_url (its stderr, which ends with its CPU-s, in
# $work/fake.err). The caller stops $fake_pid.
start_fake_provider() {
  : > "$work/fake.url"
  "$bin/src/testing/sluice-fake-provider" --latency-ms "$1" > "$work/fake.url" 2> "$work/fake.err" &
  fake_pid=$!
  for _ in $(seq 50); do [[ -s $work/fake.url ]] && break; sleep 0.1; done
  fake_url=$(cat "$work/fake.url")
}

# write_fake_provider_config FLIGHT: $work/sluice.toml, its default provider $fake_url with
# FLIGHT calls at once.
write_fake_provider_config() {
  cat > "$work/sluice.toml" <<TOML
[providers]
default = "fake"
[providers.fake]
base_url = "$fake_url"
chat_model = "fake-chat"
max_concurrency = $1
TOML
}
