"""The layout of DESIGN.md section 3, held for every package.

Each rule reads the import statements of the source tree (no code runs): what a newcomer
can trust about where things are and which way dependencies point.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "signaling", "crypto", "client")
DOMAINS = (
    "accounts",
    "cases",
    "keys",
    "messaging",
    "appointments",
    "homework",
    "documents",
    "notifications",
    "realtime",
    "audit",
    "privacy",
    "observability",
)
"""app's domain packages; ``app/core`` and ``app/storage`` lie beneath them all"""
MAX_LINES = 600


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    module: str
    """the imported module, resolved: ``from app.cases import store`` is ``app.cases.store``"""

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.module}"


def sources(*tops: str) -> Iterator[Path]:
    for top in tops:
        yield from sorted((ROOT / top).rglob("*.py"))


def imports_of(path: Path) -> Iterator[Import]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield Import(path, node.lineno, node.module)
            for alias in node.names:
                yield Import(path, node.lineno, f"{node.module}.{alias.name}")


def top(module: str) -> str:
    return module.split(".")[0]


def domain_of(module_or_path: str | Path) -> str | None:
    """The app domain a module (``app.cases.service``) or a file belongs to."""
    if isinstance(module_or_path, Path):
        parts = module_or_path.relative_to(ROOT).with_suffix("").parts
    else:
        parts = tuple(module_or_path.split("."))
    if len(parts) >= 2 and parts[0] == "app" and parts[1] in DOMAINS:
        return parts[1]
    return None


def offenders(tops: tuple[str, ...], forbidden: set[str]) -> list[str]:
    return [
        i.where() for path in sources(*tops) for i in imports_of(path) if top(i.module) in forbidden
    ]


def test_crypto_imports_nothing_of_the_project() -> None:
    assert offenders(("crypto",), {"app", "signaling", "client", "kaari_entry"}) == []


def test_client_never_imports_the_server() -> None:
    assert offenders(("client",), {"app", "signaling"}) == []


def test_the_server_never_imports_the_client() -> None:
    assert offenders(("app", "signaling"), {"client"}) == []


def test_signaling_imports_app_only_through_its_ports() -> None:
    found = [
        i.where()
        for path in sources("signaling")
        if path.name != "ports.py"
        for i in imports_of(path)
        if top(i.module) == "app"
    ]
    assert found == []


def test_core_imports_no_domain_and_nothing_above_it() -> None:
    found = [
        i.where()
        for path in sources("app/core")
        for i in imports_of(path)
        if top(i.module) == "app" and not i.module.startswith("app.core")
    ]
    assert found == []


def test_no_domain_imports_another_domains_store() -> None:
    found = []
    for path in sources("app"):
        mine = domain_of(path)
        for i in imports_of(path):
            theirs = domain_of(i.module)
            parts = i.module.split(".")
            if theirs and theirs != mine and len(parts) >= 3 and parts[2] == "store":
                found.append(i.where())
    assert found == []


def test_domains_depend_one_way() -> None:
    """No two domains import each other, directly or round a longer loop."""
    edges: dict[str, set[str]] = {d: set() for d in DOMAINS}
    for path in sources("app"):
        mine = domain_of(path)
        if mine is None:
            continue
        for i in imports_of(path):
            theirs = domain_of(i.module)
            if theirs and theirs != mine:
                edges[mine].add(theirs)

    def loop_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for nxt in sorted(edges[node]):
                if nxt == start:
                    return [*trail, start]
                if nxt not in trail:
                    stack.append((nxt, [*trail, nxt]))
        return None

    loops = {" -> ".join(loop) for d in DOMAINS if (loop := loop_from(d))}
    assert loops == set()


def test_domains_build_no_services_of_their_own() -> None:
    """Services are built once, in the composition root (app/services.py): a domain
    module that constructs another domain's service would fork its collaborators."""
    services = {
        "AccountService",
        "OrgService",
        "InviteService",
        "PairingService",
        "CaseService",
        "AccessLog",
        "Caseload",
        "Recovery",
        "Handover",
        "KeyService",
        "KeyDirectory",
        "CrossSigning",
        "KeyBackup",
        "RoomService",
        "ToDeviceService",
        "SyncService",
        "MessagingService",
        "AttachmentService",
        "AppointmentService",
        "CancellationService",
        "Notifications",
        "CalendarService",
        "HomeworkService",
        "HomeworkNudges",
        "DocumentService",
        "DocumentRequests",
        "DocumentReminders",
        "DocumentRetention",
        "Reminders",
        "Outbox",
        "PushGuard",
        "Expiry",
        "OutboxRetention",
        "HomeworkRetention",
        "AuditRetention",
        "BlobSweep",
    }
    found = []
    for path in sources("app", "signaling"):
        if path.relative_to(ROOT).as_posix() == "app/services.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in services
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.func.id}(…)")
    assert found == []


