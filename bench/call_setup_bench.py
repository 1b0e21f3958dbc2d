"""Video call set-up time, browser to browser (issue #15): from the parent's "Join" to
media flowing both ways.

Starts one real `kaari serve` (SQLite by default; ``--database postgresql`` creates and
drops its own database on 127.0.0.1), onboards a therapist and a guardian over HTTP
with a video appointment starting now, and opens one headless Chromium (Debian's, the
fake camera and microphone) with two browser contexts: the therapist at desktop size,
in the room from the start, and the parent on a phone. Then RUNS times:

  1. the parent, on her schedule, clicks the session's "Join" (t_join);
  2. she is in the waiting room; the therapist's page clicks "Let in" as soon as the
     entry appears on its list (t_admit: an in-page 10 ms poll, no human delay);
  3. both pages poll their own RTCPeerConnection's getStats every 20 ms (the app's
     connections, seen through a wrapper installed before the app loads) until video
     ``framesDecoded > 0`` and audio inbound ``packetsReceived > 0`` (t_media, each
     side; the call's media time is the later of the two);
  4. the parent hangs up, the therapist sees she is alone, the parent goes back to her
     schedule.

All times are the pages' ``Date.now()`` (one machine, one clock). Prints join→media,
admit→media and join→admit: median, p95, min, max; the figures go into BENCHMARKS.md.
Loopback only, no TURN server (host candidates on 127.0.0.1); every wait is bounded.

Run (from the repository, web/ built): .venv/bin/python bench/call_setup_bench.py
    [--runs 10] [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# after the project's packages: tests/ holds a directory named "app" too
sys.path.append(str(ROOT / "tests"))
sys.path.append(str(ROOT / "tests" / "web"))
from servers import fresh_postgres_database, scenario_server  # noqa: E402
from web_browser import Page  # noqa: E402
from web_support import PASSWORD, PHONE, chromium_in, onboard, sign_in  # noqa: E402

DESKTOP = (1280, 800)
PEER = ".call-peer"
TIMEOUT = 60.0  # per step of a run

#: before the app's code: every RTCPeerConnection the page makes is kept in
#: ``window.kaariPcs``; ``kaariWatch()`` forgets the earlier ones, polls the open ones'
#: getStats every 20 ms and stamps ``window.kaariMediaAt`` when video frames are decoded
#: and audio packets arrive
WATCH = """(() => {
  const Native = window.RTCPeerConnection;
  window.kaariPcs = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) { super(...args); window.kaariPcs.push(this); }
  };
  window.kaariWatch = () => {
    const run = (window.kaariRun = (window.kaariRun || 0) + 1);
    window.kaariMediaAt = 0;
    window.kaariPcs = []; // only the connections of this call
    const deadline = Date.now() + 120000;
    const tick = async () => {
      if (run !== window.kaariRun || Date.now() > deadline) return;
      for (const pc of window.kaariPcs) {
        if (pc.connectionState === "closed") continue;
        let frames = 0, packets = 0;
        (await pc.getStats()).forEach((s) => {
          if (s.type !== "inbound-rtp") return;
          if (s.kind === "video") frames += s.framesDecoded || 0;
          if (s.kind === "audio") packets += s.packetsReceived || 0;
        });
        if (frames > 0 && packets > 0) { window.kaariMediaAt = Date.now(); return; }
      }
      setTimeout(tick, 20);
    };
    tick();
  };
})();"""

#: the therapist lets the parent in the moment her entry is on the list
AUTO_ADMIT = """(() => {
  window.kaariAdmitAt = 0;
  const deadline = Date.now() + 120000;
  const tick = () => {
    const admit = document.querySelector('#call-waiting-list .call-admit');
    if (admit) { window.kaariAdmitAt = Date.now(); admit.click(); return; }
    if (Date.now() < deadline) setTimeout(tick, 10);
  };
  tick();
})()"""


def pct(values: list[float], p: float) -> float:
    """Nearest rank on the sorted values (as bench/rooms_bench.py)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def machine() -> dict[str, str]:
    """nproc, CPU model, RAM and the load average now (Linux)."""
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    ram_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            ram_kib = int(line.split()[1])
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": f"{ram_kib / 1024 / 1024:.1f} GiB",
        "load": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "python": platform.python_version(),
    }


def browser_version(page: Page) -> str:
    return str(page.evaluate("navigator.userAgent.match(/Chrom(?:e|ium)\\/[0-9.]+/)?.[0] ?? ''"))


def appointment_now(url: str, people: dict[str, Any]) -> str:
    th = {"authorization": f"Bearer {people['therapist']['token']}"}
    body = {
        "caseIds": [people["case"]],
        "startsAt": datetime.now(UTC).isoformat(),
        "placeKind": "video",
    }
    created = httpx.post(f"{url}/appointments", json=body, headers=th, timeout=30)
    assert created.status_code == 201, created.text
    return str(created.json()["appointments"][0]["id"])


