"""The two kinds of device in the interoperability tests, both wired to the in-test homeserver.

- :class:`RustDevice`: an ``OlmMachine`` of ``@matrix-org/matrix-sdk-crypto-wasm`` in the
  Node driver (``node/machine.mjs``); its outgoing requests are relayed to the homeserver
  and answered with ``markRequestAsSent``, as an app built on the SDK does.
- :class:`PyDevice`: :class:`crypto.matrix.MatrixDevice` on vodozemac, driven the same way.
"""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

from interop_homeserver import Homeserver

from crypto.matrix import MatrixDevice, RoomEvent, ToDeviceRequest, ToDeviceResult

NODE_DIR = Path(__file__).parent / "node"
WASM_VERSION = "18.9.0"

KEYS_UPLOAD, KEYS_QUERY, KEYS_CLAIM, TO_DEVICE, SIGNATURE_UPLOAD, ROOM_MESSAGE, KEYS_BACKUP = range(
    7
)


class NodeError(Exception):
    pass


class NodeDriver:
    """One ``node machine.mjs`` process speaking JSON lines."""

    def __init__(self, node: str) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self._proc = subprocess.Popen(
            [node, "machine.mjs"],
            cwd=NODE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._ids = itertools.count(1)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)
        self._lines.put("")

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-4000:]

    def call(self, op: str, timeout: float = 60.0, **args: Any) -> Any:
        assert self._proc.stdin is not None
        msg_id = next(self._ids)
        self._proc.stdin.write(json.dumps({"id": msg_id, "op": op, **args}) + "\n")
        self._proc.stdin.flush()
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise NodeError(f"{op}: no answer in {timeout}s\n{self.stderr()}") from None
        if not line:
            raise NodeError(f"{op}: the node driver exited\n{self.stderr()}")
        answer = json.loads(line)
        assert answer["id"] == msg_id, answer
        if not answer["ok"]:
            raise NodeError(f"{op}: {answer['error']}")
        return answer["result"]

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._stderr.close()


_names = itertools.count(1)


class RustDevice:
    def __init__(self, node: NodeDriver, hs: Homeserver, user: str, device: str) -> None:
        self.node, self.hs, self.user, self.device = node, hs, user, device
        self.name = f"m{next(_names)}"
        keys = node.call("init", name=self.name, user=user, device=device)
        self.curve25519: str = keys["curve25519"]
        self.ed25519: str = keys["ed25519"]
        self.requests: list[dict[str, Any]] = []  # every request relayed, for assertions

    def call(self, op: str, **args: Any) -> Any:
        return self.node.call(op, name=self.name, **args)

    def relay(self, req: dict[str, Any]) -> Any:
        """Send one outgoing request to the homeserver and mark it as sent."""
        self.requests.append(req)
        kind, body = req["type"], req["body"]
        if kind == KEYS_UPLOAD:
            response = self.hs.keys_upload(self.user, self.device, body)
        elif kind == KEYS_QUERY:
            response = self.hs.keys_query(self.user, body)
        elif kind == KEYS_CLAIM:
            response = self.hs.keys_claim(self.user, body)
        elif kind == TO_DEVICE:
            response = self.hs.send_to_device(self.user, req["event_type"], body)
        elif kind == SIGNATURE_UPLOAD:
            response = self.hs.signatures_upload(self.user, body)
        elif kind == ROOM_MESSAGE:
            response = self.hs.send_room_event(self.user, req["room_id"], req["event_type"], body)
        elif kind == KEYS_BACKUP:
            response = self.hs.backup_put(self.user, req["version"], body)
        else:
            raise AssertionError(f"unknown request type {kind}")
        if req.get("id"):
            self.call("mark_sent", request_id=req["id"], type=kind, response=response)
        return response

    def flush(self) -> None:
        for _ in range(20):
            reqs = self.call("outgoing")
            if not reqs:
                return
            for req in reqs:
                self.relay(req)
        raise AssertionError("the machine keeps producing requests")

    def sync(self, trust: str = "Untrusted") -> list[dict[str, Any]]:
        s = self.hs.sync(self.user, self.device)
        out = self.call(
            "receive_sync",
            to_device=s["to_device"]["events"],
            changed=s["device_lists"]["changed"],
            left=s["device_lists"]["left"],
            otk_counts=s["device_one_time_keys_count"],
            fallback_types=s["device_unused_fallback_key_types"],
            trust=trust,
        )
        self.flush()
        return list(out)

    def prepare_room(self, room_id: str, strategy: str = "all") -> list[dict[str, Any]]:
        members = sorted(self.hs.rooms[room_id].members)
        self.call("update_tracked", users=members)
        self.flush()
        claim = self.call("missing_sessions", users=members)
        if claim is not None:
            self.relay(claim)
        shares = self.call("share_room_key", room=room_id, users=members, strategy=strategy)
        for req in shares:
            self.relay(req)
        return list(shares)

    def send_room(
        self, room_id: str, event_type: str, content: dict[str, Any], strategy: str = "all"
    ) -> str:
        self.prepare_room(room_id, strategy)
        encrypted = self.call("encrypt_room", room=room_id, type=event_type, content=content)
        return str(
            self.hs.send_room_event(self.user, room_id, "m.room.encrypted", encrypted)["event_id"]
        )

    def decrypt(self, event: dict[str, Any], room_id: str, trust: str = "Untrusted") -> Any:
        return self.call("decrypt_room", room=room_id, event=event, trust=trust)

    def send_to_device(
        self, user: str, device: str, event_type: str, content: dict[str, Any]
    ) -> None:
        self.call("update_tracked", users=[user])
        self.flush()
        claim = self.call("missing_sessions", users=[user])
        if claim is not None:
            self.relay(claim)
        encrypted = self.call(
            "encrypt_to_device", user=user, device=device, type=event_type, content=content
        )
        self.hs.send_to_device(
            self.user, "m.room.encrypted", {"messages": {user: {device: encrypted}}}
        )


