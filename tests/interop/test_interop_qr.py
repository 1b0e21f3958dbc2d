"""Cross-signing trust from the first-visit QR, against matrix-sdk-crypto-wasm and a real
``kaari serve``.

- A Python family device (client/matrix) joins by the QR of a therapist whose devices are
  OlmMachines and verifies her with ``verify_from_qr``: the Rust side accepts the family's
  new cross-signing identity, and the family's strict send reaches the therapist's
  verified laptop while her unverified tablet is told ``m.unverified``.
- An OlmMachine family device joins by the QR of a Python therapist and verifies her the
  SDK's way (``getIdentity`` → compare the master key with the QR's → ``verify()``): the SDK
  then reports her identity and cross-signed device verified, and its
  ``onlyTrustedDevices`` share reaches that device and withholds from her unverified one.
- The remote case: the therapist's SDK asks the family's ``SasVerifier`` for SAS emoji
  through the server; afterwards each side trusts the other.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from interop_peers import NodeDriver
from rust_client import RustClient
from servers import KaariServer, fresh_postgres_database

from app.messaging.service import thread_id_of
from client.matrix import MatrixClient, MatrixHttp
from client.matrix.invite_qr import InviteQr, parse_invite_qr
from client.matrix.sas import SasVerifier
from client.matrix.verify import accept_invite_from_qr, verify_from_qr
from crypto.matrix.trust import DeviceTrust

PASSWORD = "interop-Passw0rd-61c2"


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KaariServer]:
    env = {"KAARI_DATA_DIR": str(tmp_path / "data"), "KAARI_SERVER_NAME": "kaari.test"}
    database = (
        fresh_postgres_database() if request.param == "postgresql" else contextlib.nullcontext("")
    )
    with database as url:
        if url:
            env["KAARI_DATABASE_URL"] = url
        srv = KaariServer(env, tmp_path / "server.log")
        try:
            yield srv
        finally:
            srv.stop()


class Org:
    """An organisation with a therapist and a case, on a started server."""

    def __init__(self, server: KaariServer) -> None:
        org = server.cli("admin", "create-org", "--name", "Terapia Oy")
        server.cli(
            "admin", "create-user", "--org", org, "--email", "admin@example.fi",
            "--display-name", "Admin", "--password-stdin", stdin=PASSWORD + "\n",
        )  # fmt: skip
        server.start()
        self.url = server.url
        self.http = httpx.Client(base_url=server.url, timeout=30)
        admin = self.login("admin@example.fi", "admin")
        r = self.http.post("/org/invites", json={"role": "therapist"}, headers=_auth(admin))
        assert r.status_code == 201, r.text
        body = {
            "code": r.json()["code"],
            "email": "terhi@example.fi",
            "password": PASSWORD,
            "displayName": "Terhi",
            "device": {"name": "laptop"},
        }
        r = self.http.post("/invites/accept", json=body)
        assert r.status_code == 201, r.text
        self.therapist_token: str = r.json()["token"]
        r = self.http.post(
            "/cases", json={"childDisplayName": "Eino"}, headers=_auth(self.therapist_token)
        )
        assert r.status_code == 201, r.text
        self.case_id: str = r.json()["id"]
        self.room = f"!{thread_id_of(UUID(self.case_id), 'family')}:kaari.test"

    def login(self, email: str, device: str) -> str:
        body = {"email": email, "password": PASSWORD, "device": {"name": device}}
        r = self.http.post("/auth/login", json=body)
        assert r.status_code == 200, r.text
        token: str = r.json()["token"]
        return token

    def qr_text(self) -> str:
        """What the therapist's app shows: the invite answer made into the QR's text."""
        r = self.http.post(
            f"/cases/{self.case_id}/invites", json={}, headers=_auth(self.therapist_token)
        )
        assert r.status_code == 201, r.text
        return InviteQr.from_invite(r.json()).encode()


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _python(org: Org, token: str, path: Path) -> MatrixClient:
    return MatrixClient.open(MatrixHttp.connect(org.url, token), path, os.urandom(32))


def _close(*clients: MatrixClient | RustClient | None) -> None:
    for c in clients:
        if isinstance(c, MatrixClient):
            c.close()
            c.http.close()
        elif c is not None:
            c.close()


def test_a_python_family_verifies_a_rust_therapist_from_the_qr(
    node_driver: NodeDriver, server: KaariServer, tmp_path: Path
) -> None:
    org = Org(server)
    terhi = RustClient(node_driver, "terhi", org.url, org.therapist_token)
    tablet: RustClient | None = None
    mia: MatrixClient | None = None
    try:
        master = terhi.bootstrap_cross_signing()
        qr = org.qr_text()
        assert parse_invite_qr(qr).inviter_master_key == master
        tablet = RustClient(node_driver, "tablet", org.url, org.login("terhi@example.fi", "tab"))
        login = accept_invite_from_qr(
            org.http, qr, email="mia@example.fi", password=PASSWORD,
            display_name="Mia", device_name="phone",
        )  # fmt: skip
        mia = _python(org, login.token, tmp_path / "mia")
        mia.sync()

        result = verify_from_qr(mia, qr)
        assert result.verified_devices == [terhi.device]  # the tablet is not cross-signed
        assert result.bootstrapped_cross_signing is True
        laptop_keys = mia.device.directory.device(terhi.user, terhi.device)
        tablet_keys = mia.device.directory.device(terhi.user, tablet.device)
        assert laptop_keys is not None
        assert tablet_keys is not None
        assert mia.device.trust(laptop_keys) is DeviceTrust.VERIFIED
        assert mia.device.trust(tablet_keys) is DeviceTrust.UNTRUSTED

        # The SDK accepts the identity our verify_from_qr made for Mia and her phone in it.
        terhi.call("update_tracked", users=[mia.user_id])
        terhi.sync()
        identity = terhi.call("identity", user=mia.user_id)
        assert mia.device.cross_signing is not None
        assert list(identity["masterKey"]["keys"].values()) == [
            mia.device.cross_signing.master.public_key
        ]
        assert identity["isVerified"] is False  # the therapist has not verified Mia
        phone = terhi.call("device_info", user=mia.user_id, device=mia.device_id)
        assert phone["isCrossSignedByOwner"] is True

        # Mia writes for verified devices only.
        mia.send_message(
            org.room, {"msgtype": "m.text", "body": "Vain Terhille"}, only_verified=True
        )
        terhi.sync()
        tablet.sync()
        assert terhi.texts(org.room) == ["Vain Terhille"]
        assert tablet.texts(org.room) == [None]
        withheld = tablet.call("withheld")
        assert [(w["code"], w["sender"]) for w in withheld] == [("m.unverified", mia.user_id)]
    finally:
        _close(mia, terhi, tablet)


def test_a_rust_family_verifies_a_python_therapist_from_the_qr(
    node_driver: NodeDriver, server: KaariServer, tmp_path: Path
) -> None:
    org = Org(server)
    terhi = _python(org, org.therapist_token, tmp_path / "terhi")
    tablet: MatrixClient | None = None
    mia: RustClient | None = None
    try:
        master = terhi.bootstrap_cross_signing()
        tablet = _python(org, org.login("terhi@example.fi", "tab"), tmp_path / "tablet")
        # The family's app (an OlmMachine) scans the QR and joins with its key.
        invite = parse_invite_qr(org.qr_text())
        assert invite.inviter_master_key == master
        body = {
            "code": invite.code,
            "email": "mia@example.fi",
            "password": PASSWORD,
            "displayName": "Mia",
            "device": {"name": "phone", "platform": "web"},
            "inviterMasterKey": invite.inviter_master_key,
        }
        r = org.http.post("/invites/accept", json=body)
        assert r.status_code == 201, r.text
        mia = RustClient(node_driver, "mia", org.url, r.json()["token"])
        mia.bootstrap_cross_signing()
        mia.sync()

        # Compare the server's master key with the QR's, then verify with the SDK.
        mia.call("update_tracked", users=[invite.inviter_user_id])
        mia.process_outgoing()
        identity = mia.call("identity", user=invite.inviter_user_id)
        assert list(identity["masterKey"]["keys"].values()) == [invite.inviter_master_key]
        assert identity["isVerified"] is False
        laptop = mia.call("device_info", user=terhi.user_id, device=terhi.device_id)
        assert (laptop["isCrossSignedByOwner"], laptop["isVerified"]) == (True, False)
        mia.send_request(mia.call("verify_identity", user=invite.inviter_user_id))
        mia.sync()  # the signature changed the therapist's keys: the SDK queries again
        assert mia.call("identity", user=terhi.user_id)["isVerified"] is True
        laptop = mia.call("device_info", user=terhi.user_id, device=terhi.device_id)
        assert (laptop["isVerified"], laptop["isCrossSigningTrusted"]) == (True, True)
        assert (
            mia.call("device_info", user=terhi.user_id, device=tablet.device_id)["isVerified"]
            is False
        )

        # The SDK's strict share: the verified laptop gets the key, the tablet is told why not.
        epoch = mia.prepare(org.room, strategy="trusted")
        event_id = mia.send_text(org.room, "Vain varmennetuille", "m1", epoch)
        got = terhi.sync().messages
        assert [(m["event_id"], m["content"]["body"]) for m in got] == [
            (event_id, "Vain varmennetuille")
        ]
        results = tablet.sync().to_device
        assert [(r.type, r.content.get("code")) for r in results if r.kind == "plain"] == [
            ("m.room_key.withheld", "m.unverified")
        ]
        assert [(p["event"]["event_id"], p["reason"]) for p in tablet.undecryptable()] == [
            (event_id, "withheld")
        ]
    finally:
        _close(terhi, tablet, mia)


def test_the_remote_case_a_rust_therapist_and_a_python_family_verify_by_emoji(
    node_driver: NodeDriver, server: KaariServer, tmp_path: Path
) -> None:
    """No home visit: the therapist's SDK asks for SAS, the family's SasVerifier answers,
    both through the server's to-device mailboxes; then each side trusts the other."""
    org = Org(server)
    terhi = RustClient(node_driver, "terhi", org.url, org.therapist_token)
    mia: MatrixClient | None = None
    try:
        terhi.bootstrap_cross_signing()
        terhi.sync()  # her app is running: later syncs tell her of key changes
        code = InviteQr.from_invite(
            org.http.post(
                f"/cases/{org.case_id}/invites", json={}, headers=_auth(org.therapist_token)
            ).json()
        ).code  # told over the phone: joining without the QR's key
        login = MatrixHttp.accept_invite(
            org.http, code, email="mia@example.fi", password=PASSWORD,
            display_name="Mia", device_name="phone",
        )  # fmt: skip
        mia = _python(org, login.token, tmp_path / "mia")
        sas = SasVerifier(mia)
        sas.sync()
        terhi.call("update_tracked", users=[mia.user_id])
        terhi.process_outgoing()
        asked = terhi.call("request_verification", user=mia.user_id, device=mia.device_id)
        terhi.send_request(asked["request"])
        flow = asked["flowId"]
        sas.sync()
        assert sas.incoming == [flow]
        sas.accept(flow)
        terhi.sync()
        terhi.send_request(terhi.call("start_sas", user=mia.user_id, flow=flow))
        sas.sync()  # start -> accept
        terhi.sync()  # accept -> the SDK's key
        sas.sync()  # key -> our key
        terhi.sync()
        state = terhi.call("verification", user=mia.user_id, flow=flow)["sas"]
        assert sas.state(flow) == "shown"
        assert [(e["symbol"], e["description"]) for e in state["emoji"]] == sas.emoji(flow)
        assert tuple(state["decimals"]) == sas.decimals(flow)
        sas.confirm(flow)  # MACs her device and her master key (made when she accepted)
        for req in terhi.call("sas_confirm", user=mia.user_id, flow=flow):
            terhi.send_request(req)
        terhi.sync()  # Mia's MAC, then the SDK's done (and its user-signing signature)
        sas.sync()  # the SDK's MAC and done: Mia signs Terhi's master key, sends done
        terhi.sync()
        assert sas.state(flow) == "done"
        assert terhi.call("verification", user=mia.user_id, flow=flow)["done"] is True
        terhi.sync()
        assert terhi.call("identity", user=mia.user_id)["isVerified"] is True
        assert terhi.call("device_info", user=mia.user_id, device=mia.device_id)["isVerified"]
        laptop = mia.device.directory.device(terhi.user, terhi.device)
        assert laptop is not None
        assert mia.device.trust(laptop) is DeviceTrust.VERIFIED
    finally:
        _close(mia, terhi)
