"""The web app's files at /app/ (app/webapp.py) over HTTP: types, caching, the page
policy, client routes, gzip copies, names outside the build, and a missing build."""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_SECRET
from litestar.testing import TestClient

from app.config import Settings
from app.main import create_app

INDEX = b"<!doctype html><title>Kaari</title><div id=root></div>"
WASM = b"\x00asm\x01\x00\x00\x00" + bytes(range(256)) * 64


def build(dist: Path) -> None:
    """What `npm run build` leaves in web/dist, in miniature."""
    (dist / "assets").mkdir(parents=True)
    (dist / "icons").mkdir()
    (dist / "index.html").write_bytes(INDEX)
    (dist / "sw.js").write_text("self.addEventListener('fetch', () => {});")
    (dist / "manifest.webmanifest").write_text('{"name": "Kaari"}')
    (dist / "icons" / "icon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (dist / "assets" / "index-3f2a9c1e.js").write_text("console.log('kaari')")
    (dist / "assets" / "index-77aa01bc.css").write_text("body{margin:0}")
    (dist / "assets" / "crypto_bg-0c1d2e3f.wasm").write_bytes(WASM)
    (dist / "assets" / "crypto_bg-0c1d2e3f.wasm.gz").write_bytes(gzip.compress(WASM))
    (dist / ".kaari-build-stamp").write_text("abc")


def app_client(sqlite_template: Path, tmp_path: Path, dist: Path) -> TestClient[Any]:
    db = tmp_path / "kaari.sqlite3"
    shutil.copy(sqlite_template, db)
    settings = Settings(
        database_url=f"sqlite:///{db}",
        data_dir=str(tmp_path),
        secret_key=TEST_SECRET,
        web_dir=str(dist),
    ).check()
    return TestClient(create_app(settings))


@pytest.fixture
def client(sqlite_template: Path, tmp_path: Path) -> Iterator[TestClient[Any]]:
    build(tmp_path / "dist")
    (tmp_path / "secret.txt").write_text("outside the build")
    with app_client(sqlite_template, tmp_path, tmp_path / "dist") as c:
        yield c


def test_files_have_their_types_and_hashed_assets_are_immutable(
    client: TestClient[Any],
) -> None:
    cases = {
        "/app/assets/index-3f2a9c1e.js": "text/javascript",
        "/app/assets/index-77aa01bc.css": "text/css",
        "/app/assets/crypto_bg-0c1d2e3f.wasm": "application/wasm",
        "/app/manifest.webmanifest": "application/manifest+json",
        "/app/icons/icon.svg": "image/svg+xml",
        "/app/sw.js": "text/javascript",
    }
    for path, media_type in cases.items():
        r = client.get(path, headers={"accept-encoding": "identity"})
        assert r.status_code == 200, path
        assert r.headers["content-type"].split(";")[0] == media_type, path
        immutable = path.startswith("/app/assets/")
        want = "public, max-age=31536000, immutable" if immutable else "no-cache"
        assert r.headers["cache-control"] == want, path
        assert r.headers["x-content-type-options"] == "nosniff"
    r = client.get("/app/assets/crypto_bg-0c1d2e3f.wasm", headers={"accept-encoding": "identity"})
    assert r.content == WASM
    assert "content-encoding" not in r.headers


def test_the_page_policy_lets_the_worker_compile_wasm_and_nothing_else_in(
    client: TestClient[Any],
) -> None:
    csp = client.get("/app/").headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
    assert directives["script-src"] == ["'self'", "'wasm-unsafe-eval'"]
    assert directives["default-src"] == ["'self'"]
    assert directives["worker-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    # decrypted pictures and videos are blob: URLs of the page
    assert directives["img-src"] == ["'self'", "data:", "blob:"]
    assert directives["media-src"] == ["'self'", "blob:"]
    assert "'unsafe-inline'" not in csp
    assert "'unsafe-eval'" not in csp
    # the API's answers keep their own, stricter policy
    assert client.get("/health").headers["content-security-policy"].startswith("default-src 'none'")


def test_client_routes_get_index_html_and_missing_files_404(client: TestClient[Any]) -> None:
    for path in ("/app", "/app/", "/app/signin", "/app/cases/0b7c/family"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.content == INDEX, path
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["cache-control"] == "no-cache"
    r = client.get("/app/assets/index-00000000.js")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "not_found"


def test_names_outside_the_build_or_hidden_are_refused(client: TestClient[Any]) -> None:
    for path in (
        "/app/../secret.txt",
        "/app/%2e%2e/secret.txt",
        "/app/assets/%2e%2e/%2e%2e/secret.txt",
        "/app/.kaari-build-stamp",
        "/app/assets/crypto_bg-0c1d2e3f.wasm.gz",
    ):
        r = client.get(path)
        assert r.status_code == 404, path
        assert b"outside the build" not in r.content, path
        assert r.content != b"abc", path
        assert r.content != gzip.compress(WASM), path


def test_gzip_copies_go_to_browsers_that_accept_gzip(client: TestClient[Any]) -> None:
    r = client.get(
        "/app/assets/crypto_bg-0c1d2e3f.wasm", headers={"accept-encoding": "gzip, deflate, br"}
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/wasm"
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.content == WASM  # the client undid the encoding
    assert int(r.headers["content-length"]) == len(gzip.compress(WASM))
    # a file without a copy goes out as it is
    r = client.get("/app/sw.js", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in r.headers


def test_the_app_is_public_and_the_api_is_not(client: TestClient[Any]) -> None:
    assert client.get("/app/").status_code == 200  # no token needed for the shell
    assert client.get("/cases").status_code == 401


def test_a_missing_build_says_how_to_build_it(sqlite_template: Path, tmp_path: Path) -> None:
    with app_client(sqlite_template, tmp_path, tmp_path / "no-dist") as client:
        r = client.get("/app/assets/index-3f2a9c1e.js")
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["code"] == "web_app_not_built"
        assert "npm run build" in body["detail"]
        r = client.get("/app/", headers={"accept": "text/html,application/xhtml+xml"})
        assert r.status_code == 503
        assert r.headers["content-type"].startswith("text/html")
        assert "./scripts/serve.sh" in r.text
        assert r.headers["cache-control"] == "no-cache"
