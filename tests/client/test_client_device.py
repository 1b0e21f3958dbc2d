"""The Device: key upload, Olm messaging, Megolm case content, persistence."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client.device import Device, PeerDevice
from client.keystore import DB_NAME
from crypto.cross_signing import UserMasterKey, verify_cross_signed_device
from crypto.envelope import OlmCiphertext, decode_ciphertext, encode
from crypto.errors import (
    BindingError,
    CorruptStoreError,
    DecryptionError,
    DuplicateMessageError,
    SessionError,
    StoreError,
    UnknownMessageIndexError,
    UnknownSessionError,
    UntrustedKeyShareError,
    WrongStoreKeyError,
)
from crypto.identity import verify_device_bundle, verify_one_time_key
from crypto.payloads import CancellationNote, HomeworkContent, RoomKeyShare, TextMessage

SECRET = bytes(range(32))


def _device(tmp: Path, user: str, dev: str, **kw: object) -> Device:
    return Device.create(tmp / f"{user}-{dev}", SECRET, f"@{user}:kaari", dev, **kw)  # type: ignore[arg-type]


def _claim(device: Device, *, fallback: bool = False) -> PeerDevice:
    """What the server's key directory does: verify and hand out one claimed key."""
    keys = device.fallback_key_to_upload() if fallback else device.one_time_keys_to_upload(0)
    device.mark_keys_published()
    obj = next(iter(keys.values()))
    return PeerDevice.from_bundle(device.signed_device_bundle(), obj)


def _peer(device: Device) -> PeerDevice:
    return PeerDevice.from_bundle(device.signed_device_bundle())


def _send(
    sender: Device, recipient: Device, text: str, peer: PeerDevice | None = None
) -> OlmCiphertext:
    (ct,) = sender.encrypt_for([peer or _peer(recipient)], TextMessage(body=text))
    return ct


def test_upload_keys_are_verifiable(tmp_path: Path) -> None:
    d = _device(tmp_path, "parent", "PHONE")
    keys = verify_device_bundle(d.signed_device_bundle())
    assert keys.ed25519 == d.ed25519
    batch = d.one_time_keys_to_upload(0)
    assert len(batch) == 50
    for obj in batch.values():
        verify_one_time_key(obj, d.user_id, d.device_id, d.ed25519, fallback=False)
    assert d.one_time_keys_to_upload(0) == batch  # unacknowledged upload is retried as is
    d.mark_keys_published()
    assert len(d.one_time_keys_to_upload(45)) == 5
    d.mark_keys_published()
    assert d.one_time_keys_to_upload(60) == {}
    (fb,) = d.fallback_key_to_upload().values()
    assert fb["fallback"] is True


def test_round_trip_both_ways_pre_key_then_normal(tmp_path: Path) -> None:
    a, b = _device(tmp_path, "parent", "PHONE"), _device(tmp_path, "therapist", "LAPTOP")
    ct1 = _send(a, b, "Onni is ill today", _claim(b))
    assert ct1.message_type == 0
    r1 = b.decrypt(ct1)
    assert r1.payload == TextMessage(body="Onni is ill today")
    assert r1.sender == a.keys
    ct2 = _send(b, a, "Get well soon")
    assert ct2.message_type == 1  # B answers on the session A started
    assert a.decrypt(ct2).payload == TextMessage(body="Get well soon")
    ct3 = _send(a, b, "Thanks")
    assert ct3.message_type == 1
    assert b.decrypt(decode_ciphertext(encode(ct3))).sender.user_id == "@parent:kaari"  # type: ignore[arg-type]