class PyDevice:
    def __init__(self, hs: Homeserver, user: str, device: str) -> None:
        self.hs, self.user, self.device = hs, user, device
        self.dev = MatrixDevice.create(user, device)
        self.upload_keys()

    def upload_keys(self) -> None:
        body = self.dev.keys_upload_body()
        if body is not None:
            self.dev.on_keys_upload_response(self.hs.keys_upload(self.user, self.device, body))

    def query(self) -> None:
        body = self.dev.keys_query_body()
        if body is not None:
            self.dev.on_keys_query_response(self.hs.keys_query(self.user, body))

    def sync(self) -> list[ToDeviceResult]:
        s = self.hs.sync(self.user, self.device)
        results = self.dev.receive_sync(
            s["to_device"]["events"],
            s["device_lists"]["changed"],
            s["device_lists"]["left"],
            s["device_one_time_keys_count"],
            s["device_unused_fallback_key_types"],
        )
        self.upload_keys()
        self.query()
        return results

    def send(self, req: ToDeviceRequest) -> None:
        self.hs.send_to_device(self.user, req.event_type, req.body())

    def ensure_sessions(self, users: list[str]) -> None:
        self.dev.track_users(users)
        self.query()
        body = self.dev.keys_claim_body(users)
        if body is not None:
            self.dev.on_keys_claim_response(self.hs.keys_claim(self.user, body))
        dummies = self.dev.take_dummies()
        if dummies is not None:
            self.send(dummies)

    def send_to_device(
        self, user: str, device: str, event_type: str, content: dict[str, Any]
    ) -> None:
        self.ensure_sessions([user])
        self.send(self.dev.to_device_request([(user, device)], event_type, content))

    def share_room_key(self, room_id: str, only_verified: bool = False) -> list[ToDeviceRequest]:
        members = sorted(self.hs.rooms[room_id].members)
        self.ensure_sessions(members)
        reqs = self.dev.share_room_key(room_id, members, only_verified=only_verified)
        for req in reqs:
            self.send(req)
        return reqs

    def send_room(self, room_id: str, event_type: str, content: dict[str, Any]) -> str:
        self.share_room_key(room_id)
        encrypted = self.dev.encrypt_room_event(room_id, event_type, content)
        return str(
            self.hs.send_room_event(self.user, room_id, "m.room.encrypted", encrypted)["event_id"]
        )

    def send_room_strict(self, room_id: str, content: dict[str, Any]) -> str:
        """A room message shared only with verified devices (the rest get withheld notices)."""
        self.share_room_key(room_id, only_verified=True)
        encrypted = self.dev.encrypt_room_event(room_id, "m.room.message", content)
        sent = self.hs.send_room_event(self.user, room_id, "m.room.encrypted", encrypted)
        return str(sent["event_id"])

    def decrypt(self, event: dict[str, Any], room_id: str) -> RoomEvent:
        return self.dev.decrypt_room_event(event, room_id)
