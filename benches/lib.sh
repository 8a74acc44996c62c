# Shared by the bench scripts (sourced, not run): the binary check, packages, ports, CPU time and
# nginx configurations. Needs $ROOT (the repository) and, for nginx_conf, $WORK (a scratch dir).

# scalelab_binary [PATH]: the release binary to measure (never built here).
scalelab_binary() {
    local bin=${1:-$ROOT/target/release/scalelab}
    [ -x "$bin" ] || {
        echo "no scalelab binary at $bin: build it first (cargo build --release -p scalelab) or pass its path" >&2
        exit 2
    }
    echo "$bin"
}

# need_apt COMMAND PACKAGE: installs PACKAGE with apt-get (needs root) when COMMAND is missing.
need_apt() {
    if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "$1" ]; then
        echo "installing $2 ..." >&2
        if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq >&2; APT_UPDATED=1; fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >&2
    fi
}

# free_port: a TCP port on 127.0.0.1 nothing listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_port PORT: waits up to 10 s for something to listen on 127.0.0.1:PORT.
wait_port() {
    for _ in $(seq 1 200); do
        if python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "nothing listens on port $1" >&2
    return 1
}

# cpu_s PID: CPU seconds (user + sys, all threads) the process has used so far.
cpu_s() { python3 -c "import os,sys; f=open('/proc/$1/stat').read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))"; }

# nginx_conf NAME < HTTP_BLOCK: writes $WORK/NAME.conf (or NAME.conf.in when NAME ends in .in):
# one process, no daemon, keep-alive without limit, no access log, the http block's own
# directives (upstreams, servers) from standard input.
nginx_conf() {
    local name=${1%.in} file=$WORK/$1
    case $1 in *.in) file=$WORK/$name.conf.in ;; *) file=$WORK/$name.conf ;; esac
    {
        cat <<CONF
worker_processes 1;
master_process off;
daemon off;
pid $WORK/$name.pid;
error_log $WORK/$name-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path $WORK/$name-body;
  proxy_temp_path $WORK/$name-proxy;
CONF
        cat
        echo "}"
    } >"$file"
}
