"""Headless Chromium with fake camera and microphone runs the pre-call page of a real
`kaari serve` process against its aiortc echo peer, and reports "connected" with a
round-trip time. Driven over the DevTools protocol (the `websockets` package); loopback
only, every step bounded in time."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from servers import KaariServer
from signaling_support import require_binary
from websockets.asyncio.client import connect

PASSWORD = "browser-Passw0rd-41c7"
PAGE_TIMEOUT = 60.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[KaariServer]:
    env = {
        "KAARI_DATA_DIR": str(tmp_path / "data"),
        # the echo peer offers 127.0.0.1 only, so media stays on loopback
        "KAARI_PRECALL_HOST_ADDRESSES": "127.0.0.1",
    }
    srv = KaariServer(env, tmp_path / "server.log")
    try:
        yield srv
    finally:
        srv.stop()


class Chromium:
    def __init__(self, binary: str, profile: Path) -> None:
        self.binary = binary
        self.profile = profile
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, url: str) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--headless=new",
                "--no-sandbox",  # root in CI
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                "--allow-loopback-in-peer-connection",
                # real host candidates instead of mDNS names (no multicast resolution)
                "--disable-features=WebRtcHideLocalIpsWithMdns",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-domain-reliability",
                "--disable-sync",
                "--disable-extensions",
                "--disable-gpu",
                "--no-pings",
                "--mute-audio",
                url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=(self.profile.parent / "chromium.log").open("wb"),
            start_new_session=True,
        )

    def devtools_port(self, timeout: float = 20) -> int:
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError("chromium exited before DevTools was ready")
            if marker.exists():
                first = marker.read_text().splitlines()[:1]
                if first and first[0].isdigit():
                    return int(first[0])
            time.sleep(0.1)
        raise RuntimeError("chromium's DevTools port did not appear in time")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # chromium and its own child processes
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Chromium]:
    browser = Chromium(require_binary("chromium", "/usr/bin/chromium"), tmp_path / "profile")
    try:
        yield browser
    finally:
        browser.stop()


def sign_in_and_get_pass(server: KaariServer) -> str:
    org_id = server.cli("admin", "create-org", "--name", "Terapia Oy")
    server.cli(
        "admin",
        "create-user",
        "--org",
        org_id,
        "--email",
        "parent@example.fi",
        "--display-name",
        "Vanhempi",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    server.start()
    with httpx.Client(base_url=server.url, timeout=10) as http:
        r = http.post(
            "/auth/login",
            json={"email": "parent@example.fi", "password": PASSWORD, "device": {"name": "p"}},
        )
        assert r.status_code == 200, r.text
        r = http.post("/rtc/precall/pass", headers={"authorization": "Bearer " + r.json()["token"]})
        assert r.status_code == 200, r.text
        url: str = r.json()["url"]
    return url


async def run_page(port: int, origin: str, screenshot: Path) -> dict[str, Any]:
    """Click "start" on the page and wait for its result element to settle."""
    async with httpx.AsyncClient(timeout=5) as http:
        for _ in range(100):
            targets = (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
            pages = [t for t in targets if t["type"] == "page" and t["url"].startswith(origin)]
            if pages:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"the page did not open: {targets}")
    async with connect(pages[0]["webSocketDebuggerUrl"], max_size=2**22) as ws:
        ids = iter(range(1, 10_000))

        async def call(method: str, **params: Any) -> Any:
            call_id = next(ids)
            await ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
            while True:
                message = json.loads(await ws.recv())
                if message.get("id") == call_id:
                    return message["result"]

        async def evaluate(expression: str) -> Any:
            answer = await call("Runtime.evaluate", expression=expression, returnByValue=True)
            return answer["result"].get("value")

        ready = (
            "document.readyState === 'complete' && !!document.getElementById('start')"
            " && location.pathname === '/precall'"
        )
        for _ in range(200):
            if await evaluate(ready):
                break
            await asyncio.sleep(0.1)
        # the page took the pass out of the address bar as it started
        assert await evaluate("location.hash") == ""
        await evaluate("document.getElementById('start').click()")
        probe = (
            "JSON.stringify(Object.assign({text: document.getElementById('result')"
            ".textContent, connection: document.getElementById('connection').textContent,"
            " rtt: document.getElementById('rtt').textContent, camera: document"
            ".getElementById('camera').textContent, microphone: document.getElementById"
            "('microphone').textContent}, document.getElementById('result').dataset))"
        )
        while True:
            result: dict[str, Any] = json.loads(await evaluate(probe))
            if result.get("state") in ("connected", "failed"):
                break
            await asyncio.sleep(0.2)
        # the echoed video plays in the page (the server sent the fake camera back)
        echo = "document.getElementById('echo')"
        for _ in range(50):
            if await evaluate(f"{echo}.videoWidth > 0 && {echo}.srcObject.getTracks().length"):
                break
            await asyncio.sleep(0.2)
        result["echoTracks"] = await evaluate(
            f"{echo}.srcObject ? {echo}.srcObject.getTracks()"
            ".map(t => t.kind).sort().join(',') : ''"
        )
        result["echoWidth"] = await evaluate(f"{echo}.videoWidth")
        # what the parent sees, for a person to look at when the test fails
        shot = await call("Page.captureScreenshot", format="png")
        await asyncio.to_thread(screenshot.write_bytes, base64.b64decode(shot["data"]))
        return result


def test_chromium_runs_the_precall_page_against_the_echo_peer(
    server: KaariServer, chromium: Chromium, tmp_path: Path
) -> None:
    path = sign_in_and_get_pass(server)
    started = time.monotonic()
    chromium.start(server.url + path.replace("/precall#", "/precall?lang=fi#"))
    port = chromium.devtools_port()
    result = asyncio.run(
        asyncio.wait_for(run_page(port, server.url, tmp_path / "precall.png"), PAGE_TIMEOUT)
    )
    elapsed = time.monotonic() - started
    print(f"pre-call page in chromium: {result} ({elapsed:.1f} s from launch)")
    print(f"screenshot: {tmp_path / 'precall.png'}")
    assert result["state"] == "connected", result
    assert int(result["rttMs"]) >= 0
    assert result["candidateType"] == "host"  # loopback: no STUN, no TURN configured
    assert result["hasCamera"] == "true"
    assert result["hasMicrophone"] == "true"
    assert result["camera"].startswith("toimii")
    assert result["microphone"].startswith("toimii")
    assert result["echoTracks"] == "audio,video"
    assert result["echoWidth"] > 0
    assert result["text"].startswith("Yhteys toimii.")
    assert result["connection"] == "suora yhteys samassa verkossa"
    assert result["rtt"].endswith("(hyvä)")
    log = (server.log_path).read_text()
    assert "pre-call echo started" in log
    assert "a=fingerprint" not in log
    assert path.split("pass=")[1] not in log
