"""The web app (``web/``, built by Vite into ``web/dist``) served at ``/app/``: static files
with their types (``application/wasm`` for the crypto module), ``index.html`` for client
routes, long-lived caching for content-hashed assets only, and a page policy that lets the
crypto worker compile WebAssembly and nothing run from elsewhere (docs/web.md)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import File

from app.config import Settings
from app.errors import problem

PUBLIC = {"exclude_from_auth": True}
PREFIX = "/app"

#: the page policy of every answer under /app/: scripts, workers, styles, images and
#: connections to this origin only; 'wasm-unsafe-eval' lets the worker compile the
#: matrix-sdk-crypto module (and allows no eval of JavaScript); blob: images and videos
#: are the ones decrypted on the device (a homework task's video)
APP_CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; "
    "connect-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; "
    "font-src 'self'; "
    "manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
#: Vite names what it builds with a content hash (assets/index-3f2a9c1e.js): such a name
#: never changes its bytes, so browsers may keep it for a year without asking
IMMUTABLE = "public, max-age=31536000, immutable"
#: everything else (index.html, sw.js, the manifest, icons) is revalidated every time, so
#: a new build reaches every device at its next start
REVALIDATE = "no-cache"

#: (litestar's File adds "; charset=utf-8" to the text types)
TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".wasm": "application/wasm",
    ".webmanifest": "application/manifest+json",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain",
    ".map": "application/json",
}

NOT_BUILT_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kaari: the web app is not built</title>
</head><body><h1>The web app is not built</h1>
<p>Kaari serves the web app from <code>{dist}</code>, which does not exist. Build it with
<code>./scripts/serve.sh</code> (it runs <code>npm ci</code> and <code>npm run build</code>
in <code>web/</code> when needed; Node 20 or newer), or by hand:
<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>.</p></body></html>
"""


def dist_dir(settings: Settings) -> Path:
    """``KAARI_WEB_DIR``, else ``web/dist`` of the checkout this package runs from."""
    if settings.web_dir:
        return Path(settings.web_dir)
    return Path(__file__).resolve().parent.parent / "web" / "dist"


def _headers(cache: str) -> dict[str, str]:
    return {"Cache-Control": cache, "Content-Security-Policy": APP_CSP}


def _not_built(request: Request[Any, Any, Any], dist: Path) -> Response[Any]:
    if "text/html" in request.headers.get("accept", ""):
        return Response(
            NOT_BUILT_HTML.format(dist=dist),
            status_code=503,
            media_type="text/html",
            headers=_headers(REVALIDATE),
        )
    return problem(
        503,
        "web_app_not_built",
        "The web app is not built",
        "Run ./scripts/serve.sh (or `npm ci && npm run build` in web/) to build it",
        request.url.path,
        headers=_headers(REVALIDATE),
    )


def _accepts_gzip(request: Request[Any, Any, Any]) -> bool:
    return any(
        part.split(";")[0].strip() == "gzip"
        for part in request.headers.get("accept-encoding", "").split(",")
    )


def _file(request: Request[Any, Any, Any], path: Path, cache: str) -> File:
    """The file, or its gzip copy (made by the build beside it) for a browser that
    accepts gzip: the wasm is ~8 MB raw and ~2 MB gzipped."""
    media_type = TYPES.get(path.suffix, "application/octet-stream")
    headers = {**_headers(cache), "Vary": "Accept-Encoding"}
    gz = path.with_name(path.name + ".gz")
    if _accepts_gzip(request) and gz.is_file():
        headers["Content-Encoding"] = "gzip"
        path = gz
    return File(path, media_type=media_type, content_disposition_type="inline", headers=headers)


def _resolve(dist: Path, relative: str) -> Path | None:
    """The file ``relative`` names inside ``dist``; None for anything outside it (``..``,
    an absolute name) or a directory."""
    parts = PurePosixPath(relative).parts
    if any(p.startswith(".") or "\\" in p for p in parts) or relative.endswith(".gz"):
        return None
    candidate = dist.joinpath(*parts)
    try:
        candidate.resolve().relative_to(dist.resolve())
    except ValueError:
        return None
    return candidate if candidate.is_file() else None


def route_handlers(settings: Settings) -> list[Any]:
    """The public handlers app/main.py mounts at the top level."""
    dist = dist_dir(settings)

    def serve(request: Request[Any, Any, Any], path: str) -> Response[Any] | File:
        index = dist / "index.html"
        if not index.is_file():
            return _not_built(request, dist)
        relative = path.lstrip("/")
        if relative:
            found = _resolve(dist, relative)
            if found is not None:
                hashed = relative.startswith("assets/")
                return _file(request, found, IMMUTABLE if hashed else REVALIDATE)
            if "." in PurePosixPath(relative).name:
                return problem(
                    404,
                    "not_found",
                    "Not found",
                    "The web app has no such file",
                    request.url.path,
                    headers=_headers(REVALIDATE),
                )
        return _file(request, index, REVALIDATE)

    @get(PREFIX, opt=PUBLIC, include_in_schema=False, sync_to_thread=False)
    def app_root(request: Request[Any, Any, Any]) -> Response[Any] | File:
        """``/app`` and ``/app/``: the shell."""
        return serve(request, "")

    @get(f"{PREFIX}/{{path:path}}", opt=PUBLIC, include_in_schema=False, sync_to_thread=False)
    def app_files(request: Request[Any, Any, Any], path: FromPath[str]) -> Response[Any] | File:
        """A built file, or ``index.html`` for a client route (a path without a file
        extension, e.g. ``/app/cases/…/family``); a missing file with an extension is 404."""
        return serve(request, path)

    return [app_root, app_files]
