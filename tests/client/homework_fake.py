"""A small in-memory stand-in for the server, as an ``httpx.MockTransport``.

It routes Olm messages to per-device mailboxes and keeps homework tasks and ticks
as they come, so the device side of homework (keys, decryption, checks) can be
tested without a server process. It knows nothing of schedules: ``today`` lists
every active task. The real rules are tested in tests/scenarios against `kaari serve`.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from client.api import Api
from client.device import Device
from client.messenger import Messenger

SECRET = bytes(range(32))


@dataclass
class FakeServer:
    case_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    thread_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # token -> user, device
    roles: dict[str, str] = field(default_factory=dict)  # user -> role
    bundles: dict[str, dict[str, Any]] = field(default_factory=dict)  # device -> bundle
    owners: dict[str, str] = field(default_factory=dict)  # device -> user
    one_time: dict[str, dict[str, Any]] = field(default_factory=dict)  # device -> keys
    mailboxes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    seq: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)  # every posted message
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    ticks: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def device(self, tmp: Path, role: str, user: str | None = None) -> Messenger:
        """A signed-in device of a (new or given) user, with its keys published."""
        user = user or str(uuid.uuid4())
        device_id = str(uuid.uuid4())
        token = secrets.token_hex(8)
        self.tokens[token] = (user, device_id)
        self.roles[user] = role
        self.owners[device_id] = user
        self.mailboxes[device_id] = []
        http = httpx.Client(base_url="http://fake", transport=httpx.MockTransport(self.handle))
        device = Device.create(tmp / device_id, SECRET, user, device_id)
        messenger = Messenger(Api(http=http, token=token), device)
        messenger.publish_keys()
        return messenger

    # plumbing
    def handle(self, request: httpx.Request) -> httpx.Response:
        user, device = self.tokens[request.headers["authorization"].split()[1]]
        body = json.loads(request.content) if request.content else None
        path, method = request.url.path, request.method
        for pattern, verb, fn in self._routes():
            match = re.fullmatch(pattern, path)
            if match and verb == method:
                status, answer = fn(user, device, body, dict(request.url.params), *match.groups())
                return httpx.Response(status, json=answer)
        return httpx.Response(404, json={"code": "not_found", "detail": path})

    def _routes(self) -> list[tuple[str, str, Any]]:
        return [
            (r"/keys/upload", "POST", self.upload),
            (r"/keys/query", "POST", self.query),
            (r"/keys/claim", "POST", self.claim),
            (r"/cases/([^/]+)/threads", "GET", self.threads),
            (r"/threads/([^/]+)/devices", "GET", self.thread_devices),
            (r"/threads/([^/]+)/messages", "POST", self.post_message),
            (r"/mailbox", "GET", self.mailbox),
            (r"/mailbox/ack", "POST", self.ack),
            (r"/cases/([^/]+)/homework", "POST", self.create_task),
            (r"/cases/([^/]+)/homework", "GET", self.list_tasks),
            (r"/homework/([^/]+)", "GET", self.get_task),
            (r"/homework/([^/]+)", "PATCH", self.patch_task),
            (r"/homework/([^/]+)/ticks/([^/]+)", "PUT", self.put_tick),
            (r"/homework/([^/]+)/ticks/([^/]+)", "DELETE", self.delete_tick),
            (r"/homework/([^/]+)/ticks", "GET", self.list_ticks),
            (r"/me/homework/today", "GET", self.today),
        ]

    # keys and messages
    def upload(self, user: str, device: str, body: Any, _: Any) -> tuple[int, Any]:
        if "deviceKeys" in body:
            self.bundles[device] = body["deviceKeys"]
        self.one_time.setdefault(device, {}).update(body.get("oneTimeKeys", {}))
        return 200, {"oneTimeKeyCount": len(self.one_time[device])}

    def query(self, user: str, device: str, body: Any, _: Any) -> tuple[int, Any]:
        users: dict[str, Any] = {u: {"devices": {}} for u in body["userIds"]}
        for dev, bundle in self.bundles.items():
            if self.owners[dev] in users:
                users[self.owners[dev]]["devices"][dev] = bundle
        return 200, {"users": users}

    def claim(self, user: str, device: str, body: Any, _: Any) -> tuple[int, Any]:
        out = {}
        for dev in body["devices"]:
            key_id = next(iter(self.one_time[dev]))
            out[dev] = {"key": self.one_time[dev].pop(key_id)}
        return 200, {"oneTimeKeys": out}

    def threads(self, user: str, device: str, body: Any, _: Any, case: str) -> tuple[int, Any]:
        return 200, [{"id": self.thread_id, "caseId": case, "kind": "child", "childName": "E"}]

    def _thread_devices(self, caller: str) -> dict[str, str]:
        return {d: self.owners[d] for d in self.bundles if d != caller}

    def thread_devices(self, user: str, device: str, body: Any, _: Any, t: str) -> tuple[int, Any]:
        devices = [{"userId": u, "deviceId": d} for d, u in self._thread_devices(device).items()]
        return 200, {"threadId": t, "devices": devices}

    def post_message(self, user: str, device: str, body: Any, _: Any, t: str) -> tuple[int, Any]:
        want = self._thread_devices(device)
        got = set(body["ciphertexts"])
        if got != set(want):
            missing = [{"userId": want[d], "deviceId": d} for d in set(want) - got]
            return 409, {
                "code": "device_set_mismatch",
                "detail": "repair",
                "missing": missing,
                "stale": sorted(got - set(want)),
            }
        envelope = str(uuid.uuid4())
        now = datetime.now(UTC).isoformat()
        for dev, ciphertext in body["ciphertexts"].items():
            self.seq += 1
            self.mailboxes[dev].append(
                {
                    "seq": self.seq,
                    "envelopeId": envelope,
                    "threadId": t,
                    "caseId": self.case_id,
                    "senderUserId": user,
                    "senderDeviceId": device,
                    "sentAt": now,
                    "ciphertext": ciphertext,
                }
            )
        self.sent.append({"from": device, "to": sorted(got)})
        return 201, {"id": envelope, "threadId": t, "sentAt": now, "recipients": len(got)}

    def mailbox(self, user: str, device: str, body: Any, params: Any) -> tuple[int, Any]:
        after = int(params.get("after", 0))
        items = [i for i in self.mailboxes[device] if i["seq"] > after]
        return 200, {"items": items, "upToSeq": after, "more": False}

    def ack(self, user: str, device: str, body: Any, _: Any) -> tuple[int, Any]:
        box = self.mailboxes[device]
        box[:] = [i for i in box if i["seq"] > body["upToSeq"]]
        return 200, {"upToSeq": body["upToSeq"]}

    # homework, as stored
    def create_task(self, user: str, device: str, body: Any, _: Any, case: str) -> tuple[int, Any]:
        now = datetime.now(UTC).isoformat()
        task = {
            "id": body["id"],
            "caseId": case,
            "content": body["content"],
            "contentVersion": 1,
            "schedule": body["schedule"],
            "startsOn": body["startsOn"],
            "endsOn": body.get("endsOn"),
            "tickBy": body.get("tickBy", "both"),
            "status": "active",
            "segments": [],
            "createdBy": user,
            "createdAt": now,
            "updatedAt": now,
        }
        self.tasks[body["id"]] = task
        return 201, task

    def list_tasks(self, user: str, device: str, body: Any, _: Any, case: str) -> tuple[int, Any]:
        return 200, [t for t in self.tasks.values() if t["caseId"] == case]

    def get_task(self, user: str, device: str, body: Any, _: Any, task: str) -> tuple[int, Any]:
        return 200, self.tasks[task]

    def patch_task(self, user: str, device: str, body: Any, _: Any, task: str) -> tuple[int, Any]:
        current = self.tasks[task]
        if "content" in body:
            current["contentVersion"] += 1
        current.update(body)
        return 200, current

    def put_tick(
        self, user: str, device: str, body: Any, _: Any, task: str, day: str
    ) -> tuple[int, Any]:
        if (task, day) in self.ticks:
            return 200, self.ticks[task, day]
        tick = {
            "taskId": task,
            "day": day,
            "userId": user,
            "deviceId": device,
            "clientTime": body["clientTime"],
            "receivedAt": datetime.now(UTC).isoformat(),
            "note": body.get("note"),
        }
        self.ticks[task, day] = tick
        return 201, tick

    def delete_tick(
        self, user: str, device: str, body: Any, _: Any, task: str, day: str
    ) -> tuple[int, Any]:
        self.ticks.pop((task, day), None)
        return 204, None

    def list_ticks(self, user: str, device: str, body: Any, _: Any, task: str) -> tuple[int, Any]:
        return 200, [t for (k, _day), t in sorted(self.ticks.items()) if k == task]

    def today(self, user: str, device: str, body: Any, _: Any) -> tuple[int, Any]:
        day = date.today().isoformat()
        items = [
            {
                "taskId": t["id"],
                "caseId": t["caseId"],
                "content": t["content"],
                "done": (t["id"], day) in self.ticks,
                "mayTick": self.roles[user] != "therapist",
            }
            for t in self.tasks.values()
            if t["status"] == "active"
        ]
        return 200, {"day": day, "tasks": items}
