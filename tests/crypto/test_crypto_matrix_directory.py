"""Device-list tracking: in-flight queries, changed keys, removed devices."""

from __future__ import annotations

from matrix_support import device, query_answer

from crypto.matrix.directory import DeviceDirectory


def test_a_change_during_a_query_keeps_the_user_outdated() -> None:
    bob = device("bob", "B1")
    directory = DeviceDirectory()
    directory.track([bob.user_id])
    assert directory.query_body() == {"device_keys": {bob.user_id: []}}
    assert directory.query_body() is None  # one query in flight per user
    directory.mark_changed([bob.user_id])
    changes = directory.on_query_response(query_answer(bob))
    assert [d.device_id for d in changes.new_devices] == ["B1"]
    assert directory.query_body() == {"device_keys": {bob.user_id: []}}


def test_answers_for_users_not_queried_are_ignored() -> None:
    bob, mallory = device("bob", "B1"), device("mallory", "M1")
    directory = DeviceDirectory()
    directory.track([bob.user_id])
    directory.query_body()
    directory.on_query_response(query_answer(bob, mallory))
    assert directory.user_devices(mallory.user_id) == []


def test_changed_keys_for_a_device_id_are_refused_and_bad_signatures_dropped() -> None:
    bob = device("bob", "B1")
    directory = DeviceDirectory()
    directory.track([bob.user_id])
    directory.query_body()
    directory.on_query_response(query_answer(bob))
    impostor = device("bob", "B1")  # same ids, other keys
    directory.mark_changed([bob.user_id])
    directory.query_body()
    changes = directory.on_query_response(query_answer(impostor))
    assert changes.refused_devices == [(bob.user_id, "B1", "keys_changed")]
    kept = directory.device(bob.user_id, "B1")
    assert kept is not None
    assert kept.ed25519 == bob.account.ed25519

    answer = query_answer(bob)
    answer["device_keys"][bob.user_id]["B1"]["algorithms"].append("x")  # breaks the signature
    directory.mark_changed([bob.user_id])
    directory.query_body()
    changes = directory.on_query_response(answer)
    assert changes.refused_devices == [(bob.user_id, "B1", "bad_signature")]
    assert [d.device_id for d in changes.removed_devices] == ["B1"]
    directory.mark_left([bob.user_id])
    assert directory.query_body() is None
