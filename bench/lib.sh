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
