"""Kaari reference device client: key store and protocol state (transport comes later)."""

from client.case_sessions import ReceivedCaseContent
from client.device import Device, PeerDevice, Received

__all__ = ["Device", "PeerDevice", "Received", "ReceivedCaseContent"]
