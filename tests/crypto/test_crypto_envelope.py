"""Wire formats: versioned, tagged, bounded; property-based round trips."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.canonical import b64encode
from crypto.envelope import (
    MegolmCiphertext,
    OlmCiphertext,
    OlmPlaintext,
    decode,
    decode_ciphertext,
    encode,
)
from crypto.errors import EncodingError
from crypto.payloads import (
    AppointmentDetails,
    AttachmentPointer,
    CancellationNote,
    CompletionNote,
    HomeworkContent,
    PartyKeys,
    Payload,
    ReadReceipt,
    RoomKeyShare,
    TextMessage,
    TherapyDocument,
)

ids = st.text(min_size=1, max_size=40)
keys = st.binary(min_size=32, max_size=32).map(b64encode)
signatures = st.binary(min_size=64, max_size=64).map(b64encode)
millis = st.integers(min_value=0, max_value=2**53 - 1)
texts = st.text(max_size=300)
parties = st.builds(PartyKeys, user_id=ids, device_id=ids, curve25519=keys, ed25519=keys)
pointers = st.builds(
    AttachmentPointer,
    blob_id=ids,
    key=keys,
    sha256=keys,
    size=st.integers(min_value=0, max_value=25 * 1024 * 1024),
    media_type=st.sampled_from(["image/jpeg", "application/pdf", "video/mp4"]),
    file_name=st.none() | st.text(max_size=50),
)
payloads: st.SearchStrategy[Payload] = st.one_of(
    st.builds(TextMessage, body=texts, reply_to=st.none() | ids),
    st.builds(ReadReceipt, message_ids=st.lists(ids, min_size=1, max_size=5), read_at=millis),
    pointers,
    st.builds(
        HomeworkContent,
        task_id=ids,
        title=st.text(min_size=1, max_size=50),
        instructions=texts,
        media=st.lists(pointers, max_size=3),
    ),
    st.builds(AppointmentDetails, appointment_id=ids, address=texts, notes=texts),
    st.builds(CancellationNote, appointment_id=ids, note=texts),
    st.builds(
        RoomKeyShare,
        case_id=ids,
        session_id=st.text(min_size=1, max_size=128),
        session_key=st.binary(min_size=1, max_size=300).map(b64encode),
        exported=st.booleans(),
        first_index=st.integers(min_value=0, max_value=2**32 - 1),
        origin=parties,
        origin_signature=signatures,
    ),
    st.builds(
        CompletionNote,
        task_id=ids,
        day=st.dates().map(lambda d: d.isoformat()),
        note=st.text(max_size=2000),
        emoji=st.text(max_size=16),
    ),
    st.builds(TherapyDocument, title=st.text(min_size=1, max_size=200), attachment=pointers),
)
olm_ciphertexts = st.builds(
    OlmCiphertext,
    sender_user_id=ids,
    sender_device_id=ids,
    sender_curve25519=keys,
    recipient_user_id=ids,
    recipient_device_id=ids,
    message_type=st.sampled_from([0, 1]),
    body=st.binary(min_size=1, max_size=200).map(b64encode),
)
megolm_ciphertexts = st.builds(
    MegolmCiphertext,
    case_id=ids,
    sender_user_id=ids,
    sender_device_id=ids,
    sender_curve25519=keys,
    session_id=st.text(min_size=1, max_size=60),
    body=st.binary(min_size=1, max_size=200).map(b64encode),
)


@settings(max_examples=200)
@given(st.one_of(olm_ciphertexts, megolm_ciphertexts))
def test_ciphertext_round_trip(ct: OlmCiphertext | MegolmCiphertext) -> None:
    assert decode_ciphertext(encode(ct)) == ct


def test_payload_strategy_covers_every_kind() -> None:
    """Every member of the Payload union has a generator above (keep them in step)."""
    union = set(Payload.__args__)  # type: ignore[attr-defined]
    seen: set[type] = set()

    @settings(max_examples=300, database=None)
    @given(payloads)
    def collect(p: Payload) -> None:
        seen.add(type(p))

    collect()
    assert seen == union


@settings(max_examples=400)
@given(payloads, parties, parties, ids, millis)
def test_plaintext_round_trip(p: Payload, s: PartyKeys, r: PartyKeys, mid: str, t: int) -> None:
    pt = OlmPlaintext(message_id=mid, sent_at=t, sender=s, recipient=r, payload=p)
    assert decode(encode(pt), OlmPlaintext) == pt


def test_wire_shape_is_tagged_versioned_camel_case() -> None:
    ct = OlmCiphertext(
        sender_user_id="@a:k",
        sender_device_id="A",
        sender_curve25519="A" * 43,
        recipient_user_id="@b:k",
        recipient_device_id="B",
        message_type=0,
        body="QUJD",
    )
    raw = msgspec.json.decode(encode(ct))
    assert raw["type"] == "olm"
    assert raw["v"] == 1
    assert raw["senderCurve25519"] == "A" * 43
    assert raw["messageType"] == 0
    raw["v"] = 2
    with pytest.raises(EncodingError):
        decode_ciphertext(msgspec.json.encode(raw))
    raw["v"] = 1
    raw["type"] = "rot13"
    with pytest.raises(EncodingError):
        decode_ciphertext(msgspec.json.encode(raw))


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "text", "body": "x" * 20_001},
        {"type": "receipt", "messageIds": [], "readAt": 1},
        {
            "type": "attachment",
            "blobId": "b",
            "key": "short",
            "sha256": "A" * 43,
            "size": 1,
            "mediaType": "image/png",
        },
        {
            "type": "attachment",
            "blobId": "b",
            "key": "A" * 43,
            "sha256": "A" * 43,
            "size": -1,
            "mediaType": "image/png",
        },
        {"type": "text", "body": "hi", "unknown": 1},
        {"type": "homework", "taskId": "t", "title": ""},
        {"type": "completionNote", "taskId": "t", "day": "yesterday"},
        {"type": "completionNote", "taskId": "t", "day": "2024-01-01", "emoji": "x" * 17},
        {"type": "document", "title": "", "attachment": {}},
        {
            "type": "roomKey",
            "caseId": "c",
            "sessionId": "s",
            "sessionKey": "k",
            "exported": False,
            "firstIndex": 0,
            "origin": {"userId": "u", "deviceId": "d", "curve25519": "A" * 43, "ed25519": "A" * 43},
        },
    ],
)
def test_bounds_enforced(payload: dict[str, object]) -> None:
    with pytest.raises(EncodingError):
        decode(msgspec.json.encode(payload), Payload)  # type: ignore[arg-type]
