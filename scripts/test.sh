#!/usr/bin/env bash
# Lint, type-check and test Kaari. Tests that need PostgreSQL or Redis use the servers
# on 127.0.0.1 (override with KAARI_TEST_POSTGRES_URL / KAARI_TEST_REDIS_URL); without
# them they skip with a reason, except under CI=true, where a missing service fails.
# The TURN, browser and deployment tests need Debian's coturn, chromium and nginx: when
# one is missing and this runs as root with apt-get (CI, the project's machines) it is
# installed here; otherwise those tests skip with a reason (under CI=true they fail).
# pytest runs on KAARI_TEST_WORKERS pytest-xdist workers (4: two cores, and much of the
# suite waits on processes and sockets), each with its own PostgreSQL database, port
# range and temporary directory.
# Extra arguments go to pytest (e.g. scripts/test.sh -k login; -n 0 runs serially).
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

missing=()
command -v turnserver >/dev/null 2>&1 || missing+=(coturn)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt_log=$(mktemp /tmp/kaari-apt.XXXXXX)
        if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            -o Dpkg::Use-Pty=0 "${missing[@]}"; } >"$apt_log" 2>&1; then
            echo "== installed ${missing[*]} with apt-get" >&2
        else
            echo "== apt-get could not install ${missing[*]} (log: $apt_log)" >&2
        fi
    else
        echo "== ${missing[*]} not installed: the TURN, browser or deploy tests will skip" >&2
    fi
fi

# The interop tests drive matrix-sdk-crypto-wasm under Node: install the pinned package
# when its lock file changed since the last install (like the .venv stamp in bootstrap.sh).
interop=tests/interop/node
if command -v npm >/dev/null 2>&1; then
    npm_stamp=$interop/node_modules/.kaari-install-stamp
    npm_want=$(sha256sum "$interop/package-lock.json" | cut -d' ' -f1)
    if [ "$(cat "$npm_stamp" 2>/dev/null)" != "$npm_want" ]; then
        echo "== npm ci (tests/interop/node)" >&2
        if npm ci --prefix "$interop" --no-audit --no-fund --loglevel=error >&2; then
            echo "$npm_want" >"$npm_stamp"
        else
            echo "== npm ci failed: the matrix-sdk-crypto interop tests will skip" >&2
        fi
    fi
else
    echo "== npm not installed: the matrix-sdk-crypto interop tests will skip" >&2
fi

echo "== ruff" >&2
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy (strict)" >&2
.venv/bin/mypy
if [ "$web_ok" = 1 ]; then
    echo "== tsc (web, strict)" >&2
    npm run --prefix web --silent typecheck
elif [ "${CI:-}" = true ]; then
    echo "== the web app could not be installed or built: CI=true requires it" >&2
    exit 1
fi
echo "== pytest" >&2
exec .venv/bin/pytest -n "${KAARI_TEST_WORKERS:-4}" --dist loadgroup --durations=25 "$@"
