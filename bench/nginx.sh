# Sourced by the A/B scripts: what their nginx always has, as the bench's
# (bench/src/procs.rs) has it.

# nginx_conf DIR WORKERS: writes DIR/nginx.conf (its pid and error log in DIR
# too) with WORKERS workers, in the foreground, without an access log, with
# long keep-alive, and the rest of its http block read from standard input.
nginx_conf() {
  {
    cat <<CONF
worker_processes $2;
daemon off;
pid $1/nginx.pid;
error_log $1/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
CONF
    cat
    echo "}"
  } >"$1/nginx.conf"
}