def test_duplicates_rejected_out_of_order_accepted(tmp_path: Path) -> None:
    a, b = _device(tmp_path, "parent", "PHONE"), _device(tmp_path, "therapist", "LAPTOP")
    b.decrypt(_send(a, b, "hello", _claim(b)))
    a.decrypt(_send(b, a, "hi"))
    cts = [_send(a, b, f"m{i}") for i in range(4)]
    for i in (2, 0, 3, 1):
        assert b.decrypt(cts[i]).payload == TextMessage(body=f"m{i}")
    with pytest.raises(DuplicateMessageError):
        b.decrypt(cts[1])
    # a sender retry with a fresh ciphertext but the same message id
    (again,) = a.encrypt_for([_peer(b)], TextMessage(body="x"), message_id="fixed")
    b.decrypt(again)
    (retry,) = a.encrypt_for([_peer(b)], TextMessage(body="x"), message_id="fixed")
    with pytest.raises(DuplicateMessageError):
        b.decrypt(retry)


def test_reused_one_time_key_rejected(tmp_path: Path) -> None:
    a, c, b = (_device(tmp_path, n, "D") for n in ("parent", "other", "therapist"))
    claimed = _claim(b)
    b.decrypt(_send(a, b, "first", claimed))
    with pytest.raises(SessionError):
        b.decrypt(_send(c, b, "second", claimed))


def test_fallback_key_used_by_two_senders(tmp_path: Path) -> None:
    a, c, b = (_device(tmp_path, n, "D") for n in ("mother", "father", "therapist"))
    fb = _claim(b, fallback=True)
    assert b.decrypt(_send(a, b, "from mother", fb)).sender.user_id == "@mother:kaari"
    assert b.decrypt(_send(c, b, "from father", fb)).sender.user_id == "@father:kaari"


def test_tampered_and_readdressed_ciphertexts_rejected(tmp_path: Path) -> None:
    a, b, c = (_device(tmp_path, n, "D") for n in ("parent", "therapist", "other"))
    b.decrypt(_send(a, b, "hello", _claim(b)))
    a.decrypt(_send(b, a, "hi"))
    ct = _send(a, b, "secret")
    body = bytearray(ct.body.encode())
    body[20] = ord("A") if body[20] != ord("A") else ord("B")
    with pytest.raises(DecryptionError):
        b.decrypt(msgspec.structs.replace(ct, body=body.decode()))
    with pytest.raises(BindingError):
        c.decrypt(ct)  # addressed to b
    with pytest.raises(DecryptionError):  # re-addressed: c has no session with a
        c.decrypt(msgspec.structs.replace(ct, recipient_user_id=c.user_id))
    forged = msgspec.structs.replace(ct, sender_device_id="OTHER")
    with pytest.raises(BindingError):
        b.decrypt(forged)
    assert b.decrypt(ct).payload == TextMessage(body="secret")


def test_sender_key_mismatch_with_directory(tmp_path: Path) -> None:
    a, b, m = (_device(tmp_path, n, "D") for n in ("parent", "therapist", "mallory"))
    ct = _send(a, b, "hello", _claim(b))
    with pytest.raises(BindingError):
        b.decrypt(ct, expected_sender=_peer(m))


def test_no_session_and_no_key(tmp_path: Path) -> None:
    a, b = _device(tmp_path, "parent", "P"), _device(tmp_path, "therapist", "L")
    with pytest.raises(SessionError):
        a.encrypt_for([_peer(b)], TextMessage(body="x"))


def test_persistence_across_reopen(tmp_path: Path) -> None:
    a, b = _device(tmp_path, "parent", "PHONE"), _device(tmp_path, "therapist", "LAPTOP")
    first = _send(a, b, "one", _claim(b))
    b.decrypt(first)
    ct = _send(a, b, "two")
    a.cases.encrypt_case_content("case-1", CancellationNote(appointment_id="ap1", note="fever"))
    b_path, a_path = b._store.path, a._store.path
    del a, b
    b2 = Device.open(b_path, SECRET)
    a2 = Device.open(a_path, SECRET)
    assert b2.decrypt(ct).payload == TextMessage(body="two")
    with pytest.raises(DuplicateMessageError):
        b2.decrypt(first)
    a2.decrypt(_send(b2, a2, "three"))
    assert len(a2.cases.history_shares_for("case-1")) == 1


