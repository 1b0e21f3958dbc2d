"""`kaari client documents …`: therapy documents from a terminal.

    kaari client documents list [--case Eino] [--all]
    kaari client documents share --kind therapy_plan --title "Therapy plan" plan.pdf
    kaari client documents open <document> plan.pdf
    kaari client documents request --kind therapy_statement --needed-by 2027-03-12 \\
        [--period <period id>] [--note "for the doctor's visit"]
    kaari client documents requests [--case Eino]
    kaari client documents caseload          (a therapist: what families wait for)

A document or case is named by the first characters of its id (a case also by the
child's name); with one case, ``--case`` can be left out. The file and its title are
encrypted on this device (:mod:`client.documents`); the server sees the kind, size and
times only. ``open`` writes the file exactly as it was shared.
"""

from __future__ import annotations

import argparse
import mimetypes
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from client.cli_profile import CliError, Profile, open_session
from client.documents import KINDS, Document, Documents

CHUNK = 65_536


def _open(profile: Profile) -> Documents:
    session = open_session(profile)
    return Documents(session.client, session.api)


def _case(documents: Documents, wanted: str | None) -> dict[str, Any]:
    cases: list[dict[str, Any]] = documents.api.get("/cases")
    if wanted is None:
        if len(cases) == 1:
            return cases[0]
        raise CliError("Name the case with --case (the child's name or the case id)")
    key = wanted.casefold()
    matches = [
        c for c in cases if c["id"].startswith(key) or (c["childName"] or "").casefold() == key
    ]
    if len(matches) != 1:
        raise CliError(f"No single case matches {wanted!r}")
    return matches[0]


def _document(documents: Documents, wanted: str) -> Document:
    """A version (or a document's current version) whose id starts with ``wanted``."""
    key = wanted.lower()
    matches: dict[str, Document] = {}
    for case in documents.api.get("/cases"):
        if case["myRole"] == "child":
            continue
        for d in documents.documents(case["id"], all_versions=True):
            if d.id.startswith(key) or (d.document_id.startswith(key) and not d.superseded):
                matches[d.id] = d
    if len(matches) != 1:
        raise CliError(f"No single document matches {wanted!r}; see `kaari client documents list`")
    return next(iter(matches.values()))


def _title(d: Document) -> str:
    return d.title if d.readable else f"[cannot read this document: {d.problem}]"


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def cmd_list(args: argparse.Namespace, profile: Profile) -> int:
    documents = _open(profile)
    case = _case(documents, args.case)
    shown = documents.documents(case["id"], all_versions=args.all)
    for d in shown:
        flags = [f"v{d.version}", d.kind.replace("_", " ")]
        if d.superseded:
            flags.append("superseded")
        if d.given_to_doctor:
            flags.append("also given to the doctor")
        print(f"{d.id[:8]}  {_title(d)} ({', '.join(flags)}), shared {d.shared_at[:10]}")
        if d.opened_by:
            print(f"          opened by {', '.join(d.opened_by)}")
    if not shown:
        print("No documents.")
    return 0


def cmd_share(args: argparse.Namespace, profile: Profile) -> int:
    documents = _open(profile)
    case = _case(documents, args.case)
    path = Path(args.path)
    if not path.is_file():
        raise CliError(f"No such file: {path}")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    supersedes = _document(documents, args.supersedes).document_id if args.supersedes else None
    row = documents.share(
        case["id"],
        args.kind,
        args.title,
        _chunks(path),
        file_name=path.name,
        media_type=media_type,
        period_id=args.period,
        supersedes=supersedes,
        fulfils_request_id=args.fulfils,
    )
    print(f"Shared {args.title!r} ({row['id'][:8]}, version {row['version']}).")
    return 0


def cmd_open(args: argparse.Namespace, profile: Profile) -> int:
    documents = _open(profile)
    found = _document(documents, args.document)
    doc, chunks = documents.open(found.id)
    out = Path(args.path)
    part = out.with_name(out.name + ".part")
    with part.open("wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
    part.replace(out)
    print(f"Saved {_title(doc)!r} ({doc.file_name or 'file'}) to {out}.")
    return 0


def cmd_request(args: argparse.Namespace, profile: Profile) -> int:
    documents = _open(profile)
    case = _case(documents, args.case)
    row = documents.request(
        case["id"], args.kind, args.needed_by, period_id=args.period, note=args.note
    )
    print(f"Asked for the {args.kind.replace('_', ' ')} by {row['neededBy']} ({row['id'][:8]}).")
    return 0


def cmd_requests(args: argparse.Namespace, profile: Profile) -> int:
    documents = _open(profile)
    case = _case(documents, args.case)
    rows = documents.requests(case["id"], args.status)
    for r in rows:
        print(f"{r['id'][:8]}  {r['kind'].replace('_', ' ')} by {r['neededBy']}: {r['status']}")
    if not rows:
        print("No requests.")
    return 0


def cmd_caseload(args: argparse.Namespace, profile: Profile) -> int:
    view = _open(profile).caseload()
    print(f"Asked for, due first ({view['today']}):")
    for r in view["openRequests"]:
        print(f"  {r['id'][:8]}  {r['kind'].replace('_', ' ')} by {r['neededBy']}")
    if not view["openRequests"]:
        print("  nothing")
    print("Periods ending within 60 days without a therapy statement:")
    for p in view["periodsWithoutStatement"]:
        asked = " (the family asked for it)" if p["openRequestId"] else ""
        print(f"  {p['childName'] or p['caseId'][:8]}: ends {p['endsOn']}{asked}")
    if not view["periodsWithoutStatement"]:
        print("  none")
    return 0


def add_parser(sub: Any) -> None:
    """Register ``documents`` and its commands on the ``kaari client`` parser."""
    docs = sub.add_parser("documents", help="therapy plans and statements: share, open, ask")
    cmds = docs.add_subparsers(dest="documents_command", required=True)
    listing = cmds.add_parser("list", help="a case's documents")
    listing.add_argument("--case", default=None, help="the child's name or the case id")
    listing.add_argument("--all", action="store_true", help="every version, not just the last")
    listing.set_defaults(func=cmd_list)
    share = cmds.add_parser("share", help="share a file, encrypted")
    share.add_argument("path")
    share.add_argument("--case", default=None)
    share.add_argument("--kind", choices=KINDS, required=True)
    share.add_argument("--title", required=True)
    share.add_argument("--period", default=None, help="the therapy period's id")
    share.add_argument("--supersedes", default=None, help="a document this is a new version of")
    share.add_argument("--fulfils", default=None, help="the request id it answers")
    share.set_defaults(func=cmd_share)
    opener = cmds.add_parser("open", help="download and decrypt a document")
    opener.add_argument("document", help="document id (or its first characters)")
    opener.add_argument("path")
    opener.set_defaults(func=cmd_open)
    request = cmds.add_parser("request", help="ask the therapist for a document (guardian)")
    request.add_argument("--case", default=None)
    request.add_argument("--kind", choices=KINDS, default="therapy_statement")
    request.add_argument("--needed-by", type=date.fromisoformat, required=True)
    request.add_argument("--period", default=None, help="the therapy period's id")
    request.add_argument("--note", default="", help="sent encrypted")
    request.set_defaults(func=cmd_request)
    requests = cmds.add_parser("requests", help="a case's requests")
    requests.add_argument("--case", default=None)
    requests.add_argument("--status", choices=["open", "fulfilled", "withdrawn"], default=None)
    requests.set_defaults(func=cmd_requests)
    cmds.add_parser("caseload", help="what families wait for (therapist)").set_defaults(
        func=cmd_caseload
    )
