"""A whole :class:`~crypto.matrix.device.MatrixDevice` as a few named pickles, and back.

The parts are pickled separately (``account``, ``olm``, ``inbound``, ``state``) so that a
store can write only those that changed. The vodozemac parts are encrypted with the
32-byte ``pickle_key``; the cross-signing seeds travel in their own SecretBox. The
``state`` part holds what is not secret on its own but must survive a restart: outbound
sessions (pickled under the key too), the device directory as the verified JSON it came
in (re-verified on load), withheld notices, key requests, backup settings and the
bookkeeping of wedged sessions and sent withheld notices.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crypto.matrix.account import DeviceAccount
from crypto.matrix.backup import BackupEncryptor
from crypto.matrix.canonical import dumps, loads_object
from crypto.matrix.cross_signing import CrossSigningKeys, UserIdentity, identity_from_query
from crypto.matrix.device import MatrixDevice
from crypto.matrix.device_keys import parse_device_keys
from crypto.matrix.errors import EncodingError, KeyFormatError
from crypto.matrix.megolm import InboundSessions, OutboundRoomSession, RotationPolicy
from crypto.matrix.olm import OlmSessions
from crypto.matrix.room_keys import RoomKeyRequest, RoomKeyWithheld

PARTS = ("account", "olm", "inbound", "state")
_STATE_VERSION = 1


def _identity_json(identity: UserIdentity) -> dict[str, Any]:
    out: dict[str, Any] = {"master": identity.master.raw}
    if identity.self_signing is not None:
        out["self_signing"] = identity.self_signing.raw
    if identity.user_signing is not None:
        out["user_signing"] = identity.user_signing.raw
    return out


def _identity_from_json(user: str, obj: Mapping[str, Any]) -> UserIdentity | None:
    response: dict[str, Any] = {"master_keys": {user: obj["master"]}}
    if "self_signing" in obj:
        response["self_signing_keys"] = {user: obj["self_signing"]}
    if "user_signing" in obj:
        response["user_signing_keys"] = {user: obj["user_signing"]}
    return identity_from_query(response, user)


def pickle_device(device: MatrixDevice, pickle_key: bytes) -> dict[str, str]:
    """The device as ``{part: text}`` for :data:`PARTS`."""
    directory = device.directory
    state = {
        "v": _STATE_VERSION,
        "outbound": [s.pickle(pickle_key) for s in device.outbound.values()],
        "cross_signing": (
            device.cross_signing.pickle(pickle_key) if device.cross_signing is not None else None
        ),
        "directory": {
            "devices": {
                user: [d.raw for d in devices.values()]
                for user, devices in directory.devices.items()
            },
            "identities": {
                user: _identity_json(identity) for user, identity in directory.identities.items()
            },
            "tracked": sorted(directory.tracked),
            # a query in flight when we stopped never got its answer: ask again
            "outdated": sorted(directory.outdated | set(directory._in_flight)),
            "generation": directory._generation,
        },
        "withheld": [w.content() for w in device.withheld.values()],
        "key_requests": [r.content() for r in device.key_requests],
        "backup_key": device.backup.public_key if device.backup is not None else None,
        "backup_version": device.backup_version,
        "backed_up": sorted([r, s] for r, s in device.backed_up),
        "wedged": device._wedged,
        "dummies": [d.raw for d in device._dummies],
        "withheld_sent": sorted(list(m) for m in device._withheld_sent),
        "trusted_own_master": device.trusted_own_master,
    }
    return {
        "account": device.account.pickle(pickle_key),
        "olm": device.olm.pickle(pickle_key),
        "inbound": device.inbound.pickle(pickle_key),
        "state": dumps(state).decode(),
    }


def device_from_pickle(
    parts: Mapping[str, str], pickle_key: bytes, *, policy: RotationPolicy | None = None
) -> MatrixDevice:
    """The device :func:`pickle_device` wrote; raise :class:`EncodingError` if it does not open."""
    missing = [p for p in PARTS if p not in parts]
    if missing:
        raise EncodingError(f"device pickle lacks {', '.join(missing)}")
    device = MatrixDevice(DeviceAccount.from_pickle(parts["account"], pickle_key), policy=policy)
    device.olm = OlmSessions.from_pickle(parts["olm"], pickle_key)
    device.inbound = InboundSessions.from_pickle(parts["inbound"], pickle_key)
    state = loads_object(parts["state"])
    if state.get("v") != _STATE_VERSION:
        raise EncodingError("unknown device state version")
    try:
        _load_state(device, state, pickle_key)
    except (KeyError, TypeError, ValueError, KeyFormatError) as exc:
        raise EncodingError(f"device state does not open: {exc}") from exc
    return device


def _load_state(device: MatrixDevice, state: Mapping[str, Any], pickle_key: bytes) -> None:
    for obj in state["outbound"]:
        session = OutboundRoomSession.from_pickle(obj, pickle_key)
        device.outbound[session.room_id] = session
    if state["cross_signing"] is not None:
        device.cross_signing = CrossSigningKeys.from_pickle(state["cross_signing"], pickle_key)
    d, directory = state["directory"], device.directory
    for user, raws in d["devices"].items():
        directory.devices[user] = {
            keys.device_id: keys for keys in (parse_device_keys(raw, user) for raw in raws)
        }
    for user, obj in d["identities"].items():
        identity = _identity_from_json(user, obj)
        if identity is not None:
            directory.identities[user] = identity
    directory.tracked = set(d["tracked"])
    directory.outdated = set(d["outdated"])
    directory._generation = {str(u): int(g) for u, g in d["generation"].items()}
    for content in state["withheld"]:
        notice = RoomKeyWithheld.parse(content)
        if notice.room_id is not None and notice.session_id is not None:
            device.withheld[(notice.room_id, notice.session_id)] = notice
    device.key_requests = [RoomKeyRequest.parse(c) for c in state["key_requests"]]
    if state["backup_key"] is not None:
        device.backup = BackupEncryptor(state["backup_key"])
    device.backup_version = state["backup_version"]
    device.backed_up = {(r, s) for r, s in state["backed_up"]}
    device._wedged = {str(k): int(v) for k, v in state["wedged"].items()}
    device._dummies = [parse_device_keys(raw) for raw in state["dummies"]]
    device._withheld_sent = {(s, u, dv) for s, u, dv in state["withheld_sent"]}
    device.trusted_own_master = state["trusted_own_master"]
