"""SAS emoji verification between reference clients through a real app (the remote case):
a guardian and the therapist verify each other, a mismatch cancels and verifies nothing,
and a guardian's phone verifies her new tablet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import World
from litestar.testing import TestClient
from mx_client_support import Devices

from client.matrix import MatrixClient
from client.matrix.sas import SasVerifier
from crypto.matrix.trust import DeviceTrust


def _trust(viewer: MatrixClient, of: MatrixClient) -> DeviceTrust:
    viewer.device.track_users([of.user_id])
    viewer.query_keys()
    keys = viewer.device.directory.device(of.user_id, of.device_id)
    assert keys is not None
    return viewer.device.trust(keys)


def _to_codes(asker: SasVerifier, asked: SasVerifier) -> str:
    """Request, ready, start, accept and both keys, one sync at a time as it would go."""
    txn = asker.request(asked.client.user_id, asked.client.device_id)
    asked.sync()
    assert asked.incoming == [txn]
    asked.accept(txn)
    for side in (asker, asked, asker, asked, asker):  # ready→start→accept→key→key
        side.sync()
    assert (asker.state(txn), asked.state(txn)) == ("shown", "shown")
    assert asker.emoji(txn) == asked.emoji(txn)
    assert len(asker.emoji(txn)) == 7
    assert asker.decimals(txn) == asked.decimals(txn)
    return txn


def test_a_guardian_and_the_therapist_verify_each_other_by_emoji(
    client: TestClient[Any], world: World, tmp_path: Path
) -> None:
    devices = Devices(client, tmp_path)
    terhi, anna = devices.open(world.therapist, "terhi"), devices.open(world.guardian, "anna")
    terhi.bootstrap_cross_signing()  # Anna has none yet: the flow creates hers
    t, a = SasVerifier(terhi), SasVerifier(anna)
    assert _trust(anna, terhi) is DeviceTrust.CROSS_SIGNED
    txn = _to_codes(a, t)
    t.confirm(txn)
    assert t.state(txn) == "shown"  # waiting for Anna's MAC
    a.confirm(txn)
    a.sync()  # Terhi's MAC: checked, Anna signs Terhi's master key, done
    t.sync()  # Anna's MAC and done
    a.sync()  # Terhi's done
    assert (a.state(txn), t.state(txn)) == ("done", "done")
    result = a.result(txn)
    assert result is not None
    assert terhi.device.cross_signing is not None
    assert result.master_key == terhi.device.cross_signing.master.public_key
    assert _trust(anna, terhi) is DeviceTrust.VERIFIED
    assert _trust(terhi, anna) is DeviceTrust.VERIFIED


def test_emoji_that_differ_cancel_on_both_sides_and_verify_nothing(
    client: TestClient[Any], world: World, tmp_path: Path
) -> None:
    devices = Devices(client, tmp_path)
    terhi, anna = devices.open(world.therapist, "terhi"), devices.open(world.guardian, "anna")
    terhi.bootstrap_cross_signing()
    t, a = SasVerifier(terhi), SasVerifier(anna)
    txn = _to_codes(t, a)
    t.confirm(txn)  # the therapist's screen looked right to her
    a.cancel(txn, "m.mismatched_sas", "the emoji differ")
    t.sync()
    assert (t.state(txn), t.cancelled[txn]) == ("cancelled", "m.mismatched_sas")
    a.sync()  # Terhi's MAC comes after the cancel: ignored
    assert a.state(txn) == "cancelled"
    assert a.result(txn) is None
    assert _trust(anna, terhi) is DeviceTrust.CROSS_SIGNED  # nothing signed either way
    assert _trust(terhi, anna) is DeviceTrust.CROSS_SIGNED


def test_a_guardians_phone_verifies_her_new_tablet(
    client: TestClient[Any], world: World, tmp_path: Path
) -> None:
    devices = Devices(client, tmp_path)
    phone = devices.open(world.guardian, "phone")
    phone.bootstrap_cross_signing()
    tablet = devices.login("guardian1@example.fi", "tablet")[1]
    p, t = SasVerifier(phone), SasVerifier(tablet)
    assert _trust(tablet, phone) is DeviceTrust.CROSS_SIGNED  # the server's word only
    txn = _to_codes(t, p)  # the new tablet asks
    p.confirm(txn)
    t.confirm(txn)
    t.sync()  # the phone's MAC proves the master key: the tablet trusts it
    p.sync()  # the tablet's MAC: the phone cross-signs the tablet
    t.sync()
    assert (p.state(txn), t.state(txn)) == ("done", "done")
    assert _trust(phone, tablet) is DeviceTrust.VERIFIED
    assert _trust(tablet, phone) is DeviceTrust.VERIFIED


def test_only_the_other_party_steers_a_flow_and_a_withdrawn_request_leaves(
    client: TestClient[Any], world: World, tmp_path: Path
) -> None:
    devices = Devices(client, tmp_path)
    terhi, anna = devices.open(world.therapist, "terhi"), devices.open(world.guardian, "anna")
    g2 = devices.open(world.guardian2, "g2")
    t, a = SasVerifier(terhi), SasVerifier(anna)
    txn = t.request(anna.user_id, anna.device_id)
    a.sync()
    assert a.incoming == [txn]
    # another member of the case cancels in the flow's name: not hers to cancel
    forged = {"transaction_id": txn, "code": "m.user", "reason": "x"}
    g2.http.send_to_device(
        "m.key.verification.cancel", "f1", {"messages": {anna.user_id: {anna.device_id: forged}}}
    )
    a.sync()
    assert (a.incoming, a.state(txn)) == ([txn], "requested")
    t.cancel(txn)  # the therapist withdraws it
    a.sync()
    assert (a.incoming, a.state(txn), a.cancelled[txn]) == ([], "cancelled", "m.user")
