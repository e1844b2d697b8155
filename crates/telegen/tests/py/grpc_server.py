"""A gRPC server (grpcio, generic handlers on raw bytes: no generated code) for telegen's
end-to-end tests, over cleartext HTTP/2 on 127.0.0.1:PORT. Service telegen.test.Echo:
Say (unary), Count (server streaming, 3 replies), Sum (client streaming), Chat (bidi,
one reply per message), Missing (unary, always NOT_FOUND). Prints "ready" when serving.
Usage: python grpc_server.py PORT"""
import sys
from concurrent import futures

import grpc


def say(req, ctx):
    return b"hello " + req


def count(req, ctx):
    for i in range(3):
        yield b"n%d" % i


def total(it, ctx):
    return b"%d" % sum(len(x) for x in it)


def chat(it, ctx):
    for x in it:
        yield b"re:" + x


def missing(req, ctx):
    ctx.abort(grpc.StatusCode.NOT_FOUND, "no such thing")


HANDLERS = {
    "Say": grpc.unary_unary_rpc_method_handler(say),
    "Count": grpc.unary_stream_rpc_method_handler(count),
    "Sum": grpc.stream_unary_rpc_method_handler(total),
    "Chat": grpc.stream_stream_rpc_method_handler(chat),
    "Missing": grpc.unary_unary_rpc_method_handler(missing),
}


def main():
    port = int(sys.argv[1])
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("telegen.test.Echo", HANDLERS),)
    )
    server.add_insecure_port("127.0.0.1:%d" % port)
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
