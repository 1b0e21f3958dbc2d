"""Kaari reference device client: key store and protocol state (transport comes later)."""

from client.device import Device, PeerDevice, Received, ReceivedCaseContent

__all__ = ["Device", "PeerDevice", "Received", "ReceivedCaseContent"]
