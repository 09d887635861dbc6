"""The gRPC entrypoint (docs/api.md#grpc): ``proto.AIService`` over grpclib, with server reflection.

The generated betterproto2 messages stay inside this package; everything
outside it sees domain values only. The listener is ``listener.GrpcListener``.
"""
