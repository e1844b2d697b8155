#!/usr/bin/env bash
# Makes the pcaps under crates/telegen/tests/captures/ from real servers and clients on
# loopback, recorded with tcpdump on `lo`. The facts asserted by
# crates/telegen/tests/replay/own.rs are the ones the steps below cause; each test there
# names the step ("step H1" ...). Run as root from the repository root:
#
#   sudo scripts/make-test-captures.sh [OUT_DIR]
#
# Servers: nginx (private prefix/config in a temp dir, 127.0.0.1:18080), a python3
# chunked-response server (127.0.0.1:18081), dnsmasq (127.0.0.153:53, private config).
# Clients: curl, python3 sockets (pipelining, DNS in flight), dig (UDP and +tcp).
# Every process this script starts is stopped by its PID. Only 127.0.0.0/8 is used.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "make-test-captures: needs root (tcpdump on lo)" >&2; exit 1; }
for t in tcpdump nginx dnsmasq dig curl python3; do
    command -v "$t" >/dev/null || { echo "make-test-captures: $t not found" >&2; exit 1; }
done

cd "$(dirname "$0")/.."
OUT=$(realpath -m "${1:-crates/telegen/tests/captures}")
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/telegen-captures.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

HTTP_PORT=18080
CHUNK_PORT=18081
DNS_ADDR=127.0.0.153
LOG="$OUT/make-test-captures.log"
: >"$LOG"
say() { echo "$*" | tee -a "$LOG"; }

# --- capture helpers --------------------------------------------------------------------
TCPDUMP_PID=
start_capture() { # file filter
    local file=$1 filter=$2
    rm -f "$file"
    tcpdump -i lo --immediate-mode -U -s 0 -w "$file" "$filter" 2>"$WORK/tcpdump.err" &
    TCPDUMP_PID=$!
    PIDS+=("$TCPDUMP_PID")
    for _ in $(seq 100); do
        grep -q "listening on" "$WORK/tcpdump.err" 2>/dev/null && break
        sleep 0.05
    done
    grep -q "listening on" "$WORK/tcpdump.err" || { cat "$WORK/tcpdump.err" >&2; exit 1; }
}
stop_capture() {
    sleep 0.3
    kill -INT "$TCPDUMP_PID"
    wait "$TCPDUMP_PID" 2>/dev/null || true
    say "  $(basename "$1"): $(tcpdump -r "$1" 2>/dev/null | wc -l) packets, $(stat -c %s "$1") bytes"
}

wait_port() { # proto host port
    for _ in $(seq 100); do
        if [ "$1" = tcp ]; then
            (exec 3<>"/dev/tcp/$2/$3") 2>/dev/null && return 0
        else
            dig @"$2" -p "$3" +tries=1 +time=1 ready.test.lan >/dev/null 2>&1 && return 0
        fi
        sleep 0.05
    done
    echo "server on $2:$3 did not come up" >&2
    exit 1
}

# --- servers ----------------------------------------------------------------------------
mkdir -p "$WORK/nginx/html" "$WORK/nginx/logs" "$WORK/nginx/tmp"
printf 'hello from nginx\n' >"$WORK/nginx/html/index.html"        # 17 bytes
printf 'file a\n' >"$WORK/nginx/html/a.txt"                        # 7 bytes
printf '{"b":true}\n' >"$WORK/nginx/html/b.json"                   # 11 bytes
python3 -c 'import sys; sys.stdout.write("".join("line %05d of the large response\n" % i for i in range(750)))' \
    >"$WORK/nginx/html/large.txt"                                  # 750 * 33 = 24750 bytes
cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 64; }
http {
    access_log $WORK/nginx/logs/access.log;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    server_tokens off;
    default_type text/plain;
    keepalive_requests 100;
    server {
        listen 127.0.0.1:$HTTP_PORT;
        root $WORK/nginx/html;
        location = /submit { return 201 "created\n"; }
        location /health { return 200 "ok\n"; }
        location = /large.txt { limit_rate 8k; limit_rate_after 0; }
    }
}
EOF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
PIDS+=("$!")

cat >"$WORK/chunked.py" <<'EOF'
# Answers every GET with a chunked body "hello chunked world\n" written in three chunks,
# each chunk-size line in its own write and a pause between writes (separate segments).
import http.server, sys, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in (b"hello ", b"chunked ", b"world\n"):
            self.wfile.write(b"%x\r\n" % len(part)); self.wfile.flush(); time.sleep(0.03)
            self.wfile.write(part + b"\r\n"); self.wfile.flush(); time.sleep(0.03)
        self.wfile.write(b"0\r\n\r\n"); self.wfile.flush()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
python3 "$WORK/chunked.py" "$CHUNK_PORT" &
PIDS+=("$!")

dnsmasq --no-daemon --conf-file=/dev/null --user=root --pid-file="$WORK/dnsmasq.pid" \
    --port=53 --listen-address="$DNS_ADDR" --bind-interfaces --no-resolv --no-hosts \
    --log-facility="$WORK/dnsmasq.log" --local=/test.lan/ \
    --address=/test.example/10.1.2.3 \
    --host-record=host.test.lan,10.9.8.7,fd00::7 \
    --cname=alias.test.lan,host.test.lan --cname=www.test.lan,alias.test.lan \
    --host-record=ready.test.lan,127.0.0.1 &
PIDS+=("$!")

wait_port tcp 127.0.0.1 "$HTTP_PORT"
wait_port tcp 127.0.0.1 "$CHUNK_PORT"
wait_port udp "$DNS_ADDR" 53

