"""argon2id password hashing, always off the event loop."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Passwords:
    """Hash and verify with argon2id; unknown users cost the same as known ones."""

    def __init__(
        self, memory_kib: int, time_cost: int, parallelism: int, workers: int | None = None
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )
        # A pool of its own, one thread short of the cores: a burst of logins then queues
        # here instead of taking every core from the event loop (and from /health).
        self._pool = ThreadPoolExecutor(
            max_workers=workers or max(1, (os.cpu_count() or 2) - 1),
            thread_name_prefix="argon2",
        )
        # Verified against when the account does not exist, so both paths cost one hash.
        self._dummy_hash = self._hasher.hash("kaari-dummy-password-for-timing")

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True if ``password`` matches; with no hash it still spends the same time."""
        target = password_hash or self._dummy_hash
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(self._pool, self._verify, target, password)
        return ok and password_hash is not None

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
