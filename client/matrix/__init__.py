"""The reference client on the Matrix device protocol (issue 13), beside the old one.

- :mod:`~client.matrix.http`: the ``/_matrix/client/v3`` endpoints and Kaari's sign-in
- :mod:`~client.matrix.store`: the device state, messages and sync position, crash-safe
- :mod:`~client.matrix.client`: the request loop, room sends with the device-set check,
  key backup and key forwarding between own devices
- :mod:`~client.matrix.invite_qr`: the first-visit QR payload (invite + inviter's master key)
- :mod:`~client.matrix.verify`: join by that QR and verify the inviter (cross-signing)
- :mod:`~client.matrix.sas`: SAS emoji verification for remote cases
"""

from client.matrix.client import BackupMismatch, MatrixClient, SendFailed, SyncResult
from client.matrix.http import DeviceSetChanged, Login, MatrixError, MatrixHttp
from client.matrix.store import DeviceStore

__all__ = [
    "BackupMismatch",
    "DeviceSetChanged",
    "DeviceStore",
    "Login",
    "MatrixClient",
    "MatrixError",
    "MatrixHttp",
    "SendFailed",
    "SyncResult",
]
