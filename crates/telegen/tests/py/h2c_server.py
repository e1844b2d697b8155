"""A cleartext HTTP/2 server (the h2 library) for telegen's end-to-end tests, on
127.0.0.1:PORT: HTTP/2 with prior knowledge, and the HTTP/1.1 `Upgrade: h2c` path (RFC
7540 section 3.2: the upgrade request is answered on stream 1). GET /missing answers
404, every other path 200 with "path=<path>"; GET /up/big adds a 12000-byte response
header (a HEADERS frame far past the kernel's 4096-byte copy). Prints "ready" when
listening.
Usage: python h2c_server.py PORT"""
import socket
import sys
import threading

import h2.config
import h2.connection
import h2.events

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def respond(conn, stream_id, headers):
    path = dict(headers).get(":path", "/")
    status = "404" if path == "/missing" else "200"
    body = ("path=%s\n" % path).encode()
    fields = [(":status", status), ("content-type", "text/plain"), ("content-length", str(len(body)))]
    if path == "/up/big":
        fields.append(("x-big", "x" * 12000))
    conn.send_headers(stream_id, fields)
    conn.send_data(stream_id, body, end_stream=True)


def serve_h2(sock, conn, first=b""):
    pending = {}
    data = first
    while True:
        if data:
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    pending[ev.stream_id] = [(k.decode() if isinstance(k, bytes) else k,
                                              v.decode() if isinstance(v, bytes) else v)
                                             for k, v in ev.headers]
                    if ev.stream_ended:
                        respond(conn, ev.stream_id, pending.pop(ev.stream_id))
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id in pending:
                    respond(conn, ev.stream_id, pending.pop(ev.stream_id))
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    sock.sendall(conn.data_to_send())
                    return
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
        data = sock.recv(65536)
        if not data:
            return


def handle(sock):
    cfg = h2.config.H2Configuration(client_side=False, header_encoding=None)
    conn = h2.connection.H2Connection(config=cfg)
    buf = b""
    while len(buf) < len(PREFACE) and b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return
        buf += chunk
    if buf.startswith(PREFACE[: min(len(buf), len(PREFACE))]):
        while len(buf) < len(PREFACE):
            buf += sock.recv(65536)
        conn.initiate_connection()
        return serve_h2(sock, conn, buf)
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    hdrs = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    if hdrs.get("upgrade", "").lower() == "h2c" and "http2-settings" in hdrs:
        sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
        conn.initiate_upgrade_connection(hdrs["http2-settings"].encode())
        respond(conn, 1, [(":method", method), (":path", path)])
        return serve_h2(sock, conn, rest)
    body = ("path=%s\n" % path).encode()
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


def main():
    port = int(sys.argv[1])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    print("ready", flush=True)
    while True:
        s, _ = ls.accept()
        threading.Thread(target=lambda: (handle(s), s.close()), daemon=True).start()


if __name__ == "__main__":
    main()
