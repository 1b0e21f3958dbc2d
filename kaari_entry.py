"""The `kaari` console script: the server's commands, and the reference client's under
``kaari client``. The two are joined here, outside both, so that ``app/`` never
imports ``client/`` (DESIGN §3)::

    kaari serve | migrate | admin … | purge    app.cli.main
    kaari client …                            client.cli.main

Without the installed script: ``python -m kaari_entry …``.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Imported on use: the server does not load the client's modules, nor the client the server's.
    if argv[:1] == ["client"]:
        from client.cli import main as client_main

        return client_main(argv[1:])
    from app.cli import main as server_main

    return server_main(argv)


if __name__ == "__main__":
    sys.exit(main())
