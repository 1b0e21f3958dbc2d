"""The `kaari` command: serve, migrate, admin."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from uuid import UUID

from app.config import ConfigError, Settings
from app.logs import configure_logging

log = logging.getLogger("kaari.cli")


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(host=getattr(args, "host", None), port=getattr(args, "port", None))


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.demo import demo_instructions, seed_demo
    from app.main import create_app
    from app.services import running_services
    from app.storage.migrate import upgrade

    settings = _settings(args)
    if args.demo and settings.is_production:
        raise ConfigError("--demo is for development; it is refused when KAARI_ENV=production")
    configure_logging(settings.log_level)
    asyncio.run(upgrade(settings.effective_database_url))
    if args.demo:

        async def seed() -> None:
            async with running_services(settings) as (runtime, services):
                info = await seed_demo(runtime, services)
            log.info("demo seeded" if info.created else "demo already present")

        asyncio.run(seed())
        print(demo_instructions(f"http://{settings.host}:{settings.port}"), flush=True)
    log.info("starting", extra={"host": settings.host, "port": settings.port})
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        # uvicorn refuses (and closes with 1009) any frame over the gateway's own limit,
        # before reading it into memory; the gateway counts it as a strike
        ws_max_size=settings.ws_max_frame_bytes,
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from app.storage.migrate import current_revision, upgrade

    settings = _settings(args)
    configure_logging(settings.log_level)
    url = settings.effective_database_url
    asyncio.run(upgrade(url))
    print(f"database at revision {asyncio.run(current_revision(url))}")
    return 0


def cmd_create_org(args: argparse.Namespace) -> int:
    from app.services import running_services
    from app.storage.migrate import upgrade

    settings = _settings(args)
    configure_logging(settings.log_level)
    languages = [x.strip() for x in args.languages.split(",") if x.strip()]
    import msgspec

    from app.core.wire import OrgName

    try:
        msgspec.convert(args.name.strip(), OrgName)
    except msgspec.ValidationError:
        raise ConfigError(
            "--name must be 1 to 200 printable characters (no control, bidi or invisible ones)"
        ) from None
    if not languages or any(x not in ("fi", "sv", "en") for x in languages):
        raise ConfigError("--languages takes a comma list of fi, sv, en")

    async def run() -> UUID:
        await upgrade(settings.effective_database_url)
        async with running_services(settings) as (_, services):
            return await services.orgs.create_org(args.name.strip(), languages)

    print(asyncio.run(run()))
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    import msgspec

    from app.accounts.schemas import Email, Password
    from app.core.errors import KaariError
    from app.core.wire import DisplayName
    from app.services import running_services
    from app.storage.migrate import upgrade

    settings = _settings(args)
    configure_logging(settings.log_level)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password for the new user: ")
    try:
        msgspec.convert(args.email, Email)
        msgspec.convert(args.display_name, DisplayName)
        msgspec.convert(password, Password)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid user: {exc} (passwords need 10 to 256 characters)") from None

    async def run() -> UUID:
        await upgrade(settings.effective_database_url)
        async with running_services(settings) as (runtime, services):
            return await services.orgs.create_user(
                runtime.passwords,
                org_id=args.org,
                email=args.email,
                role=args.role,
                display_name=args.display_name,
                password=password,
                locale=args.locale,
            )

    try:
        print(asyncio.run(run()))
    except KaariError as exc:
        raise ConfigError(f"{exc.code}: {exc.detail}") from None
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from app.services import running_services

    settings = _settings(args)

    async def run() -> str:
        async with running_services(settings) as (_, services):
            purged = await services.expiry.run_once()
            outbox = await services.outbox_retention.run_once()
            homework = await services.homework_retention.run_once()
            docs = await services.document_retention.run_once()
            audit = await services.audit_retention.run_once()
            swept = await services.blob_sweep.run_once()
        return (
            f"purged {purged.rows} room events and to-device messages, "
            f"{purged.attachments} attachments\n"
            f"retention: {outbox} delivered notices, {homework.tasks} homework tasks and "
            f"{homework.ticks} ticks of closed cases, {docs.versions} expired documents, "
            f"{audit} audit events, "
            f"{swept.orphans} orphan blobs, {swept.parts} unfinished uploads"
        )

    print(asyncio.run(run()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kaari", description="Kaari server")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate the database and run the server")
    serve.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8000)")
    serve.add_argument("--demo", action="store_true", help="seed a demo organisation first")
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(func=cmd_migrate)

    admin = sub.add_parser("admin", help="administration").add_subparsers(
        dest="admin_command", required=True
    )
    org = admin.add_parser("create-org", help="create an organisation; prints its id")
    org.add_argument("--name", required=True)
    org.add_argument("--languages", default="fi,sv,en")
    org.set_defaults(func=cmd_create_org)

    user = admin.add_parser("create-user", help="create a user (the first admin); prints its id")
    user.add_argument("--org", required=True, type=UUID, help="organisation id")
    user.add_argument("--email", required=True)
    user.add_argument("--display-name", required=True)
    user.add_argument("--role", choices=["admin", "therapist"], default="admin")
    user.add_argument("--locale", choices=["fi", "sv", "en"], default="fi")
    user.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    user.set_defaults(func=cmd_create_user)

    purge = sub.add_parser(
        "purge", help="delete expired messages and attachments and run the retention jobs now"
    )
    purge.set_defaults(func=cmd_purge)

    client = sub.add_parser(
        "client",
        help="a device in the terminal: login, threads, send, read (kaari client --help)",
        add_help=False,
    )
    client.add_argument("rest", nargs=argparse.REMAINDER)
    client.set_defaults(func=cmd_client_elsewhere)
    return parser


def cmd_client_elsewhere(args: argparse.Namespace) -> int:
    """Listed for ``kaari --help``; the console script (kaari_entry.py) routes ``client``
    to the reference client before this parser sees it."""
    raise ConfigError("the reference client runs as `kaari client …` (or python -m kaari_entry)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"kaari: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
