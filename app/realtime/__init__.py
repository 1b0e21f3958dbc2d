"""Real time: the WebSocket gateway, its tickets, and the event bus (memory | Redis).

Other domains use ``Notifier`` (server -> devices) and ``Gateway.on`` (frames from
devices). See docs/realtime.md for the wire protocol.
"""