def _store_files(path: Path) -> list[Path]:
    return [p for p in path.iterdir() if p.is_file()]


def _raw_record(path: Path, name_prefix: str) -> bytes:
    with sqlite3.connect(path / DB_NAME) as db:
        row = db.execute(
            "SELECT blob FROM records WHERE substr(name, 1, ?) = ?", (len(name_prefix), name_prefix)
        ).fetchone()
    assert row is not None
    blob: bytes = row[0]
    return blob


def test_wrong_secret_and_corrupted_store(tmp_path: Path) -> None:
    d = _device(tmp_path, "parent", "PHONE")
    path = d._store.path
    with pytest.raises(WrongStoreKeyError):
        Device.open(path, bytes(32))
    with pytest.raises(StoreError, match="no key store"):
        Device.open(tmp_path / "nowhere", SECRET)
    d.close()
    # a record that fails authentication
    with sqlite3.connect(path / DB_NAME) as db:
        (blob,) = db.execute("SELECT blob FROM records WHERE name = 'account'").fetchone()
        flipped = bytearray(blob)
        flipped[40] ^= 1
        db.execute("UPDATE records SET blob = ? WHERE name = 'account'", (bytes(flipped),))
    db.close()
    with pytest.raises(CorruptStoreError, match="'account' failed authentication"):
        Device.open(path, SECRET)
    # a record sealed under another name (swapped rows) is refused as well
    with sqlite3.connect(path / DB_NAME) as db:
        db.execute(
            "UPDATE records SET blob = (SELECT blob FROM records WHERE name = 'state') "
            "WHERE name = 'account'"
        )
    db.close()
    with pytest.raises(CorruptStoreError):
        Device.open(path, SECRET)
    # a file that is not a database at all
    other = _device(tmp_path, "parent", "TABLET")
    other.close()
    db_file = other._store.path / DB_NAME
    raw = bytearray(db_file.read_bytes())
    raw[:100] = os.urandom(100)
    db_file.write_bytes(bytes(raw))
    for suffix in ("-wal", "-shm"):
        Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    with pytest.raises(CorruptStoreError):
        Device.open(other._store.path, SECRET)


def test_nothing_readable_on_disk(tmp_path: Path) -> None:
    a, b = _device(tmp_path, "parent", "PHONE"), _device(tmp_path, "therapist", "LAPTOP")
    (ct,) = a.encrypt_for([_claim(b)], TextMessage(body="Onni has a fever"), message_id="msg-4711")
    b.decrypt(ct)
    t_share = b.cases.room_key_share_for("case-secret")
    files = _store_files(b._store.path)
    assert {f.name for f in files} >= {DB_NAME}
    for f in files:
        raw = f.read_bytes()
        for needle in (
            b"Onni",
            b"msg-4711",
            b"LAPTOP",
            b"PHONE",
            b"@parent",
            b"case-secret",
            a.curve25519.encode(),
            t_share.session_id.encode(),
            t_share.session_key[:40].encode(),
        ):
            assert needle not in raw, (f.name, needle)
        assert f.stat().st_mode & 0o077 == 0, f.name


def test_decrypt_writes_only_the_changed_session_and_small_tags(tmp_path: Path) -> None:
    """A decrypt leaves the state record alone and does not rewrite other peers' sessions."""
    a, c, b = (_device(tmp_path, n, "D") for n in ("parent", "father", "therapist"))
    b.decrypt(_send(a, b, "hello", _claim(b)))
    b.decrypt(_send(c, b, "hello", _claim(b)))
    path = b._store.path
    state_before = _raw_record(path, "state")
    c_prefix = b._olm_prefix(c.curve25519)
    a_prefix = b._olm_prefix(a.curve25519)
    c_before, a_before = _raw_record(path, c_prefix), _raw_record(path, a_prefix)
    seen_before = b._store.seen_count()
    for i in range(5):
        b.decrypt(_send(a, b, f"m{i}"))
    assert _raw_record(path, "state") == state_before
    assert _raw_record(path, c_prefix) == c_before
    assert _raw_record(path, a_prefix) != a_before
    assert b._store.seen_count() == seen_before + 10  # one ciphertext + one message id each


