"""SAS emoji verification over ``m.key.verification.*`` to-device events (``m.sas.v1``).

The remote fallback of the first home visit's QR: both devices exchange ephemeral
Curve25519 keys (vodozemac ``Sas``), show seven emoji (or three numbers) that the people
compare over the phone or video, and after both confirm, each MACs its long-term keys
(its device key and its master cross-signing key) with the shared secret; the other side
checks them against the keys the server gave it. One :class:`SasFlow` is one side of one
flow, either role, with no I/O: each ``on_*`` takes the content of the event received and
answers the content to send (or ``None``); :meth:`SasFlow.outgoing` names its type.

Formats as the spec's (v1.11 "Short Authentication String (SAS) verification"):
``curve25519-hkdf-sha256`` key agreement, ``sha256`` commitment, ``hkdf-hmac-sha256.v2``
MACs, ``emoji`` and ``decimal`` strings. Refusals raise :class:`SasError` with the spec's
cancel code (``m.unknown_method``, ``m.mismatched_commitment``, ``m.key_mismatch``,
``m.unexpected_message``, ``m.mismatched_sas``...); :meth:`SasFlow.cancel` builds the
``m.key.verification.cancel`` content to send with it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import vodozemac

from crypto.matrix.canonical import b64encode, canonical_json
from crypto.matrix.cross_signing import UserIdentity
from crypto.matrix.device_keys import DeviceKeys
from crypto.matrix.errors import MatrixCryptoError

PREFIX = "m.key.verification."
REQUEST, READY, START, ACCEPT, KEY, MAC, DONE, CANCEL = (
    PREFIX + name
    for name in ("request", "ready", "start", "accept", "key", "mac", "done", "cancel")
)
SAS_V1 = "m.sas.v1"
KEY_AGREEMENT = "curve25519-hkdf-sha256"
HASH = "sha256"
MAC_METHOD = "hkdf-hmac-sha256.v2"
SAS_KINDS = ("decimal", "emoji")

#: The spec's 64 emoji, by index: (symbol, description).
_SYMBOLS = (
    "🐶 🐱 🦁 🐎 🦄 🐷 🐘 🐰 🐼 🐓 🐧 🐢 🐟 🐙 🦋 🌷 🌳 🌵 🍄 🌏 🌙 ☁️ 🔥 🍌 🍎 🍓 🌽 🍕 🎂 ❤️ "
    "😀 🤖 🎩 👓 🔧 🎅 👍 ☂️ ⌛ ⏰ 🎁 💡 📕 ✏️ 📎 ✂️ 🔒 🔑 🔨 ☎️ 🏁 🚂 🚲 ✈️ 🚀 🏆 ⚽ 🎸 🎺 🔔 "
    "⚓ 🎧 📁 📌"
)
_NAMES = (
    "Dog,Cat,Lion,Horse,Unicorn,Pig,Elephant,Rabbit,Panda,Rooster,Penguin,Turtle,Fish,"
    "Octopus,Butterfly,Flower,Tree,Cactus,Mushroom,Globe,Moon,Cloud,Fire,Banana,Apple,"
    "Strawberry,Corn,Pizza,Cake,Heart,Smiley,Robot,Hat,Glasses,Spanner,Santa,Thumbs Up,"
    "Umbrella,Hourglass,Clock,Gift,Light Bulb,Book,Pencil,Paperclip,Scissors,Lock,Key,"
    "Hammer,Telephone,Flag,Train,Bicycle,Aeroplane,Rocket,Trophy,Ball,Guitar,Trumpet,"
    "Bell,Anchor,Headphones,Folder,Pin"
)
EMOJI: tuple[tuple[str, str], ...] = tuple(zip(_SYMBOLS.split(" "), _NAMES.split(","), strict=True))


class SasError(MatrixCryptoError):
    """The flow cannot go on; ``code`` is the spec's cancel code to send."""


@dataclass(frozen=True)
class SasParty:
    user_id: str
    device_id: str


