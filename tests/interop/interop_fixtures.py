"""Fixtures of the interoperability tests: the Node driver of matrix-sdk-crypto-wasm
(a pytest plugin named in tests/conftest.py).

Without node, npm or the installed package the tests skip with a one-line reason, except
under CI=true, where a missing one fails (as tests/support.py's service_missing does).
``scripts/test.sh`` installs the package with ``npm ci`` when the lock file changed.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest
from interop_homeserver import Homeserver
from interop_peers import NODE_DIR, WASM_VERSION, NodeDriver
from support import IN_CI


def _missing(reason: str) -> None:
    message = f"matrix-sdk-crypto interop: {reason}"
    if IN_CI:
        pytest.fail(f"{message}: CI=true requires it", pytrace=False)
    pytest.skip(message)


def _wasm_version() -> str | None:
    manifest = NODE_DIR / "node_modules" / "@matrix-org" / "matrix-sdk-crypto-wasm" / "package.json"
    try:
        return str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


@pytest.fixture(scope="session")
def node_driver() -> Iterator[NodeDriver]:
    node = shutil.which("node")
    if node is None:
        _missing("node is not installed")
    if shutil.which("npm") is None:
        _missing("npm is not installed")
    version = _wasm_version()
    if version is None:
        _missing("the npm package is not installed (scripts/test.sh runs npm ci for it)")
    if version != WASM_VERSION:
        _missing(f"matrix-sdk-crypto-wasm {version} is installed, the tests pin {WASM_VERSION}")
    assert node is not None
    driver = NodeDriver(node)
    yield driver
    driver.close()


@pytest.fixture
def hs() -> Homeserver:
    return Homeserver()
