"""Remote verification with SAS (short authentication string), on vodozemac ``Sas``.

Both devices exchange ephemeral Curve25519 keys (through the server), then each
shows seven emoji (indices into the Matrix SAS emoji table) or three 4-digit
numbers. The info string binds both users, devices, ephemeral keys and the
transaction, ordered by role (who started). After the humans confirm a match,
each side MACs its long-term keys with the shared secret and the other side
checks them, which proves that the keys it holds are the peer's.
"""

from __future__ import annotations

import msgspec
import vodozemac

from crypto import _vodozemac
from crypto.errors import SasError


class SasParty(msgspec.Struct, frozen=True):
    user_id: str
    device_id: str


class SasCodes(msgspec.Struct, frozen=True):
    """What the humans compare."""

    emoji_indices: tuple[int, ...]
    decimals: tuple[int, int, int]


class SasVerification:
    """One side of a SAS exchange."""

    def __init__(
        self, me: SasParty, them: SasParty, transaction_id: str, *, we_started: bool
    ) -> None:
        self.me = me
        self.them = them
        self.transaction_id = transaction_id
        self.we_started = we_started
        self._sas: vodozemac.Sas | None = vodozemac.Sas()
        self._public_key = self._sas.public_key.to_base64()
        self._their_key: str | None = None
        self._established: vodozemac.EstablishedSas | None = None

    @property
    def public_key(self) -> str:
        """Our ephemeral Curve25519 key, to send to the other side."""
        return self._public_key

    def _info(self, their_key: str) -> str:
        mine = f"{self.me.user_id}|{self.me.device_id}|{self._public_key}"
        theirs = f"{self.them.user_id}|{self.them.device_id}|{their_key}"
        first, second = (mine, theirs) if self.we_started else (theirs, mine)
        return f"KAARI_SAS_V1|{first}|{second}|{self.transaction_id}"

    def receive_key(self, their_key_b64: str) -> SasCodes:
        """Do the key agreement with the other side's ephemeral key; return the codes."""
        if self._sas is None:
            raise SasError("SAS key already received")
        try:
            their_key = vodozemac.Curve25519PublicKey.from_base64(their_key_b64)
            self._established = self._sas.diffie_hellman(their_key)
        except ValueError as exc:
            raise SasError(f"bad SAS key: {exc}") from exc
        self._sas = None
        self._their_key = their_key_b64
        sas_bytes = self._established.bytes(self._info(their_key_b64))
        emoji = _vodozemac.emoji_indices(sas_bytes)
        d = sas_bytes.decimals
        return SasCodes(emoji, (d[0], d[1], d[2]))

    def _mac_info(self, sender: SasParty, receiver: SasParty, key_id: str) -> str:
        return (
            f"KAARI_SAS_MAC_V1|{sender.user_id}|{sender.device_id}|"
            f"{receiver.user_id}|{receiver.device_id}|{self.transaction_id}|{key_id}"
        )

    def _require(self) -> vodozemac.EstablishedSas:
        if self._established is None:
            raise SasError("SAS not established yet")
        return self._established

    def mac_keys(self, keys: dict[str, str]) -> dict[str, str]:
        """MAC our long-term keys (``{"ed25519:DEVICE": key, …}``) plus the key list."""
        sas = self._require()
        macs = {
            kid: sas.calculate_mac(key, self._mac_info(self.me, self.them, kid))
            for kid, key in keys.items()
        }
        macs["KEY_IDS"] = sas.calculate_mac(
            ",".join(sorted(keys)), self._mac_info(self.me, self.them, "KEY_IDS")
        )
        return macs

    def verify_keys(self, keys: dict[str, str], macs: dict[str, str]) -> None:
        """Check the other side's MACs over the keys we hold for it; raise :class:`SasError`."""
        sas = self._require()
        if set(macs) != set(keys) | {"KEY_IDS"}:
            raise SasError("MACs do not cover exactly the expected keys")
        try:
            sas.verify_mac(
                ",".join(sorted(keys)),
                self._mac_info(self.them, self.me, "KEY_IDS"),
                macs["KEY_IDS"],
            )
            for kid, key in keys.items():
                sas.verify_mac(key, self._mac_info(self.them, self.me, kid), macs[kid])
        except ValueError as exc:
            raise SasError(f"SAS MAC mismatch: {exc}") from exc
