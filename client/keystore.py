"""A directory of encrypted records, each file written atomically.

Layout: ``store.meta`` (unencrypted JSON: format version, salt, key check) and
one file per record, sealed with :class:`crypto.store.StoreKeys`. A write goes
to a temporary file in the same directory, is fsynced, then renamed over the
old file, and the directory is fsynced: a crash leaves the old or the new
record, never a mix.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import msgspec

from crypto.canonical import b64decode, b64encode
from crypto.errors import CorruptStoreError, EncodingError, StoreError
from crypto.store import StoreKeys

_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,120}$")
_META = "store.meta"


class _Meta(msgspec.Struct, rename="camel"):
    v: int
    salt: str
    key_check: str


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class KeyStore:
    """Encrypted records in one directory."""

    def __init__(self, path: Path, keys: StoreKeys) -> None:
        self.path = path
        self.keys = keys

    @classmethod
    def create(cls, path: str | os.PathLike[str], secret: bytes) -> KeyStore:
        root = Path(path)
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        if (root / _META).exists():
            raise StoreError(f"a key store already exists at {root}")
        keys = StoreKeys(secret, StoreKeys.new_salt())
        meta = _Meta(v=1, salt=b64encode(keys.salt), key_check=b64encode(keys.key_check))
        _atomic_write(root / _META, msgspec.json.encode(meta))
        return cls(root, keys)

    @classmethod
    def open(cls, path: str | os.PathLike[str], secret: bytes) -> KeyStore:
        root = Path(path)
        try:
            raw = (root / _META).read_bytes()
        except FileNotFoundError as exc:
            raise StoreError(f"no key store at {root}") from exc
        try:
            meta = msgspec.json.decode(raw, type=_Meta)
            salt = b64decode(meta.salt)
            check = b64decode(meta.key_check)
        except (msgspec.DecodeError, msgspec.ValidationError, EncodingError) as exc:
            raise CorruptStoreError("store.meta is corrupted") from exc
        if meta.v != 1:
            raise StoreError(f"unsupported key store version {meta.v}")
        keys = StoreKeys(secret, salt)
        keys.check(check)
        return cls(root, keys)

    def _file(self, name: str) -> Path:
        if not _NAME.match(name) or name == _META:
            raise ValueError(f"bad record name {name!r}")
        return self.path / name

    def put(self, name: str, data: bytes) -> None:
        _atomic_write(self._file(name), self.keys.seal(name, data))

    def get(self, name: str) -> bytes | None:
        try:
            blob = self._file(name).read_bytes()
        except FileNotFoundError:
            return None
        return self.keys.open(name, blob)

    def delete(self, name: str) -> None:
        self._file(name).unlink(missing_ok=True)

    def names(self, prefix: str) -> list[str]:
        return sorted(
            p.name for p in self.path.iterdir() if p.name.startswith(prefix) and _NAME.match(p.name)
        )
