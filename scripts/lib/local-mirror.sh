# shellcheck shell=bash
# Sourced by scripts/demo.sh and tests/bench/install_bench.sh: a model mirror on loopback.
#
#   start_local_mirror DIR ROOT [RATE]
#                                 starts nginx (Debian's nginx-light) in the foreground with its
#                                 config, logs and temp paths under DIR, serving ROOT on
#                                 127.0.0.1 on a free port; sets mirror_port and mirror_pid and
#                                 returns once it answers. The caller stops it (kill "$mirror_pid").
#                                 With RATE (nginx limit_rate, e.g. 40m), ROOT is also served under
#                                 /capped/ at that rate per request, as real mirrors cap each
#                                 connection.
start_local_mirror() {
  local dir=$1 root=$2 rate=${3:-}
  mkdir -p "$dir/tmp"
  mirror_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat > "$dir/nginx.conf" <<CONF
daemon off;
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/error.log;
$( [ "$(id -u)" -eq 0 ] && echo "user root;" )
events { worker_connections 256; }
http {
  access_log $dir/access.log;
  sendfile on;
  client_body_temp_path $dir/tmp/body; proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fcgi; uwsgi_temp_path $dir/tmp/uwsgi; scgi_temp_path $dir/tmp/scgi;
  server {
    listen 127.0.0.1:$mirror_port; root $root;
    $( [ -n "$rate" ] && echo "location /capped/ { alias $root/; limit_rate $rate; }" )
  }
}
CONF
  /usr/sbin/nginx -p "$dir" -c "$dir/nginx.conf" &
  # shellcheck disable=SC2034 # the caller's: it stops the mirror with it
  mirror_pid=$!
  local _
  for _ in $(seq 100); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$mirror_port" \
      2>/dev/null && return 0
    sleep 0.1
  done
  echo "nginx did not start: $(cat "$dir/error.log" 2>/dev/null)" >&2
  return 1
}
