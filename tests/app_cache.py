"""One litestar app per pytest worker and shape of settings.

Building Kaari's app (its routes' signatures, the middleware, the OpenAPI document) costs
about 0.35 CPU-seconds, more than most tests; the services, the database and the jobs come
from the lifespan, which reads ``app.state.settings``. So a test gets an app built once for
settings that differ from its own only in the database and the data directory, with its
state emptied and its own settings put in; the lifespan each test runs (``TestClient``)
then builds everything that holds data from scratch.
"""

from __future__ import annotations

import msgspec
from litestar import Litestar

from app.config import Settings
from app.main import create_app

_APPS: dict[Settings, Litestar] = {}


def app_for(settings: Settings) -> Litestar:
    """An app for ``settings``: built once per shape, its state fresh for this test."""
    settings = settings.check()
    shape = msgspec.structs.replace(settings, database_url="", data_dir="")
    app = _APPS.get(shape)
    if app is None:
        app = _APPS[shape] = create_app(settings)
    app.state.clear()
    app.state.settings = settings
    return app