def _wchar() -> int:
    with open("/proc/self/io") as fh:
        for line in fh:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    raise AssertionError("no wchar in /proc/self/io")


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="needs Linux /proc/self/io")
def test_decrypt_write_volume_does_not_grow_with_history(tmp_path: Path) -> None:
    """Bytes written per decrypt stay small however many messages were seen before.

    Before the redesign every decrypt rewrote the whole duplicate list (about
    50 KiB after 500 messages, over 1 MB when full).
    """
    a, b = _device(tmp_path, "parent", "PHONE"), _device(tmp_path, "therapist", "LAPTOP")
    b.decrypt(_send(a, b, "hello", _claim(b)))
    a.decrypt(_send(b, a, "hi"))
    peer = _peer(b)

    def per_decrypt(n: int) -> float:
        cts = [a.encrypt_for([peer], TextMessage(body="x" * 100))[0] for _ in range(n)]
        before = _wchar()
        for ct in cts:
            b.decrypt(ct)
        return (_wchar() - before) / n

    per_decrypt(500)
    late = per_decrypt(20)
    assert late < 24 * 1024, f"{late:.0f} bytes written per decrypt"


def test_case_content_with_history_and_rotation(tmp_path: Path) -> None:
    t, p1, p2 = (_device(tmp_path, n, "D") for n in ("therapist", "mother", "father"))
    first = t.cases.encrypt_case_content(
        "case-1", HomeworkContent(task_id="t1", title="Ride a bike")
    )
    with pytest.raises(UnknownSessionError):
        p1.cases.decrypt_case_content(first)
    # a live share is from the current index: older content is refused clearly
    (share_ct,) = t.encrypt_for([_claim(p1)], t.cases.room_key_share_for("case-1"))
    p1.cases.accept_room_key(p1.decrypt(share_ct))
    with pytest.raises(UnknownMessageIndexError):
        p1.cases.decrypt_case_content(first)
    second = t.cases.encrypt_case_content(
        "case-1", HomeworkContent(task_id="t2", title="Tidy room")
    )
    got = p1.cases.decrypt_case_content(second)
    assert got.sender == t.keys
    assert got.payload.task_id == "t2"
    # history (exported from index 0) upgrades p1 and serves a new device
    (hist,) = t.cases.history_shares_for("case-1")
    assert hist.first_index == 0
    assert hist.exported
    (h1,) = t.encrypt_for([_peer(p1)], hist)
    p1.cases.accept_room_key(p1.decrypt(h1))
    assert p1.cases.decrypt_case_content(first).payload.title == "Ride a bike"  # type: ignore[union-attr]
    (h2,) = t.encrypt_for([_claim(p2)], hist)
    p2.cases.accept_room_key(p2.decrypt(h2))
    assert p2.cases.decrypt_case_content(second).message_index == 1
    # rotation after a member leaves: the old key does not open new content
    t.cases.rotate_case_session("case-1")
    third = t.cases.encrypt_case_content("case-1", HomeworkContent(task_id="t3", title="Draw"))
    with pytest.raises(UnknownSessionError):
        p2.cases.decrypt_case_content(third)


