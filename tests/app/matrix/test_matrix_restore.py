"""A database restored from a backup: a device whose sync position is ahead of the
restored database resynchronises instead of silently skipping what comes next (the sync
token's history tag, docs/matrix-api.md *Sync*).

SQLite only: the restore is a file copy made with SQLite's online backup, as an operator
does it (docs/deploy.md); the check it exercises does not depend on the engine."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from conftest import FAST_HASHING, TEST_SECRET, build_world
from litestar.testing import TestClient

from app.config import Settings
from app.main import create_app
from app.messaging.service import thread_id_of
from client.matrix import MatrixClient, MatrixHttp


def test_a_device_ahead_of_a_restored_database_resynchronises(
    sqlite_template: Path, tmp_path: Path
) -> None:
    db = tmp_path / "kaari.sqlite3"
    shutil.copy(sqlite_template, db)
    settings = Settings(
        database_url=f"sqlite:///{db}",
        data_dir=str(tmp_path / "data"),
        secret_key=TEST_SECRET,
        **FAST_HASHING,
    )
    secrets = {"t": os.urandom(32), "g": os.urandom(32)}
    backup = tmp_path / "backup.sqlite3"

    def device(c: Any, token: str, name: str) -> MatrixClient:
        return MatrixClient.open(MatrixHttp(c, token), tmp_path / name, secrets[name])

    with TestClient(create_app(settings)) as c:
        world = build_world(c, settings)
        tokens = {"t": world.therapist.token, "g": world.guardian.token}
        family = f"!{thread_id_of(world.case_id, 'family')}:localhost"
        t, g = device(c, tokens["t"], "t"), device(c, tokens["g"], "g")
        t.sync()
        g.sync()
        t.send_text(family, "ennen varmuuskopiota")
        g.sync()
        # the operator's backup, taken while the server runs
        source, target = sqlite3.connect(db), sqlite3.connect(backup)
        source.backup(target)
        source.close()
        target.close()
        t.send_text(family, "kadonnut 1")
        t.send_text(family, "kadonnut 2")
        g.sync()
        assert g.texts(family) == ["ennen varmuuskopiota", "kadonnut 1", "kadonnut 2"]
        t.close()
        g.close()

    # the restore: the database goes back to the backup; both devices are ahead of it
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copy(backup, db)

    with TestClient(create_app(settings)) as c:
        t, g = device(c, tokens["t"], "t"), device(c, tokens["g"], "g")
        t.sync()
        t.send_text(family, "palautuksen jälkeen 1")
        t.send_text(family, "palautuksen jälkeen 2")
        # a raw sync from the guardian's old position is marked, and acknowledges nothing
        since = g.store.since
        r = c.get(
            "/_matrix/client/v3/sync",
            params={"since": since, "timeout": 0},
            headers={"authorization": f"Bearer {tokens['g']}"},
        )
        assert r.status_code == 200, r.text
        assert r.json().get("kaari.resync") is True
        g.sync()
        assert g.texts(family) == [
            "ennen varmuuskopiota",
            "kadonnut 1",
            "kadonnut 2",
            "palautuksen jälkeen 1",
            "palautuksen jälkeen 2",
        ]
        assert g.undecryptable() == []
        # from the new position on, syncs are ordinary again
        t.send_text(family, "taas normaalisti")
        g.sync()
        assert g.texts(family)[-1] == "taas normaalisti"
        t.close()
        g.close()
