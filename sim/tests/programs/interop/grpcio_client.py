"""The official gRPC Python client (grpcio) against StockData replicas.

Usage: python3 grpcio_client.py ADDR_A ADDR_B CALLS
Prints one JSON object: the calls' status codes, the replicas that served
them (the `server-id` header), and what Health.Watch answered for an
unknown service. Messages are encoded by hand (proto3: field 1, varint),
so no generated stubs are needed.
"""
import json
import sys
from concurrent import futures

import grpc


def get_request(stock_id):
    # GetRequest { int32 id = 1; }: tag 0x08, then the varint.
    out, v = bytearray([0x08]), stock_id
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def health_request(service):
    # HealthCheckRequest { string service = 1; }
    data = service.encode()
    return bytes([0x0A, len(data)]) + data


def main():
    a, b, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
    # The name resolver's `ipv4:` scheme with two addresses, balanced per
    # call by grpc-core's round_robin policy. The :authority it sends is
    # its default for this target, which is no host name of ours.
    channel = grpc.insecure_channel(
        f"ipv4:{a},{b}",
        options=[("grpc.lb_policy_name", "round_robin")],
    )
    grpc.channel_ready_future(channel).result(timeout=10)
    get = channel.unary_unary(
        "/stockdata.v1.Stocks/Get",
        request_serializer=lambda x: x,
        response_deserializer=lambda x: x,
    )
    codes, servers = {}, {}

    def one(i):
        try:
            _, call = get.with_call(get_request(2 + i % 100), timeout=10)
            server = dict(call.initial_metadata()).get("server-id", "(none)")
            return "OK", server
        except grpc.RpcError as e:
            return e.code().name, None

    with futures.ThreadPoolExecutor(max_workers=16) as pool:
        for code, server in pool.map(one, range(calls)):
            codes[code] = codes.get(code, 0) + 1
            if server is not None:
                servers[server] = servers.get(server, 0) + 1

    # Health.Watch on a service the replica does not know: the protocol
    # says answer SERVICE_UNKNOWN (3) and keep the stream open.
    watch = channel.unary_stream(
        "/grpc.health.v1.Health/Watch",
        request_serializer=lambda x: x,
        response_deserializer=lambda x: x,
    )
    stream = watch(health_request("no.such.Service"), timeout=1.0)
    first = next(stream)
    # HealthCheckResponse { ServingStatus status = 1; }: 0x08, the status.
    status = first[1] if len(first) >= 2 and first[0] == 0x08 else 0
    try:
        next(stream)
        after = "another message"
    except grpc.RpcError as e:
        # The stream stayed open until our deadline ended it.
        after = e.code().name
    channel.close()
    print(json.dumps({"codes": codes, "servers": servers,
                      "watch_status": status, "watch_then": after}))


if __name__ == "__main__":
    main()