def test_room_key_share_must_come_from_origin(tmp_path: Path) -> None:
    t, p, m = (_device(tmp_path, n, "D") for n in ("therapist", "parent", "mallory"))
    share = t.cases.room_key_share_for("case-1")
    claimed = _claim(p)
    (ct,) = m.encrypt_for([claimed], share)  # Mallory relays the therapist's key as if direct
    with pytest.raises(UntrustedKeyShareError, match="must come from its origin device"):
        p.cases.accept_room_key(p.decrypt(ct))
    own = m.cases.room_key_share_for("case-1")
    forged = msgspec.structs.replace(own, session_id=share.session_id)
    (ct2,) = m.encrypt_for([_peer(p)], forged)
    with pytest.raises(BindingError):  # Mallory's key under the therapist's session id
        p.cases.accept_room_key(p.decrypt(ct2))


def _forged_history(forger: Device, victim: Device, case_id: str) -> tuple[RoomKeyShare, str]:
    """``forger``'s own Megolm session, exported and labelled as ``victim``'s."""
    forger.cases.room_key_share_for(case_id)
    (mine,) = forger.cases.history_shares_for(case_id)
    share = msgspec.structs.replace(mine, origin=victim.keys)
    return share, mine.session_id


def test_member_cannot_forward_a_session_labelled_as_the_therapists(tmp_path: Path) -> None:
    """A guardian device forges history "from the therapist": refused, nothing stored."""
    t, g, p = (_device(tmp_path, n, "D") for n in ("therapist", "guardian", "parent"))
    claimed = _claim(p)
    share, session_id = _forged_history(g, t, "case-1")
    (ct,) = g.encrypt_for([claimed], share)
    with pytest.raises(UntrustedKeyShareError, match="only the origin device or another device"):
        p.cases.accept_room_key(p.decrypt(ct))
    forged_content = g.cases.encrypt_case_content(
        "case-1", HomeworkContent(task_id="x", title="Skip")
    )
    with pytest.raises(UnknownSessionError):
        p.cases.decrypt_case_content(msgspec.structs.replace(forged_content, session_id=session_id))
    # Even the therapist's genuine history may not be forwarded by another user's device.
    t.cases.room_key_share_for("case-1")
    (genuine,) = t.cases.history_shares_for("case-1")
    (ct2,) = g.encrypt_for([_peer(p)], genuine)
    with pytest.raises(UntrustedKeyShareError):
        p.cases.accept_room_key(p.decrypt(ct2))


def test_same_user_device_cannot_relabel_its_session(tmp_path: Path) -> None:
    """The origin's signature binds the session: not even a sibling device can relabel one."""
    root = tmp_path
    t1 = Device.create(root / "t1", SECRET, "@therapist:kaari", "LAPTOP")
    t2 = Device.create(root / "t2", SECRET, "@therapist:kaari", "PHONE")
    p = _device(root, "parent", "D")
    share, _ = _forged_history(t2, t1, "case-1")
    (ct,) = t2.encrypt_for([_claim(p)], share)
    with pytest.raises(UntrustedKeyShareError, match="not signed by its claimed origin"):
        p.cases.accept_room_key(p.decrypt(ct))
    # A direct (non-exported) share from a sibling device is refused as well.
    direct = t1.cases.room_key_share_for("case-1")
    (ct2,) = t2.encrypt_for([_peer(p)], direct)
    with pytest.raises(UntrustedKeyShareError, match="must come from its origin device"):
        p.cases.accept_room_key(p.decrypt(ct2))
    # A look-alike "LAPTOP" with other keys (signed by itself) contradicts the known LAPTOP.
    (hello,) = t1.encrypt_for([_claim(p)], TextMessage(body="hi"))
    p.decrypt(hello)
    fake = Device.create(root / "fake", SECRET, "@therapist:kaari", "LAPTOP")
    fake.cases.room_key_share_for("case-1")
    (fake_history,) = fake.cases.history_shares_for("case-1")
    (ct3,) = t2.encrypt_for([_peer(p)], fake_history)
    with pytest.raises(UntrustedKeyShareError, match="contradict the known device"):
        p.cases.accept_room_key(p.decrypt(ct3))


