"""WebRTC signalling for video sessions (DESIGN.md section 9, docs/signaling.md).

ICE servers with coturn REST credentials (``ice``), the pre-call page and its aiortc
echo peer (``page``, ``precall``), rooms of video appointments with the waiting room
and the relay of call signals on the WebSocket (``rooms``, ``roomstate``,
``schemas_rooms``). Everything taken from
``app`` goes through ``signaling.ports``.
"""
