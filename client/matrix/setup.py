"""A device's first start for its user: cross-signing and key backup, or recovery.

The user's first device makes the cross-signing keys (master, self-signing,
user-signing; the first upload needs no password) and a key backup, and shows the
recovery key once: with it, any later device of the user restores the room keys and
reads the history, even after every earlier device signed out. A later device finds the
user's identity on the server and makes neither; it restores with the recovery key
(:meth:`MatrixClient.restore_backup`) or receives keys from the user's verified devices.
"""

from __future__ import annotations

from client.matrix.client import MatrixClient


def user_has_identity(client: MatrixClient) -> bool:
    """Whether the user already published cross-signing keys (from another device)."""
    client.device.track_users([client.user_id])
    client.device.directory.mark_changed([client.user_id])
    client.query_keys()
    return client.device.directory.identities.get(client.user_id) is not None


def set_up_first_device(client: MatrixClient) -> str | None:
    """Cross-signing keys and a key backup on the user's first device: the recovery key.

    ``None`` when the user already has an identity: this is another device of theirs.
    """
    if user_has_identity(client):
        return None
    client.bootstrap_cross_signing()
    return client.create_backup()


def restore_history(client: MatrixClient, recovery_key: str, room_ids: list[str]) -> int:
    """Restore the room keys from the backup, then read each room's history: how many
    earlier messages became readable."""
    count = len(client.restore_backup(recovery_key))
    for room_id in room_ids:
        count += len(client.load_history(room_id))
    return count
