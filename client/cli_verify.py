"""`kaari client invite|join|verify …`: the first home visit and remote verification.

    kaari client invite --case Eino                  the therapist: the invite as QR text
    kaari client join --server URL --qr 'kaari:invite?…' --email … --display-name …
                                                     a new parent: join and verify the therapist
    kaari client verify qr 'kaari:invite?…'          a signed-in user: join the QR's case, verify
    kaari client verify sas --user @…:server --device DEVICE      start SAS (emoji)
    kaari client verify sas --incoming               answer the SAS request that comes

The QR text is what the therapist's app shows as a QR code (client/matrix/invite_qr.py):
the invite and the therapist's master cross-signing key, seen in person. Joining with it
is refused if the server's key is another (409 ``inviter_key_mismatch``); after joining the
device compares the key again and signs it (client/matrix/verify.py). SAS compares seven
emoji on both screens (client/matrix/sas.py).
"""

from __future__ import annotations

import argparse
import getpass
import socket
import sys
import time
from typing import Any

import httpx

from client.cli_profile import (
    CliError,
    Profile,
    open_session,
    print_signed_in,
    refuse_if_taken,
    start_device,
)
from client.matrix import MatrixError
from client.matrix.invite_qr import InviteQr
from client.matrix.sas import SasVerifier
from client.matrix.verify import (
    accept_invite_from_qr,
    redeem_invite_from_qr,
    verify_from_qr,
)

#: Redeem refusals after which the QR still verifies its inviter (the key was seen in person).
SPENT = frozenset({"already_member", "invite_used", "invite_expired"})
#: How long `verify sas` waits for the other side (each step).
SAS_WAIT_S = 120.0


def _case_id(cases: list[dict[str, Any]], wanted: str | None) -> str:
    if wanted is None and len(cases) == 1:
        return str(cases[0]["id"])
    key = (wanted or "").casefold()
    matches = [
        c for c in cases if c["id"].startswith(key) or (c["childName"] or "").casefold() == key
    ]
    if not key or len(matches) != 1:
        raise CliError(f"No single case matches {wanted!r}; name it with --case")
    return str(matches[0]["id"])


def _said_verified(name: str, devices: list[str]) -> None:
    n = len(devices)
    print(f"{name} is verified ({n} device{'' if n == 1 else 's'} of theirs trusted).")


def cmd_invite(args: argparse.Namespace, profile: Profile) -> int:
    session = open_session(profile)
    case_id = _case_id(session.api.get("/cases"), args.case)
    answer = session.api.post(f"/cases/{case_id}/invites", {"role": args.role})
    if answer.get("inviterMasterKey") is None:
        raise CliError("Your account has no cross-signing keys yet: sign in again on this device")
    print("Show this as a QR code to the family (it is valid until", answer["expiresAt"] + "):")
    print(InviteQr.from_invite(answer).encode())
    return 0


def cmd_join(args: argparse.Namespace, profile: Profile) -> int:
    refuse_if_taken(profile)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass()
    name = args.device or f"kaari-cli@{socket.gethostname()}"
    http = httpx.Client(base_url=args.server, timeout=40.0)
    try:
        login = accept_invite_from_qr(
            http,
            args.qr,
            email=args.email,
            password=password,
            display_name=args.display_name,
            device_name=name,
        )
        me, recovery_key = start_device(profile, args.server, http, login)
    finally:
        http.close()
    print_signed_in(me, recovery_key)
    session = open_session(profile)
    result = verify_from_qr(session.client, args.qr)
    _said_verified("Your therapist", result.verified_devices)
    return 0


def cmd_verify_qr(args: argparse.Namespace, profile: Profile) -> int:
    session = open_session(profile)
    try:
        redeem_invite_from_qr(session.client, args.qr)
        print("Joined the case.")
    except MatrixError as exc:
        if exc.code not in SPENT:
            raise
        print("The invite was used already: verifying only.")
    result = verify_from_qr(session.client, args.qr)
    _said_verified("They", result.verified_devices)
    return 0


def _wait(sas: SasVerifier, txn: str, states: set[str]) -> str:
    deadline = time.monotonic() + SAS_WAIT_S
    while (state := sas.state(txn)) not in states | {"cancelled"}:
        if time.monotonic() > deadline:
            sas.cancel(txn, "m.timeout", "timed out")
            raise CliError("The other side did not answer in time")
        sas.sync(timeout_ms=2000)
    if state == "cancelled":
        raise CliError(f"Verification cancelled ({sas.cancelled.get(txn, 'by the other side')})")
    return state


def cmd_verify_sas(args: argparse.Namespace, profile: Profile) -> int:
    session = open_session(profile)
    sas = SasVerifier(session.client)
    if args.incoming:
        deadline = time.monotonic() + SAS_WAIT_S
        while not sas.incoming:
            if time.monotonic() > deadline:
                raise CliError("No verification request came")
            sas.sync(timeout_ms=2000)
        txn = sas.incoming[0]
        sas.accept(txn)
    else:
        if not (args.user and args.device):
            raise CliError("Name the other device with --user and --device, or use --incoming")
        txn = sas.request(args.user, args.device)
    _wait(sas, txn, {"shown", "done"})
    print("Compare these emoji with the other screen:")
    print("  " + "  ".join(f"{symbol} {name}" for symbol, name in sas.emoji(txn)))
    print("Do they match? [y/N] ", end="", flush=True)
    if sys.stdin.readline().strip().casefold() not in ("y", "yes", "k", "kyllä"):
        sas.cancel(txn, "m.mismatched_sas", "the emoji did not match")
        raise CliError("Not verified: the emoji did not match")
    sas.confirm(txn)
    _wait(sas, txn, {"done"})
    print("Verified.")
    return 0


def add_parser(sub: Any) -> None:
    invite = sub.add_parser("invite", help="a case invite with your key, as QR text")
    invite.add_argument("--case", default=None, help="the child's name or the case id")
    invite.add_argument("--role", default="guardian", choices=["guardian", "caregiver"])
    invite.set_defaults(func=cmd_invite)
    join = sub.add_parser("join", help="accept an invite from its QR and verify the therapist")
    join.add_argument("--server", required=True)
    join.add_argument("--qr", required=True, help="the QR code's text (kaari:invite?…)")
    join.add_argument("--email", required=True)
    join.add_argument("--display-name", required=True)
    join.add_argument("--device", default=None, help="a name for this device")
    join.add_argument("--password-stdin", action="store_true")
    join.set_defaults(func=cmd_join)
    verify = sub.add_parser("verify", help="verify a therapist (QR) or anyone (SAS emoji)")
    how = verify.add_subparsers(dest="how", required=True)
    qr = how.add_parser("qr", help="join the QR's case if needed and verify its inviter")
    qr.add_argument("qr")
    qr.set_defaults(func=cmd_verify_qr)
    sas = how.add_parser("sas", help="compare emoji with another device")
    sas.add_argument("--user", default=None, help="the other user's id (@…:server)")
    sas.add_argument("--device", default=None, help="the other device's id")
    sas.add_argument("--incoming", action="store_true", help="answer a request instead")
    sas.set_defaults(func=cmd_verify_sas)
