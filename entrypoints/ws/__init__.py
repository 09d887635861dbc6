"""The WebSocket entrypoint (docs/api.md#websocket): ``/ws`` on its own port and on the HTTP port.

``endpoint.WsEndpoint`` is the handler (a plain ASGI app); ``app.create_ws_app``
is the small app of the WebSocket port.
"""
