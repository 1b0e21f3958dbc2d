"""The push-service stand-in is strict: it decrypts RFC 8291's own example, accepts what
the app's sender makes, and refuses a tampered signature, a foreign key, a wrong
audience, an old token and a message encrypted for someone else."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from push_service import PushService, Refused, b64u, decrypt, unb64u, verify_vapid

from app.notifications.outbox import push_payload
from app.notifications.webpush import Vapid, encrypt, encrypt_with, load_private_key

# RFC 8291 section 5 (Push Message Encryption Example)
RFC_PLAINTEXT = b"When I grow up, I want to be a watermelon"
RFC_AS_PRIVATE = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
RFC_UA_PRIVATE = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
RFC_UA_PUBLIC = (
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
)
RFC_AUTH = "BTBZMqHH6r4Tts7J_aSIgg"
RFC_SALT = "DGv6ra1nlYgDCS1FRnbzlw"
RFC_BODY = (
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml"
    "mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT"
    "pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
)


@pytest.fixture
def vapid() -> Vapid:
    return Vapid(ec.generate_private_key(ec.SECP256R1()), "mailto:ops@example.fi")


@pytest.fixture
def service(vapid: Vapid) -> Iterator[PushService]:
    s = PushService(expected_key=vapid.public_key)
    yield s
    s.close()


def post(endpoint: str, body: bytes, authorization: str) -> httpx.Response:
    return httpx.post(
        endpoint,
        content=body,
        headers={"authorization": authorization, "content-encoding": "aes128gcm", "ttl": "60"},
        timeout=5,
    )


def test_the_stand_in_decrypts_the_rfc_example_and_the_app_reproduces_it() -> None:
    ua = load_private_key(RFC_UA_PRIVATE)
    assert decrypt(unb64u(RFC_BODY), ua, unb64u(RFC_AUTH)) == RFC_PLAINTEXT
    body = encrypt_with(
        RFC_PLAINTEXT, RFC_UA_PUBLIC, RFC_AUTH, load_private_key(RFC_AS_PRIVATE), unb64u(RFC_SALT)
    )
    assert b64u(body) == RFC_BODY


def test_a_message_from_the_app_is_verified_decrypted_and_recorded(
    service: PushService, vapid: Vapid
) -> None:
    sub = service.subscribe()
    payload = push_payload("appointment_cancelled", {"appointmentId": "a1"})
    r = post(
        sub.endpoint,
        encrypt(payload, sub.p256dh, b64u(sub.auth)),
        vapid.authorization(sub.endpoint),
    )
    assert r.status_code == 201
    assert service.for_subscription(sub) == [
        {"type": "appointment_cancelled", "ids": {"appointmentId": "a1"}}
    ]
    assert service.refused == []


def test_a_tampered_signature_is_refused(service: PushService, vapid: Vapid) -> None:
    sub = service.subscribe()
    auth = vapid.authorization(sub.endpoint)
    token = auth.split("t=")[1].split(",")[0]
    head, claims, signature = token.split(".")
    forged_claims = b64u(unb64u(claims).replace(b"mailto:ops", b"mailto:eve"))
    flipped = b64u(bytes([unb64u(signature)[0] ^ 1]) + unb64u(signature)[1:])
    body = encrypt(b'{"type":"x","ids":{}}', sub.p256dh, b64u(sub.auth))
    for bad in (f"{head}.{forged_claims}.{signature}", f"{head}.{claims}.{flipped}"):
        r = post(sub.endpoint, body, auth.replace(token, bad))
        assert r.status_code == 401
    assert [reason for _, reason in service.refused] == ["bad_signature", "bad_signature"]
    assert service.received == []


def test_a_token_signed_by_another_key_is_refused(service: PushService, vapid: Vapid) -> None:
    sub = service.subscribe()
    other = Vapid(ec.generate_private_key(ec.SECP256R1()), "mailto:ops@example.fi")
    body = encrypt(b'{"type":"x","ids":{}}', sub.p256dh, b64u(sub.auth))
    # signed by another key but claiming the server's key: the signature does not verify
    forged = other.authorization(sub.endpoint).split(", k=")[0] + f", k={vapid.public_key}"
    assert post(sub.endpoint, body, forged).status_code == 401
    # honestly another key: not the key the application server published
    assert post(sub.endpoint, body, other.authorization(sub.endpoint)).status_code == 403
    assert [reason for _, reason in service.refused] == ["bad_signature", "unexpected_key"]


def test_wrong_audience_and_expired_tokens_are_refused(vapid: Vapid) -> None:
    origin = "http://127.0.0.1:9"
    with pytest.raises(Refused, match="bad_aud"):
        verify_vapid(vapid.authorization("https://push.example/x"), origin, vapid.public_key)
    with pytest.raises(Refused, match="bad_exp"):
        verify_vapid(vapid.authorization(origin + "/x", now=time.time() - 13 * 3600), origin, None)
    assert verify_vapid(vapid.authorization(origin + "/x"), origin, vapid.public_key)["sub"]


def test_a_message_for_another_subscription_does_not_decrypt(
    service: PushService, vapid: Vapid
) -> None:
    sub, other = service.subscribe(), service.subscribe()
    body = encrypt(b'{"type":"x","ids":{}}', other.p256dh, b64u(other.auth))
    assert post(sub.endpoint, body, vapid.authorization(sub.endpoint)).status_code == 400
    wrong_auth = encrypt(b'{"type":"x","ids":{}}', sub.p256dh, b64u(b"\x00" * 16))
    assert post(sub.endpoint, wrong_auth, vapid.authorization(sub.endpoint)).status_code == 400
    assert [reason for _, reason in service.refused] == ["decryption_failed"] * 2
    assert service.received == []
