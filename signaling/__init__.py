"""WebRTC signalling for video sessions (DESIGN.md section 9).

Rooms, waiting room, relay, ICE/TURN credentials and the aiortc pre-call peer come
with issue #7; the package exists now so the distribution's layout is complete.
"""
