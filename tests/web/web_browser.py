"""Headless Chromium (Debian's) driven over the DevTools protocol for the web app's
browser tests: a page to load, type into, click, wait on and photograph. Loopback
only; every wait is bounded."""

from __future__ import annotations

import base64
import itertools
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from servers import require_binary
from websockets.sync.client import ClientConnection, connect

CHROMIUM = "/usr/bin/chromium"
MEDIA_FLAGS = (
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
)


class BrowserError(AssertionError):
    pass


class Page:
    """One tab, over its DevTools WebSocket."""

    def __init__(self, ws: ClientConnection, target_id: str) -> None:
        self.ws = ws
        self.target_id = target_id
        self.ids = itertools.count(1)
        self.console: list[str] = []
        self.context_id = ""  # a browser context of Chromium.new_profile_page
        #: the service-worker domain's events (ServiceWorker.enable): registrations, versions
        self.worker_events: list[dict[str, Any]] = []
        #: the network domain's events once Network.enable was called (requests, and
        #: WebSocket frames: Network.webSocketFrameReceived), in the order they came
        self.network_events: list[dict[str, Any]] = []

    def call(self, method: str, timeout: float = 30, **params: Any) -> Any:
        call_id = next(self.ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"{method}: no answer in {timeout} s")
            message = json.loads(self.ws.recv(timeout=left))
            if message.get("method") == "Runtime.consoleAPICalled":
                args = message["params"].get("args", [])
                self.console.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in args)
                )
            elif message.get("method") == "Runtime.exceptionThrown":
                details = message["params"]["exceptionDetails"]
                self.console.append(
                    "exception: "
                    + str(details.get("exception", {}).get("description", details.get("text")))
                )
            elif str(message.get("method", "")).startswith("ServiceWorker."):
                self.worker_events.append(message)
            elif str(message.get("method", "")).startswith("Network."):
                self.network_events.append(message)
            if message.get("id") == call_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str) -> Any:
        answer = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in answer:
            raise BrowserError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        tail = "\n".join(self.console[-20:])
        shown = self.evaluate(
            "[...document.querySelectorAll('[role=alert]')].map(e => (e.dataset.code || '') + ': '"
            " + e.textContent).join('; ')"
        )
        raise BrowserError(
            f"timed out waiting for {what or expression}; alerts: {shown}; console:\n{tail}"
        )

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def viewport(self, width: int, height: int, scale: float = 2.0) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=scale,
            mobile=True,
        )

    def locale(self, tag: str) -> None:
        self.call("Emulation.setLocaleOverride", locale=tag)

    def click(self, selector: str) -> None:
        self.wait_for(f"!!document.querySelector({json.dumps(selector)})", what=selector)
        self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    def type(self, selector: str, text: str) -> None:
        """Focus the field and type as a keyboard would (input events, not a value set)."""
        self.wait_for(f"!!document.querySelector({json.dumps(selector)})", what=selector)
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.call("Input.insertText", text=text)

    def set_files(self, selector: str, *paths: Path) -> None:
        """Choose files in an ``<input type=file>`` as a person would (change event)."""
        self.wait_for(f"!!document.querySelector({json.dumps(selector)})", what=selector)
        root = self.call("DOM.getDocument", depth=0)["root"]["nodeId"]
        node = self.call("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        self.call("DOM.setFileInputFiles", files=[str(p) for p in paths], nodeId=node)

    def text(self, selector: str) -> str:
        value = self.evaluate(
            f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent || ''"
        )
        return str(value)

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))


class Chromium:
    def __init__(self, profile: Path, media: bool = False, extra_args: Sequence[str] = ()) -> None:
        """``extra_args``: more command-line switches (e.g. a fake camera's)."""
        self.binary = require_binary("chromium", CHROMIUM)
        self.profile = profile
        #: video calls: the fake camera and microphone, granted without asking; host
        #: candidates with their addresses (loopback included), media that plays unasked
        self.media = media
        self.extra_args = list(extra_args)
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> None:
        self.profile.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--headless=new",
                "--no-sandbox",  # root in CI
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
                "--hide-scrollbars",
                *(MEDIA_FLAGS if self.media else ()),
                *self.extra_args,
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(self.profile.parent / "chromium.log").open("wb"),
            start_new_session=True,
        )
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrowserError("chromium exited before DevTools was ready")
            if marker.exists():
                first = marker.read_text().splitlines()[:1]
                if first and first[0].isdigit():
                    self.port = int(first[0])
                    return
            time.sleep(0.1)
        raise BrowserError("chromium's DevTools port did not appear in time")

    def page(self) -> Page:
        """The first tab, with its console and errors recorded."""
        for _ in range(100):
            targets = httpx.get(f"http://127.0.0.1:{self.port}/json/list", timeout=5).json()
            pages = [t for t in targets if t["type"] == "page"]
            if pages:
                break
            time.sleep(0.1)
        else:
            raise BrowserError("no page target")
        page = Page(connect(pages[0]["webSocketDebuggerUrl"], max_size=2**24), pages[0]["id"])
        page.call("Page.enable")
        page.call("Runtime.enable")
        return page

    def new_page(self, url: str) -> Page:
        """A second tab of the same profile (same origin storage and Web Locks)."""
        r = httpx.put(f"http://127.0.0.1:{self.port}/json/new?{url}", timeout=10)
        r.raise_for_status()
        target = r.json()
        page = Page(connect(target["webSocketDebuggerUrl"], max_size=2**24), target["id"])
        page.call("Page.enable")
        page.call("Runtime.enable")
        return page

    def new_profile_page(self, url: str, like: Page | None = None) -> Page:
        """A tab in a new browser context: storage, Web Locks and service workers of its
        own, as a second browser profile (a parent's second device); with ``like``, a
        second tab in that page's context."""
        version = httpx.get(f"http://127.0.0.1:{self.port}/json/version", timeout=5).json()
        with connect(version["webSocketDebuggerUrl"], max_size=2**24) as ws:
            browser = Page(ws, "")
            if like is not None and like.context_id:
                context_id = like.context_id
            else:
                created = browser.call("Target.createBrowserContext", disposeOnDetach=False)
                context_id = created["browserContextId"]
            target = browser.call("Target.createTarget", url=url, browserContextId=context_id)
        ws_url = f"ws://127.0.0.1:{self.port}/devtools/page/{target['targetId']}"
        page = Page(connect(ws_url, max_size=2**24), target["targetId"])
        page.context_id = context_id
        page.call("Page.enable")
        page.call("Runtime.enable")
        return page

    def close_page(self, page: Page) -> None:
        page.ws.close()
        httpx.get(f"http://127.0.0.1:{self.port}/json/close/{page.target_id}", timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # chromium and its own child processes
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def poll(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out: {what}")