@dataclass(frozen=True)
class SasResult:
    """What the other side's MAC proved: their device key, and their master key if sent."""

    device_id: str
    master_key: str | None


def _txn(content: Mapping[str, Any]) -> str:
    txn = content.get("transaction_id")
    if not isinstance(txn, str) or not txn:
        raise SasError("a verification event needs its transaction_id", "m.unknown_transaction")
    return txn


def _choose(theirs: object, ours: str, what: str) -> str:
    if not isinstance(theirs, list) or ours not in theirs:
        raise SasError(f"no common {what}: we need {ours}", "m.unknown_method")
    return ours


class SasFlow:
    """One side of one SAS verification between our device and one device of ``them``."""

    def __init__(
        self, me: SasParty, them: SasParty, transaction_id: str, *, we_requested: bool
    ) -> None:
        self.me, self.them, self.transaction_id = me, them, transaction_id
        self.we_requested = we_requested
        self.we_started: bool | None = None
        self.state = "requested"
        self._sas = vodozemac.Sas()
        self._public_key = self._sas.public_key.to_base64()
        self._start: dict[str, Any] | None = None  # the start content, for the commitment
        self._commitment: str | None = None
        self._established: vodozemac.EstablishedSas | None = None
        self._their_key: str | None = None
        self._sas_kinds: list[str] = []
        self._confirmed = False
        self._their_mac: Mapping[str, Any] | None = None
        self.result: SasResult | None = None

    # -- request / ready -------------------------------------------------------------------

    @classmethod
    def request(cls, me: SasParty, them: SasParty, transaction_id: str) -> SasFlow:
        """We ask ``them`` (send :meth:`request_content` to their device)."""
        return cls(me, them, transaction_id, we_requested=True)

    def request_content(self) -> dict[str, Any]:
        return {
            "from_device": self.me.device_id,
            "methods": [SAS_V1],
            "timestamp": int(time.time() * 1000),
            "transaction_id": self.transaction_id,
        }

    @classmethod
    def from_request(cls, me: SasParty, sender: str, content: Mapping[str, Any]) -> SasFlow:
        """They asked us; answer with :meth:`ready` (or :meth:`cancel`)."""
        device = content.get("from_device")
        if not isinstance(device, str) or not device:
            raise SasError("a verification request names its device", "m.invalid_message")
        flow = cls(me, SasParty(sender, device), _txn(content), we_requested=False)
        _choose(content.get("methods"), SAS_V1, "verification method")
        return flow

    def ready(self) -> dict[str, Any]:
        self._expect("requested", we_requested=False)
        self.state = "ready"
        return {
            "from_device": self.me.device_id,
            "methods": [SAS_V1],
            "transaction_id": self.transaction_id,
        }

    def on_ready(self, content: Mapping[str, Any]) -> dict[str, Any]:
        """They are ready: we start (the ``m.key.verification.start`` content)."""
        self._expect("requested", we_requested=True)
        self._check(content)
        _choose(content.get("methods"), SAS_V1, "verification method")
        if content.get("from_device") != self.them.device_id:
            raise SasError("ready from another device than asked", "m.unexpected_message")
        self.we_started = True
        self._start = {
            "from_device": self.me.device_id,
            "method": SAS_V1,
            "key_agreement_protocols": [KEY_AGREEMENT],
            "hashes": [HASH],
            "message_authentication_codes": [MAC_METHOD],
            "short_authentication_string": list(SAS_KINDS),
            "transaction_id": self.transaction_id,
        }
        self.state = "started"
        return dict(self._start)

    # -- start / accept / key --------------------------------------------------------------

    def on_start(self, content: Mapping[str, Any]) -> dict[str, Any]:
        """They started: accept with our commitment (the ``accept`` content)."""
        self._expect("ready")
        self._check(content)
        if content.get("method") != SAS_V1:
            raise SasError("only m.sas.v1 is supported", "m.unknown_method")
        _choose(content.get("key_agreement_protocols"), KEY_AGREEMENT, "key agreement")
        _choose(content.get("hashes"), HASH, "hash")
        _choose(content.get("message_authentication_codes"), MAC_METHOD, "MAC")
        kinds = content.get("short_authentication_string")
        self._sas_kinds = [k for k in SAS_KINDS if isinstance(kinds, list) and k in kinds]
        if "decimal" not in self._sas_kinds:
            raise SasError("decimal SAS is mandatory", "m.unknown_method")
        self.we_started = False
        self._start = dict(content)
        self.state = "accepted"
        return {
            "method": SAS_V1,
            "key_agreement_protocol": KEY_AGREEMENT,
            "hash": HASH,
            "message_authentication_code": MAC_METHOD,
            "short_authentication_string": self._sas_kinds,
            "commitment": self._commit(self._public_key, content),
            "transaction_id": self.transaction_id,
        }

    def on_accept(self, content: Mapping[str, Any]) -> dict[str, Any]:
        """They accepted our start: keep their commitment, send our key."""
        self._expect("started")
        self._check(content)
        for field_name, ours in (
            ("key_agreement_protocol", KEY_AGREEMENT),
            ("hash", HASH),
            ("message_authentication_code", MAC_METHOD),
        ):
            if content.get(field_name) != ours:
                raise SasError(f"{field_name} must be {ours}", "m.unknown_method")
        commitment = content.get("commitment")
        if not isinstance(commitment, str):
            raise SasError("accept without commitment", "m.invalid_message")
        kinds = content.get("short_authentication_string")
        self._sas_kinds = [k for k in SAS_KINDS if isinstance(kinds, list) and k in kinds]
        self._commitment = commitment
        self.state = "keys"
        return self._key_content()

    def on_key(self, content: Mapping[str, Any]) -> dict[str, Any] | None:
        """Their ephemeral key: agree; the accepter answers with its own key."""
        self._check(content)
        key = content.get("key")
        if not isinstance(key, str):
            raise SasError("key event without key", "m.invalid_message")
        if self.we_started:
            self._expect("keys")
            assert self._start is not None
            assert self._commitment is not None
            if self._commit(key, self._start) != self._commitment:
                raise SasError("their key does not match the commitment", "m.mismatched_commitment")
            answer = None
        else:
            self._expect("accepted")
            answer = self._key_content()
        try:
            self._established = self._sas.diffie_hellman(
                vodozemac.Curve25519PublicKey.from_base64(key)
            )
        except ValueError as exc:  # vodozemac's KeyException, SasException
            raise SasError(f"bad ephemeral key: {exc}", "m.invalid_message") from exc
        self._their_key = key
        self.state = "shown"
        return answer

    def _key_content(self) -> dict[str, Any]:
        return {"key": self._public_key, "transaction_id": self.transaction_id}

    @staticmethod
    def _commit(public_key: str, start: Mapping[str, Any]) -> str:
        digest = hashlib.sha256(public_key.encode() + canonical_json(dict(start))).digest()
        return b64encode(digest)

    # -- the short authentication string ---------------------------------------------------

    def _sas_bytes(self) -> Any:
        if self._established is None or self.we_started is None:
            raise SasError("no short authentication string yet", "m.unexpected_message")
        mine = f"{self.me.user_id}|{self.me.device_id}|{self._public_key}"
        theirs = f"{self.them.user_id}|{self.them.device_id}|{self._their_key}"
        first, second = (mine, theirs) if self.we_started else (theirs, mine)
        return self._established.bytes(
            f"MATRIX_KEY_VERIFICATION_SAS|{first}|{second}|{self.transaction_id}"
        )

    def emoji_indices(self) -> tuple[int, ...]:
        """Seven indices into :data:`EMOJI` (vodozemac returns ``bytes``; its stub a list)."""
        return tuple(int(x) for x in self._sas_bytes().emoji_indices)

    def emoji(self) -> list[tuple[str, str]]:
        """The seven (symbol, description) pairs to show."""
        return [EMOJI[i] for i in self.emoji_indices()]

    def decimals(self) -> tuple[int, int, int]:
        a, b, c = self._sas_bytes().decimals
        return int(a), int(b), int(c)

    # -- mac / done ------------------------------------------------------------------------

    def _mac_info(self, sender: SasParty, receiver: SasParty) -> str:
        return (
            "MATRIX_KEY_VERIFICATION_MAC"
            f"{sender.user_id}{sender.device_id}{receiver.user_id}{receiver.device_id}"
            f"{self.transaction_id}"
        )

    def confirm(self, own_ed25519: str, own_master_key: str | None) -> dict[str, Any]:
        """The people said the emoji match: our ``mac`` content (device and master key)."""
        if self._established is None or self._confirmed or self.state == "cancelled":
            raise SasError("nothing to confirm", "m.unexpected_message")
        keys = {f"ed25519:{self.me.device_id}": own_ed25519}
        if own_master_key is not None:
            keys[f"ed25519:{own_master_key}"] = own_master_key
        info = self._mac_info(self.me, self.them)
        macs = {kid: self._established.calculate_mac(key, info + kid) for kid, key in keys.items()}
        self._confirmed = True
        return {
            "mac": macs,
            "keys": self._established.calculate_mac(",".join(sorted(keys)), info + "KEY_IDS"),
            "transaction_id": self.transaction_id,
        }

    def on_mac(
        self, content: Mapping[str, Any], device: DeviceKeys, identity: UserIdentity | None
    ) -> SasResult:
        """Check their MACs against the keys the server gave us for their device and user.

        Before we confirmed, the result waits for :meth:`confirm` (the people may still
        say the emoji differ; then :meth:`cancel` with ``m.mismatched_sas``).
        """
        self._expect("shown")
        self._check(content)
        assert self._established is not None
        if (device.user_id, device.device_id) != (self.them.user_id, self.them.device_id):
            raise SasError("the MAC is checked against their device's keys", "m.key_mismatch")
        macs, keys_mac = content.get("mac"), content.get("keys")
        if not isinstance(macs, Mapping) or not isinstance(keys_mac, str):
            raise SasError("mac event without mac or keys", "m.invalid_message")
        info = self._mac_info(self.them, self.me)
        known = {f"ed25519:{device.device_id}": device.ed25519}
        if identity is not None:
            known[identity.master.key_id] = identity.master.public_key
        try:
            self._established.verify_mac(",".join(sorted(macs)), info + "KEY_IDS", keys_mac)
            checked = []
            for kid, tag in macs.items():
                if kid in known and isinstance(tag, str):
                    self._established.verify_mac(known[kid], info + kid, tag)
                    checked.append(kid)
        except vodozemac.SasException as exc:
            raise SasError("the keys' MAC does not match", "m.key_mismatch") from exc
        if f"ed25519:{device.device_id}" not in checked:
            raise SasError("their device key was not in the MAC", "m.key_mismatch")
        master = (
            identity.master.public_key if identity and identity.master.key_id in checked else None
        )
        self.result = SasResult(device.device_id, master)
        return self.result

    @property
    def confirmed(self) -> bool:
        """Whether :meth:`confirm` was called (the person said the codes match)."""
        return self._confirmed

    def done(self) -> dict[str, Any]:
        """After our confirm and their valid MAC: the ``done`` content."""
        if not self._confirmed or self.result is None:
            raise SasError("done before both MACs", "m.unexpected_message")
        self.state = "done"
        return {"transaction_id": self.transaction_id}

    def cancel(self, code: str, reason: str) -> dict[str, Any]:
        self.state = "cancelled"
        return {"code": code, "reason": reason, "transaction_id": self.transaction_id}

    # -- checks ----------------------------------------------------------------------------

    def _check(self, content: Mapping[str, Any]) -> None:
        if _txn(content) != self.transaction_id:
            raise SasError("another verification's event", "m.unknown_transaction")

    def _expect(self, state: str, *, we_requested: bool | None = None) -> None:
        if self.state != state or (we_requested is not None and self.we_requested != we_requested):
            raise SasError(f"unexpected in state {self.state}", "m.unexpected_message")
