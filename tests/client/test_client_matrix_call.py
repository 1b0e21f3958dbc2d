"""Call offers and answers authenticated by the Matrix client against a real app: the
``org.kaari.call.sdp`` event goes through the to-device mailbox, the receiver finds it in
sync's to-device results and checks the SDP against it. A relay that swaps a fingerprint,
replays or reflects an SDP, another device, or a device not cross-signed is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import World
from litestar.testing import TestClient
from mx_client_support import Devices

from client.matrix import MatrixClient
from crypto.matrix.call import CallAuthError

FP_OFFER = "sha-256 " + ":".join(f"{i:02X}" for i in range(32))
FP_ANSWER = "sha-256 " + ":".join(f"{(7 * i) % 256:02X}" for i in range(32))
FP_MALLORY = "sha-256 " + ":".join(f"{255 - i:02X}" for i in range(32))
CALL = "1d7a4e2c-0f3b-4c55-8e61-5b2f7c9a0d34"
QUICK = 0.3  # seconds to wait for an authentication that will not come


def _sdp(fingerprint: str, session: int = 1) -> str:
    lines = [
        "v=0",
        f"o=- {session} 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "c=IN IP4 0.0.0.0",
        f"a=fingerprint:{fingerprint}",
        "a=setup:actpass",
    ]
    return "\r\n".join(lines) + "\r\n"


def _cross_signed(devices: Devices, session: Any, name: str) -> MatrixClient:
    c = devices.open(session, name)
    c.bootstrap_cross_signing()
    return c


def _send(sender: MatrixClient, to: MatrixClient, sdp: str, kind: str = "offer") -> None:
    sender.send_call_sdp(to.user_id, to.device_id, call_id=CALL, kind=kind, sdp=sdp)


def _check(to: MatrixClient, sender: MatrixClient, sdp: str, **kwargs: Any) -> None:
    args: dict[str, Any] = {"call_id": CALL, "kind": "offer", "sdp": sdp} | kwargs
    to.authenticate_call_sdp(sender.user_id, sender.device_id, **args)


def _refused(to: MatrixClient, sender: MatrixClient, sdp: str, **kwargs: Any) -> str:
    with pytest.raises(CallAuthError) as refused:
        _check(to, sender, sdp, **kwargs)
    return refused.value.code


@pytest.fixture
def pair(client: TestClient[Any], world: World, tmp_path: Path) -> tuple[MatrixClient, ...]:
    devices = Devices(client, tmp_path)
    terhi = _cross_signed(devices, world.therapist, "terhi")
    anna = _cross_signed(devices, world.guardian, "anna")
    for c in (terhi, anna):
        c.sync()
    return terhi, anna


def test_an_offer_and_its_answer_authenticate_through_the_mailbox(
    pair: tuple[MatrixClient, MatrixClient],
) -> None:
    terhi, anna = pair
    offer, answer = _sdp(FP_OFFER), _sdp(FP_ANSWER)
    _send(anna, terhi, offer)
    _check(terhi, anna, offer)
    _send(terhi, anna, answer, "answer")
    _check(anna, terhi, answer, kind="answer")
    # a new offer in the same call (an ICE restart) authenticates with its own event
    again = _sdp(FP_OFFER, session=2)
    _send(anna, terhi, again)
    _check(terhi, anna, again)


def test_a_swapped_fingerprint_is_refused_and_the_real_sdp_still_passes(
    pair: tuple[MatrixClient, MatrixClient],
) -> None:
    terhi, anna = pair
    offer = _sdp(FP_OFFER)
    _send(anna, terhi, offer)
    swapped = offer.replace(FP_OFFER, FP_MALLORY)
    assert _refused(terhi, anna, swapped) == "sdp_changed"
    _check(terhi, anna, offer)  # the authentication was not used up by the forgery


def test_a_replayed_or_reflected_sdp_finds_no_authentication(
    pair: tuple[MatrixClient, MatrixClient],
) -> None:
    terhi, anna = pair
    offer = _sdp(FP_OFFER)
    _send(anna, terhi, offer)
    _check(terhi, anna, offer)
    # the relay sends the same offer again: its authentication was used once
    assert _refused(terhi, anna, offer, wait_seconds=QUICK) == "missing_auth"
    # the relay reflects the guardian's offer back to her as the therapist's answer
    assert _refused(anna, terhi, offer, kind="answer", wait_seconds=QUICK) == "missing_auth"
    # ... or the offer's authentication into another call, or as another kind
    _send(anna, terhi, offer)
    assert _refused(terhi, anna, offer, call_id="another-call") == "wrong_call"
    assert _refused(terhi, anna, offer, kind="answer") == "wrong_kind"


def test_another_device_or_one_not_cross_signed_is_refused(
    client: TestClient[Any], world: World, tmp_path: Path
) -> None:
    devices = Devices(client, tmp_path)
    terhi = _cross_signed(devices, world.therapist, "terhi")
    anna = _cross_signed(devices, world.guardian, "anna")
    mikko = devices.open(world.guardian2, "mikko")  # never bootstrapped cross-signing
    _, tablet = devices.login("guardian1@example.fi", "tablet")  # Anna's, not cross-signed
    for c in (terhi, anna, mikko, tablet):
        c.sync()
    offer = _sdp(FP_OFFER)
    # the tablet authenticates an offer the relay says comes from Anna's phone
    _send(tablet, terhi, offer)
    assert _refused(terhi, anna, offer) == "wrong_device"
    # the call is with the tablet: it is Anna's, but she never cross-signed it
    assert _refused(terhi, tablet, offer) == "untrusted_device"
    _send(mikko, terhi, offer)
    assert _refused(terhi, mikko, offer) == "untrusted_device"
    # cross-signed by its owner is not verified: refused where verification is required
    _send(anna, terhi, offer)
    assert _refused(terhi, anna, offer, require_verified=True) == "untrusted_device"
    _check(terhi, anna, offer)
