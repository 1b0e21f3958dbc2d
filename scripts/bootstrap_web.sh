# Sourced by scripts/bootstrap.sh (from the repository root); sets web_ok=1 when
# web/dist is current.
# The web app (web/, served at /app/): `npm ci` when its lock file changed, `npm run build`
# when its sources changed (a hash of web/src, public/, index.html, the configs and the
# lock, kept in web/dist). Without Node 20+ Kaari still runs; /app/ then says so.
web_ok=0
if command -v npm >/dev/null 2>&1 && node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)' 2>/dev/null; then
    web_ok=1
    web_stamp=web/node_modules/.kaari-install-stamp
    web_want=$(sha256sum web/package-lock.json | cut -d' ' -f1)
    if [ "$(cat "$web_stamp" 2>/dev/null)" != "$web_want" ]; then
        echo "bootstrap: npm ci (web)" >&2
        if npm ci --prefix web --no-audit --no-fund --loglevel=error >/dev/null; then
            echo "$web_want" >"$web_stamp"
        else
            echo "bootstrap: npm ci failed in web/: the web app is not built" >&2
            web_ok=0
        fi
    fi
    if [ "$web_ok" = 1 ]; then
        build_stamp=web/dist/.kaari-build-stamp
        build_want=$(find web/src web/public web/index.html web/package.json web/package-lock.json \
            web/vite.config.ts web/tsconfig*.json -type f -print0 | sort -z | xargs -0 sha256sum |
            sha256sum | cut -d' ' -f1)
        if [ "$(cat "$build_stamp" 2>/dev/null)" != "$build_want" ]; then
            echo "bootstrap: building the web app (web/dist)" >&2
            build_log=$(mktemp /tmp/kaari-web-build.XXXXXX)
            if npm run --prefix web --silent build >"$build_log" 2>&1; then
                echo "$build_want" >"$build_stamp"
                rm -f "$build_log"
            else
                echo "bootstrap: the web app's build failed (log: $build_log)" >&2
                web_ok=0
            fi
        fi
    fi
else
    echo "bootstrap: Node.js 20 or newer not found: the web app (/app/) is not built" >&2
fi
