"""The Matrix end-to-end encryption module, device side, on vodozemac (no I/O).

Speaks the client-server specification's JSON formats so that a device built on it and
one running the Rust ``matrix-sdk-crypto`` machine understand each other:

- :mod:`~crypto.matrix.canonical`, :mod:`~crypto.matrix.signing`: canonical JSON, signed JSON
- :mod:`~crypto.matrix.device_keys`, :mod:`~crypto.matrix.account`: device, one-time and
  fallback keys
- :mod:`~crypto.matrix.cross_signing`, :mod:`~crypto.matrix.trust`: cross-signing, QR trust
- :mod:`~crypto.matrix.olm`: ``m.olm.v1.curve25519-aes-sha2`` to-device messages
- :mod:`~crypto.matrix.megolm`: ``m.megolm.v1.aes-sha2`` room events
- :mod:`~crypto.matrix.room_keys`: ``m.room_key``, ``m.forwarded_room_key``,
  ``m.room_key.withheld``, ``m.room_key_request``, session exports
- :mod:`~crypto.matrix.backup`: key backup ``m.megolm_backup.v1.curve25519-aes-sha2``
- :mod:`~crypto.matrix.directory`, :mod:`~crypto.matrix.device`: device-list tracking and
  the composed device
"""

from crypto.matrix.device import MatrixDevice, RoomEvent, ToDeviceRequest, ToDeviceResult

__all__ = ["MatrixDevice", "RoomEvent", "ToDeviceRequest", "ToDeviceResult"]