@pytest.mark.parametrize("package", [*PACKAGES, "tests", "bench"])
def test_no_module_is_over_600_lines(package: str) -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in sources(package)
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


SERVER = ("app", "signaling")
"""the packages that run on the server's one clock (``client/`` and ``crypto/`` run on a
device, whose clock is its own)"""
CLOCK_MODULE = "app/core/time.py"
"""defines the clock and is the one module that reads the system time"""
CLOCK_CHOOSERS = {"app/services.py": "the composition root picks the system clock"}
"""modules that may name ``utcnow`` (the system clock) without calling it"""
READS_THE_TIME: dict[str, str] = {}
"""modules that truly must read the system time themselves, with the reason"""


def time_reads(path: Path) -> Iterator[str]:
    """Where a module reads the wall clock itself: ``utcnow()``, ``datetime.now()``,
    ``datetime.utcnow()``, ``date.today()``, ``time.time()`` (monotonic timers are durations
    and fine), and any import of ``utcnow``."""
    tree = ast.parse(path.read_text(), str(path))
    time_modules = {"time"}  # the names the time module is bound to (``import time as t``)
    time_functions: set[str] = set()  # ``from time import time``
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            time_modules |= {a.asname or a.name for a in node.names if a.name == "time"}
        elif isinstance(node, ast.ImportFrom) and node.module == "time":
            time_functions |= {
                a.asname or a.name for a in node.names if a.name in ("time", "time_ns")
            }
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(a.name == "utcnow" for a in node.names):
            yield f"{node.lineno}: imports utcnow"
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in {"utcnow", *time_functions}:
            yield f"{node.lineno}: {func.id}()"
        elif isinstance(func, ast.Attribute):
            owner = func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if (
                (name in ("datetime", "date") and func.attr in ("now", "utcnow", "today"))
                or (name in time_modules and func.attr in ("time", "time_ns"))
                or func.attr == "utcnow"
            ):
                yield f"{node.lineno}: {name}.{func.attr}()"


def test_the_server_reads_the_time_only_through_its_clock() -> None:
    """Every rule reads now from the ``Clock`` handed in at construction (so a test or
    ``KAARI_TEST_CLOCK_START`` sets it for all of them): only app/core/time.py reads the
    system time, only the composition root names the system clock."""
    found = []
    for path in sources(*SERVER):
        name = path.relative_to(ROOT).as_posix()
        if name == CLOCK_MODULE or name in READS_THE_TIME:
            continue
        found += [
            f"{name}:{hit}"
            for hit in time_reads(path)
            if not (name in CLOCK_CHOOSERS and hit.endswith("imports utcnow"))
        ]
    assert found == []


def test_one_camel_wire_base() -> None:
    """The camelCase body base is ``app.core.wire.Camel``: no module of app/ declares
    another (a class named ``Camel``, or a Struct with exactly its configuration)."""
    camel = {"rename": "camel", "kw_only": True, "forbid_unknown_fields": True}
    found = []
    for path in sources("app"):
        name = path.relative_to(ROOT).as_posix()
        if name == "app/core/wire.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ClassDef):
                continue
            config = {
                k.arg: k.value.value for k in node.keywords if isinstance(k.value, ast.Constant)
            }
            direct = any(ast.unparse(b) in ("msgspec.Struct", "Struct") for b in node.bases)
            if node.name == "Camel" or (direct and config == camel):
                found.append(f"{name}:{node.lineno}: {node.name}")
    assert found == []


def test_one_conftest_for_the_whole_suite() -> None:
    """Tests import the shared fixtures with ``from conftest import World``: a second
    conftest.py (under tests/scenarios, say) takes the module name ``conftest`` for its
    directory's tests and every such import elsewhere fails on the same run. Fixtures of
    one part go in a plugin module listed in the root conftest's ``pytest_plugins``."""
    found = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("conftest.py"))
    assert found == ["tests/conftest.py"], found
