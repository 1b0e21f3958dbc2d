"""WebRTC signalling for video sessions (DESIGN.md section 9, docs/signaling.md).

Built so far: ICE servers with coturn REST credentials (``ice``), the pre-call page
and its aiortc echo peer (``page``, ``precall``). Rooms, the waiting room and the
relay of offers and answers come with part 2 of issue #7. Everything taken from
``app`` goes through ``signaling.ports``.
"""
