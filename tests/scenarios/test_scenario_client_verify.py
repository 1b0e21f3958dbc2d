"""The first home visit from terminals: the therapist shows the invite as QR text, a new
parent joins with it and the therapist is verified; a QR whose key was swapped is refused
and joins nothing; then the two compare SAS emoji from two terminals."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

from matrix_onboarding import PASSWORD, onboard
from servers import KaariServer, kaari_client


def _swap_key(qr: str) -> str:
    """The same invite with another master key (what a forged server answer would give)."""
    head, _, _ = qr.partition("&mk=")
    other = base64.b64encode(os.urandom(32)).decode().rstrip("=")
    return f"{head}&mk={other.replace('+', '%2B').replace('/', '%2F')}"


def _sas(profile: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "kaari_entry", "client", "--profile", str(profile), "verify",
         "sas", *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _emoji_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("Compare these emoji"):
            return proc.stdout.readline().strip()
    raise AssertionError(f"no emoji shown: {proc.stderr.read() if proc.stderr else ''}")


def test_a_parent_joins_from_the_qr_and_the_therapist_is_verified(tmp_path: Path) -> None:
    server = KaariServer({"KAARI_DATA_DIR": str(tmp_path / "data")}, tmp_path / "server.log")
    try:
        onboard(server)
        terhi, liisa = tmp_path / "terhi", tmp_path / "liisa"
        done = kaari_client(
            terhi, "login", "--server", server.url, "--email", "terhi@example.fi",
            "--password-stdin", stdin=PASSWORD + "\n",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        shown = kaari_client(terhi, "invite", "--case", "Eino")
        assert shown.returncode == 0, shown.stderr
        qr = shown.stdout.strip().splitlines()[-1]
        assert qr.startswith("kaari:invite?v=1&")

        def join(text: str) -> subprocess.CompletedProcess[str]:
            return kaari_client(
                liisa, "join", "--server", server.url, "--qr", text,
                "--email", "liisa@example.fi", "--display-name", "Liisa",
                "--password-stdin", stdin=PASSWORD + "\n",
            )  # fmt: skip

        # a QR whose key is not the therapist's: refused, nothing joined, the invite unspent
        forged = join(_swap_key(qr))
        assert forged.returncode == 1
        assert "inviter_key_mismatch" in forged.stderr
        assert not (liisa / "profile.json").exists()
        bad = join("kaari:invite?v=1&code=x")
        assert bad.returncode == 1
        assert "kaari client:" in bad.stderr

        joined = join(qr)
        assert joined.returncode == 0, joined.stderr
        assert "Signed in as Liisa (guardian)." in joined.stdout
        assert "Your therapist is verified (1 device of theirs trusted)." in joined.stdout
        threads = kaari_client(liisa, "threads")
        assert "Eino" in threads.stdout
        again = kaari_client(liisa, "verify", "qr", qr)  # already a member: verifies again
        assert again.returncode == 0, again.stderr
        assert "is verified" in again.stdout

        # remote: SAS between Liisa's and Terhi's terminals; first Liisa says no
        config = json.loads((terhi / "profile.json").read_text())
        answering = _sas(terhi, "--incoming")
        asking = _sas(liisa, "--user", config["matrixUserId"], "--device", config["deviceId"])
        _emoji_line(asking)
        _emoji_line(answering)
        _, err = asking.communicate("n\n", timeout=120)
        assert asking.returncode == 1
        assert "the emoji did not match" in err
        _, err = answering.communicate("y\n", timeout=120)
        assert answering.returncode == 1
        assert "cancelled" in err
        answering = _sas(terhi, "--incoming")
        asking = _sas(liisa, "--user", config["matrixUserId"], "--device", config["deviceId"])
        seen = {_emoji_line(asking), _emoji_line(answering)}
        assert len(seen) == 1  # the same seven emoji on both screens
        assert len(seen.pop().split("  ")) == 7
        for proc in (asking, answering):  # both people say yes, then both finish
            assert proc.stdin is not None
            proc.stdin.write("y\n")
            proc.stdin.flush()
        for proc in (asking, answering):
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            assert "Verified." in out
    finally:
        server.stop()
