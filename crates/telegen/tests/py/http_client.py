"""Raw-socket HTTP/1.1 client for telegen's end-to-end tests (Python stdlib): three
pipelined GETs in one send, then a POST whose body is larger than the agent's payload
capture size followed by a GET on the same connection, then a chunked response.
Usage: python3 http_client.py PORT BODY_BYTES"""
import socket
import sys

port, body_len = int(sys.argv[1]), int(sys.argv[2])


def read_responses(s, n):
    """Reads n responses (Content-Length or chunked bodies) from socket s."""
    buf = b""
    got = []
    while len(got) < n:
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            assert chunk, "connection closed early"
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        if headers.get("transfer-encoding") == "chunked":
            while not buf.endswith(b"0\r\n\r\n"):
                buf += s.recv(65536)
            buf = b""
        else:
            n_body = int(headers.get("content-length", "0"))
            while len(buf) < n_body:
                buf += s.recv(65536)
            buf = buf[n_body:]
        got.append(status)
    return got


s = socket.create_connection(("::1", port))
host = b"Host: [::1]:%d\r\n" % port
s.sendall(b"".join(b"GET /pipe/%d HTTP/1.1\r\n%s\r\n" % (i, host) for i in (1, 2, 3)))
assert read_responses(s, 3) == [200, 200, 200]
s.sendall(b"POST /upload HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n" % (host, body_len) + b"x" * body_len)
assert read_responses(s, 1) == [201]
s.sendall(b"GET /after-upload HTTP/1.1\r\n%s\r\n" % host)
assert read_responses(s, 1) == [200]
s.sendall(b"GET /chunked HTTP/1.1\r\n%s\r\n" % host)
assert read_responses(s, 1) == [200]
s.close()
