"""`kaari client …`: a person's device in a terminal, against a running server.

    kaari client login --server http://127.0.0.1:8000 --email anna@demo.kaari.fi
    kaari client threads
    kaari client send <thread> "Eino on kipeänä tänään"
    kaari client read [<thread>] [--wait 10]
    kaari client send-file <thread> photo.jpg
    kaari client save-file <message-id> out.jpg
    kaari client recover                 (a new device reads the history: the recovery key)
    kaari client export my-data.json     (everything the server stores about me)
    kaari client homework today          (and assign, list, tick, undo, progress)
    kaari client documents list          (and share, open, request, requests, caseload)
    kaari client logout

Messages and files travel as Matrix Megolm room events (docs/matrix-device.md); the
device is a :class:`client.matrix.MatrixClient`. The profile directory (``--profile``,
``KAARI_CLIENT_HOME``, default ``~/.kaari-client``) holds the device's encrypted store
and its key (:mod:`client.cli_profile`).
"""

from __future__ import annotations

import argparse
import getpass
import mimetypes
import os
import socket
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from client import cli_documents, cli_homework, cli_verify
from client.api import ApiError
from client.cli_profile import (
    CliError,
    Profile,
    Session,
    open_session,
    print_signed_in,
    refuse_if_taken,
    start_device,
)
from client.documents import DocumentError
from client.homework import HomeworkError
from client.matrix import BackupMismatch, MatrixClient, MatrixError, MatrixHttp, SendFailed
from client.matrix.files import NotAFile, fetch_file, pointer_of, send_file
from client.matrix.invite_qr import InviteQrError
from client.matrix.setup import restore_history
from client.matrix.verify import VerificationFailed
from crypto.errors import CryptoError, StoreError
from crypto.matrix.errors import MatrixCryptoError

CHUNK = 64 * 1024
#: The longest single sync wait of ``read --wait`` (the server caps it at 30 s).
SYNC_WAIT_S = 25.0


def _room_id(session: Session, thread_id: str) -> str:
    server_name = str(session.config["matrixUserId"]).split(":", 1)[1]
    return f"!{thread_id}:{server_name}"


def _thread(session: Session, wanted: str) -> dict[str, Any]:
    threads = session.api.threads()
    matches = [t for t in threads if t["id"].startswith(wanted)]
    if len(matches) != 1:
        raise CliError(f"No single thread matches {wanted!r}; see `kaari client threads`")
    return matches[0]


def _names(session: Session, threads: list[dict[str, Any]]) -> dict[str, str]:
    """Display names by Kaari user id, for the members of my cases."""
    names: dict[str, str] = {}
    for case_id in {t["caseId"] for t in threads}:
        try:
            for member in session.api.get(f"/cases/{case_id}/members"):
                names[member["userId"]] = member["displayName"]
        except ApiError:
            continue
    return names


def _kaari_id(matrix_user_id: str) -> str:
    return matrix_user_id[1:].split(":", 1)[0]


def _show(message: dict[str, Any], me: str, names: dict[str, str], out: Any) -> None:
    if message["type"] != "m.room.message":
        return  # events of other kinds (homework, calls) are not chat lines
    when = datetime.fromtimestamp(int(message["origin_server_ts"] or 0) / 1000, UTC).astimezone()
    sender = str(message["sender"])
    who = "me" if sender == me else names.get(_kaari_id(sender), "someone")
    content = message["content"]
    if content.get("msgtype") == "m.file":
        try:
            pointer = pointer_of(content)
        except NotAFile:
            text = "[a file that cannot be opened]"
        else:
            name = pointer.file_name or pointer.media_type
            text = (
                f"[file {name}, {pointer.size} bytes; save with: save-file {message['event_id']}]"
            )
    else:
        text = str(content.get("body", ""))
    if not message.get("authenticated", True):
        text += "  (sender not verified)"
    print(f"{when:%Y-%m-%d %H:%M} {who}: {text}", file=out)


def _recipients(client: MatrixClient, room_id: str) -> int:
    """How many devices other than this one hold the room's key (can read what we sent)."""
    members, _ = client.http.joined_members(room_id)
    return sum(
        1
        for user in members
        for device in client.device.directory.user_devices(user)
        if (user, device.device_id) != (client.user_id, client.device_id)
    )


# commands


def cmd_login(args: argparse.Namespace, profile: Profile) -> int:
    refuse_if_taken(profile)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass()
    name = args.device or f"kaari-cli@{socket.gethostname()}"
    http = httpx.Client(base_url=args.server, timeout=40.0)
    try:
        login = MatrixHttp.login(http, args.email, password, name)
        me, recovery_key = start_device(profile, args.server, http, login)
    finally:
        http.close()
    print_signed_in(me, recovery_key)
    return 0


def cmd_threads(args: argparse.Namespace, profile: Profile) -> int:
    session = open_session(profile)
    for t in session.api.threads():
        who = "family: guardians and therapists" if t["kind"] == "family" else "with the child"
        print(f"{t['id']}  {t['childName'] or 'case'} — {who}")
    return 0


