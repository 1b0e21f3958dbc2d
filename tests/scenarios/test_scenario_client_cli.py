"""`kaari client`: two people message each other from terminals against a real server,
on the Matrix device protocol; the sender signs out and a new device of hers reads the
history with the recovery key."""

from __future__ import annotations

import os
from pathlib import Path

from matrix_onboarding import PASSWORD, onboard
from servers import KaariServer, kaari_client

from client.matrix import MatrixClient, MatrixHttp


def _matrix_device(url: str, token: str, root: Path) -> MatrixClient:
    """A Matrix device for an onboarded phone (the same Kaari device and token)."""
    return MatrixClient.open(MatrixHttp.connect(url, token), root, os.urandom(32))


def test_a_guardian_and_the_therapist_message_each_other_from_the_terminal(
    tmp_path: Path,
) -> None:
    server = KaariServer({"KAARI_DATA_DIR": str(tmp_path / "data")}, tmp_path / "server.log")
    try:
        people = onboard(server)
        phones = {
            name: _matrix_device(server.url, str(m.token), tmp_path / "mx" / name)
            for name, m in (
                ("therapist", people.therapist),
                ("anna-phone", people.guardian),
                ("anna-tablet", people.guardian_tablet),
                ("mikko", people.guardian2),
            )
        }
        anna, terhi = tmp_path / "anna", tmp_path / "terhi"
        recovery: dict[Path, str] = {}
        for profile, email in ((anna, "anna@example.fi"), (terhi, "terhi@example.fi")):
            done = kaari_client(
                profile, "login", "--server", server.url, "--email", email,
                "--password-stdin", stdin=PASSWORD + "\n",
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert "Signed in as" in done.stdout
            # the user's first device with cross-signing: it shows the recovery key once
            assert "Your recovery key" in done.stdout
            recovery[profile] = done.stdout.split("messages):")[1].strip().splitlines()[0]
            assert (profile / "secret").stat().st_mode & 0o077 == 0
        # a second login would destroy the profile's keys: refused
        again = kaari_client(
            anna, "login", "--server", server.url, "--email", "anna@example.fi",
            "--password-stdin", stdin=PASSWORD + "\n",
        )  # fmt: skip
        assert again.returncode == 1
        assert "already holds a device" in again.stderr
        # two processes on one profile would overwrite each other's ratchets: refused
        import fcntl

        with (anna / "lock").open("a") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            busy = kaari_client(anna, "threads")
            fcntl.flock(held, fcntl.LOCK_UN)
        assert busy.returncode == 1
        assert "in use by another kaari client" in busy.stderr
        threads = kaari_client(anna, "threads")
        assert threads.returncode == 0, threads.stderr
        assert people.family_thread in threads.stdout
        assert people.child_thread in threads.stdout

        sent = kaari_client(anna, "send", people.family_thread[:8], "Eino on kipeä tänään")
        assert sent.returncode == 0, sent.stderr
        # the therapist's phone and terminal, the other guardian, Anna's phone and tablet
        assert "Sent to 5 devices." in sent.stdout
        family_room = f"!{people.family_thread}:localhost"
        for phone in phones.values():
            phone.sync()
            assert phone.texts(family_room) == ["Eino on kipeä tänään"]
        photo = tmp_path / "star.png"
        photo.write_bytes(b"\x89PNG" + bytes(range(256)) * 40)
        assert kaari_client(anna, "send-file", people.family_thread, str(photo)).returncode == 0

        read = kaari_client(terhi, "read", people.family_thread, "--wait", "2")
        assert read.returncode == 0, read.stderr
        assert "Anna: Eino on kipeä tänään" in read.stdout
        assert "[file star.png" in read.stdout
        message_id = read.stdout.split("save-file ")[1].split("]")[0]
        out = tmp_path / "saved.png"
        saved = kaari_client(terhi, "save-file", message_id, str(out))
        assert saved.returncode == 0, saved.stderr
        assert out.read_bytes() == photo.read_bytes()

        reply = kaari_client(terhi, "send", people.family_thread, "Parane pian, Eino!")
        assert reply.returncode == 0, reply.stderr
        read = kaari_client(anna, "read", people.family_thread)
        assert "me: Eino on kipeä tänään" in read.stdout
        assert "Terhi: Parane pian, Eino!" in read.stdout

        # clear errors for what a person can get wrong
        wrong = kaari_client(anna, "send", "no-such-thread", "x")
        assert wrong.returncode == 1
        assert "No single thread matches" in wrong.stderr
        nobody = kaari_client(tmp_path / "nobody", "threads")
        assert nobody.returncode == 1
        assert "Not signed in" in nobody.stderr
        bad = kaari_client(
            tmp_path / "bad", "login", "--server", server.url, "--email", "anna@example.fi",
            "--password-stdin", stdin="wrong password\n",
        )  # fmt: skip
        assert bad.returncode == 1
        assert "invalid_credentials" in bad.stderr

        # her data as the server stores it: her ciphertexts, never the text
        exported = kaari_client(anna, "export", str(tmp_path / "anna.json"))
        assert exported.returncode == 0, exported.stderr
        data = (tmp_path / "anna.json").read_text()
        assert '"role":"guardian"' in data
        assert "m.room.encrypted" in data
        assert "Eino on kipeä" not in data

        # Anna signs out: what she sent stays readable for everyone else
        out_ = kaari_client(anna, "logout")
        assert out_.returncode == 0, out_.stderr
        assert not (anna / "secret").exists()
        read = kaari_client(terhi, "read", people.family_thread)
        assert "Anna: Eino on kipeä tänään" in read.stdout
        assert kaari_client(anna, "threads").returncode == 1

        # her new laptop: no history until the recovery key restores the room keys
        laptop = tmp_path / "anna-laptop"
        done = kaari_client(
            laptop, "login", "--server", server.url, "--email", "anna@example.fi",
            "--password-stdin", stdin=PASSWORD + "\n",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "This is a new device of yours" in done.stdout
        assert "Your recovery key" not in done.stdout
        before = kaari_client(laptop, "read", people.family_thread)
        assert "Eino on kipeä tänään" not in before.stdout
        wrong_key = kaari_client(laptop, "recover", "--key-stdin", stdin=recovery[terhi] + "\n")
        assert wrong_key.returncode == 1
        assert "does not open your key backup" in wrong_key.stderr
        restored = kaari_client(laptop, "recover", "--key-stdin", stdin=recovery[anna] + "\n")
        assert restored.returncode == 0, restored.stderr
        assert "can now be read" in restored.stdout
        after = kaari_client(laptop, "read", people.family_thread)
        assert "me: Eino on kipeä tänään" in after.stdout
        assert "Terhi: Parane pian, Eino!" in after.stdout
        assert "[file star.png" in after.stdout
        for phone in phones.values():
            phone.close()
    finally:
        server.stop()
