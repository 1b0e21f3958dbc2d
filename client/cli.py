"""`kaari client …`: a person's device in a terminal, against a running server.

    kaari client login --server http://127.0.0.1:8000 --email anna@demo.kaari.fi
    kaari client threads
    kaari client send <thread> "Eino on kipeänä tänään"
    kaari client read [<thread>] [--wait 10]
    kaari client send-file <thread> photo.jpg
    kaari client save-file <message-id> out.jpg
    kaari client homework today          (and assign, list, tick, undo, progress)
    kaari client logout

The profile directory (``--profile``, ``KAARI_CLIENT_HOME``, default ``~/.kaari-client``)
holds the device's encrypted key store and its key (:mod:`client.cli_profile`).
"""

from __future__ import annotations

import argparse
import getpass
import mimetypes
import os
import socket
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from client import cli_homework
from client.api import Api, ApiError
from client.cli_profile import CliError, Profile, open_messenger
from client.device import Device
from client.homework import HomeworkError
from client.live import DeviceRevoked, Live
from client.messenger import Message, Messenger, SendFailed
from crypto.errors import CryptoError, StoreError
from crypto.payloads import AttachmentPointer, ReadReceipt, TextMessage

CHUNK = 64 * 1024


def _thread(messenger: Messenger, wanted: str) -> dict[str, Any]:
    threads = messenger.api.threads()
    matches = [t for t in threads if t["id"].startswith(wanted)]
    if len(matches) != 1:
        raise CliError(f"No single thread matches {wanted!r}; see `kaari client threads`")
    return matches[0]


def _names(messenger: Messenger, threads: list[dict[str, Any]]) -> dict[str, str]:
    names: dict[str, str] = {}
    for case_id in {t["caseId"] for t in threads}:
        try:
            for member in messenger.api.get(f"/cases/{case_id}/members"):
                names[member["userId"]] = member["displayName"]
        except ApiError:
            continue
    return names


def _show(message: Message, names: dict[str, str], out: Any) -> None:
    when = datetime.fromtimestamp(message.sent_at / 1000, UTC).astimezone()
    who = "me" if message.outgoing else names.get(message.sender_user_id, "someone")
    payload = message.payload
    if isinstance(payload, TextMessage):
        text = payload.body
    elif isinstance(payload, AttachmentPointer):
        name = payload.file_name or payload.media_type
        text = f"[file {name}, {payload.size} bytes; save with: save-file {message.message_id}]"
    elif isinstance(payload, ReadReceipt):
        return
    else:
        text = f"[{type(payload).__name__}]"
    print(f"{when:%Y-%m-%d %H:%M} {who}: {text}", file=out)


# commands


def cmd_login(args: argparse.Namespace, profile: Profile) -> int:
    if profile.exists() or profile.device_dir().exists() or (profile.root / "secret").exists():
        raise CliError(
            f"{profile.root} already holds a device; `kaari client logout` first "
            "(or use another --profile)"
        )
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass()
    api = Api(args.server)
    body = api.login(args.email, password, args.device or f"kaari-cli@{socket.gethostname()}")
    key = profile.create(args.server, body["user"]["id"], body["deviceId"])
    device = Device.create(profile.device_dir(), key, body["user"]["id"], body["deviceId"])
    device.put_record("session.token", body["token"].encode())
    Messenger(api, device).publish_keys()
    print(f"Signed in as {body['user']['displayName']} ({body['user']['role']}).")
    return 0


def cmd_threads(args: argparse.Namespace, profile: Profile) -> int:
    messenger, _ = open_messenger(profile)
    for t in messenger.api.threads():
        who = "family: guardians and therapists" if t["kind"] == "family" else "with the child"
        print(f"{t['id']}  {t['childName'] or 'case'} — {who}")
    return 0


def cmd_send(args: argparse.Namespace, profile: Profile) -> int:
    messenger, _ = open_messenger(profile)
    thread = _thread(messenger, args.thread)
    messenger.top_up()
    result = messenger.send_text(thread["id"], args.text)
    n = result["recipients"]
    print(f"Sent to {n} device{'' if n == 1 else 's'}.")
    return 0


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def cmd_send_file(args: argparse.Namespace, profile: Profile) -> int:
    messenger, _ = open_messenger(profile)
    thread = _thread(messenger, args.thread)
    path = Path(args.path)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    result, _ = messenger.send_attachment(thread["id"], _file_chunks(path), media_type, path.name)
    n = result["recipients"]
    print(f"Sent {path.name} to {n} device{'' if n == 1 else 's'}.")
    return 0