def cmd_send(args: argparse.Namespace, profile: Profile) -> int:
    session = open_session(profile)
    room_id = _room_id(session, _thread(session, args.thread)["id"])
    session.client.send_text(room_id, args.text)
    n = _recipients(session.client, room_id)
    print(f"Sent to {n} device{'' if n == 1 else 's'}.")
    return 0


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def cmd_send_file(args: argparse.Namespace, profile: Profile) -> int:
    session = open_session(profile)
    room_id = _room_id(session, _thread(session, args.thread)["id"])
    path = Path(args.path)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    send_file(session.client, session.api, room_id, _file_chunks(path), media_type, path.name)
    n = _recipients(session.client, room_id)
    print(f"Sent {path.name} to {n} device{'' if n == 1 else 's'}.")
    return 0


def cmd_read(args: argparse.Namespace, profile: Profile) -> int:
    session = open_session(profile)
    client = session.client
    client.sync()
    deadline = time.monotonic() + args.wait
    while (left := deadline - time.monotonic()) > 0:
        client.sync(int(min(left, SYNC_WAIT_S) * 1000))
    threads = session.api.threads()
    room_id = _room_id(session, _thread(session, args.thread)["id"]) if args.thread else None
    names = _names(session, threads)
    for message in client.messages(room_id):
        _show(message, client.user_id, names, sys.stdout)
    waiting = [p for p in client.undecryptable() if room_id is None or p["room_id"] == room_id]
    if waiting:
        print(
            f"{len(waiting)} earlier message{'' if len(waiting) == 1 else 's'} cannot be read "
            "on this device yet; `kaari client recover` with your recovery key opens them.",
            file=sys.stderr,
        )
    return 0


def cmd_save_file(args: argparse.Namespace, profile: Profile) -> int:
    session = open_session(profile)
    for message in session.client.messages():
        if message["event_id"] != args.message_id:
            continue
        pointer = pointer_of(message["content"])
        target = Path(args.path)
        partial = target.with_name(f".{target.name}.part")
        try:  # written aside and renamed once complete and verified
            with partial.open("wb") as handle:
                for chunk in fetch_file(session.api, pointer):
                    handle.write(chunk)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        print(f"Saved {pointer.size} bytes to {target}.")
        return 0
    raise CliError(f"No file in message {args.message_id!r}")


def cmd_recover(args: argparse.Namespace, profile: Profile) -> int:
    session = open_session(profile)
    raw = sys.stdin.readline() if args.key_stdin else getpass.getpass("Recovery key: ")
    recovery_key = raw.strip()
    session.client.sync()
    rooms = [_room_id(session, t["id"]) for t in session.api.threads()]
    count = restore_history(session.client, recovery_key, rooms)
    print(f"Restored: {count} earlier message{'' if count == 1 else 's'} can now be read.")
    return 0


def cmd_export(args: argparse.Namespace, profile: Profile) -> int:
    """Everything the server stores about me, as JSON (GET /me/export), written aside and
    renamed when complete."""
    session = open_session(profile)
    response = session.api.request("GET", "/me/export")
    target = Path(args.path)
    partial = target.with_name(f".{target.name}.part")
    try:
        partial.write_bytes(response.content)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    print(f"Saved {len(response.content)} bytes to {target}.")
    return 0


def cmd_logout(args: argparse.Namespace, profile: Profile) -> int:
    session = open_session(profile)
    try:
        session.client.backup_keys()  # what this device alone holds stays readable elsewhere
        session.client.http.logout()
    except MatrixError as exc:
        if exc.status != 401:  # already signed out (revoked): still clear this device
            raise
    session.close()
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
    recover = sub.add_parser("recover", help="read earlier messages here: the recovery key")
    recover.add_argument("--key-stdin", action="store_true", help="read the key from stdin")
    recover.set_defaults(func=cmd_recover)
    export = sub.add_parser("export", help="save everything the server stores about me (JSON)")
    export.add_argument("path")
    export.set_defaults(func=cmd_export)
    sub.add_parser("logout", help="sign out and delete this profile").set_defaults(func=cmd_logout)
    cli_homework.add_parser(sub)
    cli_documents.add_parser(sub)
    cli_verify.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    profile = Profile(Path(args.profile))
    try:
        profile.lock()
        return int(args.func(args, profile))
    except (ApiError, MatrixError) as exc:
        if exc.status == 401 and args.func is not cmd_login:
            print("kaari client: this device was signed out; log in again", file=sys.stderr)
            return 1
        print(f"kaari client: {_detail(exc)} ({exc.code})", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"kaari client: cannot reach the server ({type(exc).__name__})", file=sys.stderr)
        return 1
    except BackupMismatch:
        print("kaari client: that recovery key does not open your key backup", file=sys.stderr)
        return 1
    except (
        SendFailed,
        StoreError,
        CryptoError,
        MatrixCryptoError,
        HomeworkError,
        DocumentError,
        NotAFile,
        VerificationFailed,
        InviteQrError,
    ) as exc:
        print(f"kaari client: {exc}", file=sys.stderr)
        return 1
    except (CliError, OSError) as exc:
        print(f"kaari client: {exc}", file=sys.stderr)
        return 1


def _detail(exc: ApiError | MatrixError) -> str:
    if isinstance(exc, ApiError):
        return exc.detail
    return str(exc.body.get("detail") or exc.body.get("error") or exc)
