"""The profile of `kaari client`: one signed-in device in a directory.

The profile directory (``--profile``, ``KAARI_CLIENT_HOME``, default ``~/.kaari-client``)
holds ``profile.json`` (server, user and device ids), a random 32-byte key in ``secret``
(mode 0600, like an SSH key: whoever can read the profile can read the messages) and,
encrypted under it, the Matrix device's store in ``matrix/`` (keys, sessions, messages,
the session token). Homework still runs on the earlier device format, whose store is in
``device/`` (same device id and token) until it moves onto the Matrix rooms. A process
holds the profile's ``lock`` while it runs. Shared by the commands in :mod:`client.cli`
and :mod:`client.cli_homework`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import httpx

from client.api import Api
from client.device import Device
from client.matrix import DeviceStore, Login, MatrixClient, MatrixHttp
from client.matrix.setup import set_up_first_device
from client.messenger import Messenger

TOKEN_RECORD = "session.token"  # noqa: S105 (a record name, not a secret)


class CliError(Exception):
    """A refusal of `kaari client` (printed as it is, exit status 1)."""


class Profile:
    """A profile directory (nothing is read or written until a method asks)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def config_path(self) -> Path:
        return self.root / "profile.json"

    def exists(self) -> bool:
        return self.config_path.exists()

    def config(self) -> dict[str, Any]:
        if not self.exists():
            raise CliError("Not signed in: run `kaari client login` first")
        data: dict[str, Any] = json.loads(self.config_path.read_text())
        return data

    def secret(self) -> bytes:
        return bytes.fromhex((self.root / "secret").read_text().strip())

    def lock(self) -> None:
        """Hold the profile for this process: two processes on one key store would
        each write back their own copy of the ratchets and lose messages."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle = (self.root / "lock").open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise CliError(f"The profile {self.root} is in use by another kaari client") from None
        self._lock = handle  # released when the process ends

    def create(self, server: str, user_id: str, device_id: str, matrix_user_id: str) -> bytes:
        key = secrets.token_bytes(32)
        path = self.root / "secret"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key.hex())
        config = {
            "server": server,
            "userId": user_id,
            "deviceId": device_id,
            "matrixUserId": matrix_user_id,
        }
        self.config_path.write_text(json.dumps(config))
        return key

    def device_dir(self) -> Path:
        """The earlier device format's store (homework, until it moves onto rooms)."""
        return self.root / "device"

    def matrix_dir(self) -> Path:
        return self.root / "matrix"

    def holds_anything(self) -> bool:
        paths = (self.config_path, self.device_dir(), self.matrix_dir(), self.root / "secret")
        return any(p.exists() for p in paths)

    def remove(self) -> None:
        """Delete what this profile holds (only its own files)."""
        shutil.rmtree(self.device_dir(), ignore_errors=True)
        shutil.rmtree(self.matrix_dir(), ignore_errors=True)
        for name in ("secret", "profile.json", "lock"):
            (self.root / name).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.root.rmdir()  # only if nothing else is in it


class Session:
    """The profile's signed-in Matrix device and its Kaari API session."""

    def __init__(self, client: MatrixClient, api: Api, config: dict[str, Any]) -> None:
        self.client = client
        self.api = api
        self.config = config

    def close(self) -> None:
        self.client.close()
        self.client.http.close()
        self.api.close()


def open_session(profile: Profile) -> Session:
    """Open the profile's Matrix device (uploading keys it still owes the server)."""
    config = profile.config()
    secret = profile.secret()
    if not profile.matrix_dir().is_dir():
        raise CliError("Not signed in: run `kaari client login` first")
    token = _stored_token(profile, secret)
    http = MatrixHttp.connect(config["server"], token)
    try:
        client = MatrixClient.open(http, profile.matrix_dir(), secret)
    except BaseException:
        http.close()
        raise
    return Session(client, Api(config["server"], token=token), config)


def _stored_token(profile: Profile, secret: bytes) -> str:
    store = DeviceStore.open(profile.matrix_dir(), secret)
    try:
        raw = store.keystore.get(TOKEN_RECORD)
    finally:
        store.close()
    if raw is None:
        raise CliError("Not signed in: run `kaari client login` first")
    return raw.decode()


def refuse_if_taken(profile: Profile) -> None:
    if profile.holds_anything():
        raise CliError(
            f"{profile.root} already holds a device; `kaari client logout` first "
            "(or use another --profile)"
        )


def start_device(
    profile: Profile, server: str, http: httpx.Client, login: Login
) -> tuple[dict[str, Any], str | None]:
    """A signed-in device's first start in a new profile: its Matrix device (keys
    uploaded; on the user's first device cross-signing and a key backup), the token kept
    in its store. The user's profile (``/me``) and the recovery key to show, if new."""
    key = profile.create(server, login.kaari_user_id, login.device_id, login.user_id)
    client = MatrixClient.open(MatrixHttp(http, login.token), profile.matrix_dir(), key)
    api = Api(server, token=login.token)
    try:
        client.store.keystore.put(TOKEN_RECORD, login.token.encode())
        # homework still runs on the earlier device format (same device, same token)
        device = Device.create(profile.device_dir(), key, login.kaari_user_id, login.device_id)
        device.put_record("session.token", login.token.encode())
        Messenger(api, device).publish_keys()
        device.close()
        recovery_key = set_up_first_device(client)
        me: dict[str, Any] = api.me()
    finally:
        client.close()
        api.close()
    return me, recovery_key


def print_signed_in(me: dict[str, Any], recovery_key: str | None) -> None:
    print(f"Signed in as {me['displayName']} ({me['role']}).")
    if recovery_key is not None:
        print("Your recovery key (write it down and keep it safe; with it a new device")
        print(f"reads your earlier messages):\n    {recovery_key}")
    else:
        print("This is a new device of yours: `kaari client recover` with your recovery key")
        print("reads your earlier messages here.")


def open_messenger(profile: Profile) -> tuple[Messenger, dict[str, Any]]:
    """The earlier device format's device of ``profile`` (homework), and the config."""
    config = profile.config()
    device = Device.open(profile.device_dir(), profile.secret())
    token = device.get_record("session.token")
    if token is None:
        raise CliError("Not signed in: run `kaari client login` first")
    api = Api(config["server"], token=token.decode())
    return Messenger(api, device), config
