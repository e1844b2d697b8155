"""A gRPC client (grpcio) for telegen's end-to-end tests: one channel to 127.0.0.1:PORT
kept for the life of the process. Reads commands from stdin, one per line, and answers
each with "done <command>" once its calls have finished:
  basic  - Say (unary), Count (server streaming, 3 replies), Chat (bidi, 2 messages),
           Sum (client streaming, 3 messages), Missing (NOT_FOUND expected)
  say    - Say once
  new    - Chat and Sum (methods a long-lived connection may not have used yet)
  quit   - close the channel and exit
Usage: python grpc_client.py PORT"""
import sys

import grpc

SVC = "/telegen.test.Echo/"


def main():
    port = int(sys.argv[1])
    ch = grpc.insecure_channel("127.0.0.1:%d" % port)
    grpc.channel_ready_future(ch).result(timeout=10)
    say = ch.unary_unary(SVC + "Say")
    count = ch.unary_stream(SVC + "Count")
    total = ch.stream_unary(SVC + "Sum")
    chat = ch.stream_stream(SVC + "Chat")
    missing = ch.unary_unary(SVC + "Missing")

    def do_say():
        assert say(b"world", timeout=10) == b"hello world"

    def do_new():
        assert list(chat(iter([b"a", b"b"]), timeout=10)) == [b"re:a", b"re:b"]
        assert total(iter([b"x", b"yy", b"zzz"]), timeout=10) == b"6"

    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "basic":
            do_say()
            assert list(count(b"go", timeout=10)) == [b"n0", b"n1", b"n2"]
            do_new()
            try:
                missing(b"?", timeout=10)
                raise SystemExit("Missing did not fail")
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.NOT_FOUND, e
        elif cmd == "say":
            do_say()
        elif cmd == "new":
            do_new()
        elif cmd == "quit":
            break
        else:
            raise SystemExit("unknown command %r" % cmd)
        print("done " + cmd, flush=True)
    ch.close()


if __name__ == "__main__":
    main()