def cmd_read(args: argparse.Namespace, profile: Profile) -> int:
    messenger, _ = open_messenger(profile)
    messenger.top_up()
    if args.wait > 0:
        live = Live(messenger)
        try:
            live.poll(args.wait)
        finally:
            live.close()
    else:
        messenger.sync()
    thread_id = _thread(messenger, args.thread)["id"] if args.thread else None
    threads = messenger.api.threads()
    names = _names(messenger, threads)
    for message in messenger.history(thread_id):
        _show(message, names, sys.stdout)
    return 0


def cmd_save_file(args: argparse.Namespace, profile: Profile) -> int:
    messenger, _ = open_messenger(profile)
    for message in messenger.history():
        if message.message_id == args.message_id and isinstance(message.payload, AttachmentPointer):
            target = Path(args.path)
            partial = target.with_name(f".{target.name}.part")
            try:  # written aside and renamed once complete and verified
                with partial.open("wb") as handle:
                    for chunk in messenger.fetch_attachment(message.payload):
                        handle.write(chunk)
                partial.replace(target)
            finally:
                partial.unlink(missing_ok=True)
            print(f"Saved {message.payload.size} bytes to {target}.")
            return 0
    raise CliError(f"No file in message {args.message_id!r}")


def cmd_logout(args: argparse.Namespace, profile: Profile) -> int:
    messenger, _ = open_messenger(profile)
    try:
        messenger.api.logout()
    except ApiError as exc:
        if exc.status != 401:  # already signed out (revoked): still clear this device
            raise
    messenger.device.close()
    profile.remove()
    print("Signed out; this device's keys and messages are deleted.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kaari client", description=__doc__.split("\n\n")[0])
    default = os.environ.get("KAARI_CLIENT_HOME", str(Path.home() / ".kaari-client"))
    parser.add_argument("--profile", default=default, help="profile directory")
    sub = parser.add_subparsers(dest="command", required=True)
    login = sub.add_parser("login", help="sign in and register this device's keys")
    login.add_argument("--server", required=True, help="e.g. http://127.0.0.1:8000")
    login.add_argument("--email", required=True)
    login.add_argument("--device", default=None, help="a name for this device")
    login.add_argument("--password-stdin", action="store_true")
    login.set_defaults(func=cmd_login)
    sub.add_parser("threads", help="list my threads").set_defaults(func=cmd_threads)
    send = sub.add_parser("send", help="send a message")
    send.add_argument("thread", help="thread id (or its first characters)")
    send.add_argument("text")
    send.set_defaults(func=cmd_send)
    send_file = sub.add_parser("send-file", help="send a file, encrypted")
    send_file.add_argument("thread")
    send_file.add_argument("path")
    send_file.set_defaults(func=cmd_send_file)
    read = sub.add_parser("read", help="fetch new messages and show a thread")
    read.add_argument("thread", nargs="?", default=None)
    read.add_argument("--wait", type=float, default=0.0, help="listen live for N seconds")
    read.set_defaults(func=cmd_read)
    save = sub.add_parser("save-file", help="download and decrypt a received file")
    save.add_argument("message_id")
    save.add_argument("path")
    save.set_defaults(func=cmd_save_file)
    sub.add_parser("logout", help="sign out and delete this profile").set_defaults(func=cmd_logout)
    cli_homework.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    profile = Profile(Path(args.profile))
    try:
        profile.lock()
        return int(args.func(args, profile))
    except ApiError as exc:
        print(f"kaari client: {exc.detail} ({exc.code})", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"kaari client: cannot reach the server ({type(exc).__name__})", file=sys.stderr)
        return 1
    except DeviceRevoked:
        print("kaari client: this device was signed out; log in again", file=sys.stderr)
        return 1
    except (SendFailed, StoreError, CryptoError, HomeworkError) as exc:
        print(f"kaari client: {exc}", file=sys.stderr)
        return 1
    except (CliError, OSError) as exc:
        print(f"kaari client: {exc}", file=sys.stderr)
        return 1