def test_history_from_origin_and_from_its_users_other_device(tmp_path: Path) -> None:
    t1 = Device.create(tmp_path / "t1", SECRET, "@therapist:kaari", "LAPTOP")
    t2 = Device.create(tmp_path / "t2", SECRET, "@therapist:kaari", "PHONE")
    p1, p2 = _device(tmp_path, "parent", "P1"), _device(tmp_path, "parent", "P2")
    first = t1.cases.encrypt_case_content(
        "case-1", HomeworkContent(task_id="t1", title="Ride a bike")
    )
    # the therapist's second device gets the history from the first ...
    (h,) = t1.cases.history_shares_for("case-1")
    (ct,) = t1.encrypt_for([_claim(t2)], h)
    t2.cases.accept_room_key(t2.decrypt(ct))
    # ... and forwards it to a family device: accepted, sender is still the origin
    (fwd,) = t2.cases.history_shares_for("case-1")
    assert fwd.origin == t1.keys
    (ct2,) = t2.encrypt_for([_claim(p1)], fwd)
    inbound = p1.cases.accept_room_key(p1.decrypt(ct2))
    assert inbound.forwarded
    got = p1.cases.decrypt_case_content(first)
    assert got.sender == t1.keys
    assert got.forwarded_key
    # the origin's own history share is accepted as well
    (ct3,) = t1.encrypt_for([_claim(p2)], h)
    p2.cases.accept_room_key(p2.decrypt(ct3))
    assert p2.cases.decrypt_case_content(first).sender == t1.keys
    # a family device does not pass on the therapist's history (it would be refused)
    assert p1.cases.history_shares_for("case-1") == []


def test_share_origin_must_match_known_keys(tmp_path: Path) -> None:
    t, p = _device(tmp_path, "therapist", "D"), _device(tmp_path, "parent", "D")
    claimed = _claim(p)
    (hello,) = t.encrypt_for([claimed], TextMessage(body="hi"))
    p.decrypt(hello)  # p now knows t's keys
    t.cases.room_key_share_for("case-1")
    (h,) = t.cases.history_shares_for("case-1")
    (ct,) = t.encrypt_for([_peer(p)], h)
    received = p.decrypt(ct)
    with pytest.raises(UntrustedKeyShareError, match="key directory"):
        p.cases.accept_room_key(received, expected_origin=_peer(p))
    assert p.cases.accept_room_key(received, expected_origin=_peer(t)).origin == t.keys


def test_cross_signed_bundle(tmp_path: Path) -> None:
    master = UserMasterKey.generate("@therapist:kaari")
    d = _device(tmp_path, "therapist", "LAPTOP", master_key=master)
    verify_cross_signed_device(d.signed_device_bundle(), master.public_key)
    reopened = Device.open(d._store.path, SECRET)
    assert reopened.master_key is not None
    assert reopened.master_key.public_key == master.public_key


_texts = st.text(max_size=2000)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(bodies=st.lists(_texts, min_size=1, max_size=4))
def test_arbitrary_payloads_survive_encrypt_decrypt(tmp_path: Path, bodies: list[str]) -> None:
    root = tmp_path / os.urandom(6).hex()
    a = Device.create(root / "a", SECRET, "@a:k", "A")
    b = Device.create(root / "b", SECRET, "@b:k", "B")
    peer = _claim(b)
    for body in bodies:
        (ct,) = a.encrypt_for([peer], TextMessage(body=body))
        assert b.decrypt(decode_ciphertext(encode(ct))).payload == TextMessage(body=body)  # type: ignore[arg-type]
        note = CancellationNote(appointment_id="ap", note=body)
        (share,) = a.encrypt_for([peer], a.cases.room_key_share_for("c"))
        b.cases.accept_room_key(b.decrypt(share))
        mct = a.cases.encrypt_case_content("c", note)
        assert b.cases.decrypt_case_content(mct).payload == note