def therapist_in_room(page: Page, url: str, appt: str) -> None:
    page.viewport(*DESKTOP, scale=1)
    page.locale("en-GB")
    page.call("Page.addScriptToEvaluateOnNewDocument", source=WATCH)
    page.goto(f"{url}/app/")
    page.wait_for("!!document.querySelector('#email')", TIMEOUT, "the sign-in form")
    page.type("#email", "terhi@example.fi")
    page.type("#password", PASSWORD)
    page.click("#signin")
    page.wait_for("!!document.querySelector('.case-card')", TIMEOUT, "the caseload")
    page.goto(f"{url}/app/calls/{appt}")
    page.wait_for(
        "document.querySelector('main.call')?.dataset.phase === 'in'", TIMEOUT, "in the room"
    )


def one_call(terhi: Page, anna: Page, url: str, case: str, appt: str) -> dict[str, float]:
    """One join → admit → media → hang-up; the times in ms."""
    join = f".session[data-appointment-id='{appt}'] .call-join"
    anna.goto(f"{url}/app/cases/{case}/appointments")  # her schedule of the case
    anna.wait_for(f"!!document.querySelector({json.dumps(join)})", TIMEOUT, "the Join button")
    terhi.wait_for(
        f"!document.querySelector('{PEER}') && !!document.querySelector('.call-alone')",
        TIMEOUT,
        "the therapist alone",
    )
    terhi.evaluate("window.kaariWatch()")
    terhi.evaluate(AUTO_ADMIT)
    t_join = float(
        anna.evaluate(
            f"(() => {{ const t = Date.now(); window.kaariWatch();"
            f" document.querySelector({json.dumps(join)}).click(); return t; }})()"
        )
    )
    anna.wait_for("window.kaariMediaAt > 0", TIMEOUT, "media at the parent")
    terhi.wait_for("window.kaariMediaAt > 0", TIMEOUT, "media at the therapist")
    t_admit = float(terhi.evaluate("window.kaariAdmitAt"))
    at_parent = float(anna.evaluate("window.kaariMediaAt"))
    at_therapist = float(terhi.evaluate("window.kaariMediaAt"))
    assert 0 < t_join <= t_admit <= min(at_parent, at_therapist), (t_join, t_admit)
    t_media = max(at_parent, at_therapist)
    # leave; the therapist stays, alone again
    anna.click("#call-hangup")
    anna.wait_for("!!document.querySelector('#call-ended')", TIMEOUT, "left")
    return {
        "join_media": t_media - t_join,
        "admit_media": t_media - t_admit,
        "join_admit": t_admit - t_join,
    }


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.0f} ms, p95 {pct(values, 95):.0f} ms, "
        f"min {min(values):.0f} ms, max {max(values):.0f} ms"
    )


def bench(tmp: Path, database: str, runs: int) -> list[dict[str, float]]:
    server = scenario_server(
        tmp, database, KAARI_LOG_LEVEL="WARNING", KAARI_LOGIN_MAX_ATTEMPTS_PER_IP="10000"
    )
    try:
        people = onboard(server)
        appt = appointment_now(server.url, people)
        with chromium_in(tmp, media=True) as chromium:
            terhi = chromium.page()
            therapist_in_room(terhi, server.url, appt)
            anna = chromium.new_profile_page("about:blank")
            anna.viewport(*PHONE)
            anna.locale("en-GB")
            anna.call("Page.addScriptToEvaluateOnNewDocument", source=WATCH)
            sign_in(anna, server.url)
            print(f"browser: {browser_version(anna)}", flush=True)
            results = []
            for n in range(runs):
                r = one_call(terhi, anna, server.url, people["case"], appt)
                results.append(r)
                print(
                    f"run {n + 1}: join→media {r['join_media']:.0f} ms, admit→media "
                    f"{r['admit_media']:.0f} ms, join→admit {r['join_admit']:.0f} ms",
                    flush=True,
                )
            return results
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    before = machine()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {before['nproc']} CPUs ({before['cpu']}), "
        f"{before['ram']} RAM, Python {before['python']}; load average at start "
        f"{before['load']}; database {args.database}",
        flush=True,
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kaari-callbench-") as name, ExitStack() as stack:
        database = ""
        if args.database == "postgresql":
            database = stack.enter_context(fresh_postgres_database())
        results = bench(Path(name), database, args.runs)
    n = len(results)
    print(
        f"\n{n} calls in {time.monotonic() - started:.0f} s; load average at end "
        f"{machine()['load']}"
    )
    for key, label in (
        ("join_media", "join→media"),
        ("admit_media", "admit→media"),
        ("join_admit", "join→admit"),
    ):
        print(f"{label}: {summary([r[key] for r in results])}")


if __name__ == "__main__":
    main()
