"""`kaari client`: two people message each other from terminals against a real server."""

from __future__ import annotations

from pathlib import Path

from scenario_people import PASSWORD, onboard
from servers import KaariServer, kaari_client


def test_a_guardian_and_the_therapist_message_each_other_from_the_terminal(
    tmp_path: Path,
) -> None:
    server = KaariServer({"KAARI_DATA_DIR": str(tmp_path / "data")}, tmp_path / "server.log")
    try:
        people = onboard(server, tmp_path / "devices")
        anna, terhi = tmp_path / "anna", tmp_path / "terhi"
        for profile, email in ((anna, "anna@example.fi"), (terhi, "terhi@example.fi")):
            done = kaari_client(
                profile, "login", "--server", server.url, "--email", email,
                "--password-stdin", stdin=PASSWORD + "\n",
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert "Signed in as" in done.stdout
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
        # the therapist's phone, the other guardian and Anna's earlier phone and tablet
        assert "Sent to 5 devices." in sent.stdout
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

        out_ = kaari_client(anna, "logout")
        assert out_.returncode == 0, out_.stderr
        assert not (anna / "secret").exists()
    finally:
        server.stop()
