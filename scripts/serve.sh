#!/usr/bin/env bash
# Run Kaari on the embedded default (SQLite under ./var, in-process bus) with a demo
# organisation. Extra arguments go to `kaari serve` (e.g. --port 8080).
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
exec .venv/bin/kaari serve --demo "$@"
