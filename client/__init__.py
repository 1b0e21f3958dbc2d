"""Kaari's reference device client, used by the tests, the benches and ``kaari client``.

Keys and protocol state (:mod:`client.keystore`, :mod:`client.device`,
:mod:`client.case_sessions`), the server over HTTP and WebSocket (:mod:`client.api`,
:mod:`client.messenger`, :mod:`client.live`), homework (:mod:`client.homework`), calls
(:mod:`client.call`, :mod:`client.rtc`) and the terminal commands (:mod:`client.cli`).
"""

from client.case_sessions import ReceivedCaseContent
from client.device import Device, PeerDevice, Received

__all__ = ["Device", "PeerDevice", "Received", "ReceivedCaseContent"]