H=http://127.0.0.1:$HTTP_PORT
CURL=(curl -sS -o /dev/null -H 'X-Request-Id: req-42' -w '%{http_code} %{size_download} %{num_connects}\n')

# --- HTTP -------------------------------------------------------------------------------
say "step H1: nginx keep-alive, 3 GETs on one connection -> http-keepalive.pcap"
start_capture "$OUT/http-keepalive.pcap" "tcp port $HTTP_PORT"
"${CURL[@]}" "$H/index.html" "$H/a.txt" "$H/b.json" | tee -a "$LOG"
stop_capture "$OUT/http-keepalive.pcap"

say "step H2: POST 21-byte form body -> 201, GET missing -> 404, /health and /healthz -> http-post-404-health.pcap"
start_capture "$OUT/http-post-404-health.pcap" "tcp port $HTTP_PORT"
"${CURL[@]}" -d 'name=telegen&value=42' "$H/submit" | tee -a "$LOG"
"${CURL[@]}" "$H/missing.html" | tee -a "$LOG"
"${CURL[@]}" "$H/health" "$H/healthz?probe=1" | tee -a "$LOG"
stop_capture "$OUT/http-post-404-health.pcap"

say "step H3: large 24750-byte response, rate limited (many segments) -> http-large.pcap"
start_capture "$OUT/http-large.pcap" "tcp port $HTTP_PORT"
"${CURL[@]}" "$H/large.txt" | tee -a "$LOG"
stop_capture "$OUT/http-large.pcap"

say "step H4: 3 pipelined GETs in one write (python socket), last with Connection: close -> http-pipelined.pcap"
start_capture "$OUT/http-pipelined.pcap" "tcp port $HTTP_PORT"
python3 - "$HTTP_PORT" <<'EOF' | tee -a "$LOG"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
req = b"".join(
    b"GET %s HTTP/1.1\r\nHost: pipe.test\r\nUser-Agent: pipeline-test\r\n%s\r\n" % (p, c)
    for p, c in ((b"/index.html", b""), (b"/a.txt", b""), (b"/b.json", b"Connection: close\r\n")))
s.sendall(req)
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
print("pipelined: sent %d bytes in one write, got %d responses" % (len(req), data.count(b"HTTP/1.1 200")))
EOF
stop_capture "$OUT/http-pipelined.pcap"

say "step H5: chunked responses (python), 2 GETs on one connection -> http-chunked.pcap"
start_capture "$OUT/http-chunked.pcap" "tcp port $CHUNK_PORT"
"${CURL[@]}" "http://127.0.0.1:$CHUNK_PORT/chunked" "http://127.0.0.1:$CHUNK_PORT/chunked?again=1" | tee -a "$LOG"
stop_capture "$OUT/http-chunked.pcap"

# --- DNS --------------------------------------------------------------------------------
DIG=(dig @"$DNS_ADDR" -p 53 +tries=1 +time=2 +noall +comments +answer)
say "step D1: UDP: A test.example, AAAA host.test.lan, A www.test.lan (CNAME chain), A nosuch.test.lan (NXDOMAIN), 2 queries in flight on one socket -> dns-udp.pcap"
start_capture "$OUT/dns-udp.pcap" "host $DNS_ADDR and port 53"
"${DIG[@]}" test.example A | tee -a "$LOG"
"${DIG[@]}" host.test.lan AAAA | tee -a "$LOG"
"${DIG[@]}" www.test.lan A | tee -a "$LOG"
"${DIG[@]}" nosuch.test.lan A | tee -a "$LOG"
python3 - "$DNS_ADDR" <<'EOF' | tee -a "$LOG"
# Two queries sent back to back from one socket before either answer is read.
import socket, struct, sys
def q(txid, name, qtype):
    labels = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    return struct.pack(">HHHHHH", txid, 0x0100, 1, 0, 0, 0) + labels + struct.pack(">HH", qtype, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(q(0x1111, "host.test.lan", 1), (sys.argv[1], 53))
s.sendto(q(0x2222, "alias.test.lan", 28), (sys.argv[1], 53))
got = sorted(struct.unpack(">H", s.recv(512)[:2])[0] for _ in range(2))
print("in flight: answers for ids", [hex(i) for i in got])
EOF
stop_capture "$OUT/dns-udp.pcap"

say "step D2: TCP: dig +tcp A test.example, dig +tcp nosuch.test.lan (NXDOMAIN), two queries in one segment (python) -> dns-tcp.pcap"
start_capture "$OUT/dns-tcp.pcap" "host $DNS_ADDR and port 53"
"${DIG[@]}" +tcp test.example A | tee -a "$LOG"
"${DIG[@]}" +tcp nosuch.test.lan A | tee -a "$LOG"
python3 - "$DNS_ADDR" <<'EOF' | tee -a "$LOG"
# Two length-prefixed queries in one TCP write, then both answers read.
import socket, struct, sys
def q(txid, name, qtype):
    labels = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    m = struct.pack(">HHHHHH", txid, 0x0100, 1, 0, 0, 0) + labels + struct.pack(">HH", qtype, 1)
    return struct.pack(">H", len(m)) + m
s = socket.create_connection((sys.argv[1], 53), timeout=2)
s.sendall(q(0x3333, "host.test.lan", 1) + q(0x4444, "host.test.lan", 28))
buf = b""
ids = []
while len(ids) < 2:
    buf += s.recv(4096)
    while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
        n = struct.unpack(">H", buf[:2])[0]
        ids.append(hex(struct.unpack(">H", buf[2:4])[0]))
        buf = buf[2 + n:]
s.close()
print("tcp two in one segment: answers for ids", ids)
EOF
stop_capture "$OUT/dns-tcp.pcap"

say "done: $OUT"
