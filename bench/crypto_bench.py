"""Micro-benchmark of the E2E protocol (plain script, no assertions).

Measures, as medians over many runs:
* Olm: encrypt + decrypt of one 1 KiB message on an established session
  (crypto.olm, no store I/O) and through client.Device (with durable, fsynced
  SQLite commits), also with a full duplicate history (40k seen tags);
* Megolm: encrypt + decrypt of one 1 KiB case-content message;
* attachments: secretstream encrypt + decrypt per 1 MiB (8 MiB streamed).

Run: .venv/bin/python bench/crypto_bench.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from client.device import Device, PeerDevice
from crypto.attachments import decrypt_stream, encrypt_stream
from crypto.megolm import InboundCaseSession, OutboundCaseSession
from crypto.olm import OlmAccount
from crypto.payloads import PartyKeys, TextMessage


def median_us(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) / 1000)
    return statistics.median(samples)


def bench_olm(runs: int) -> float:
    alice, bob = OlmAccount.create("@a:k", "A"), OlmAccount.create("@b:k", "B")
    bob.generate_one_time_keys(1)
    (otk,) = bob.unpublished_one_time_keys().values()
    a2b = alice.create_outbound_session(bob.curve25519, otk["key"])
    b2a, _ = bob.create_inbound_session(alice.curve25519, a2b.encrypt(b"hi")[1])
    a2b.decrypt(*b2a.encrypt(b"ack"))
    msg = os.urandom(1024)
    return median_us(lambda: b2a.decrypt(*a2b.encrypt(msg)), runs)


def bench_device(runs: int, *, full_history: bool = False) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        secret = os.urandom(32)
        a = Device.create(Path(tmp) / "a", secret, "@a:k", "A")
        b = Device.create(Path(tmp) / "b", secret, "@b:k", "B")
        keys = b.one_time_keys_to_upload(0)
        b.mark_keys_published()
        peer = PeerDevice.from_bundle(b.signed_device_bundle(), next(iter(keys.values())))
        b.decrypt(a.encrypt_for([peer], TextMessage(body="hi"))[0])
        if full_history:  # as after 20k received messages: the store keeps 40k tags
            store = b._store
            with store.transaction():
                for i in range(store.seen_limit):
                    store.add_seen("bench", str(i))
        payload = TextMessage(body="x" * 1024)
        plain_peer = PeerDevice.from_bundle(b.signed_device_bundle())
        return median_us(lambda: b.decrypt(a.encrypt_for([plain_peer], payload)[0]), runs)


def bench_megolm(runs: int) -> float:
    out = OutboundCaseSession.create("case", 0)
    inbound = InboundCaseSession.from_session_key(
        "case", out.session_key(), PartyKeys("@a:k", "A", "A" * 43, "A" * 43)
    )
    msg = os.urandom(1024)
    return median_us(lambda: inbound.decrypt(out.encrypt(msg)), runs)


def bench_attachment(mib: int, runs: int) -> float:
    block = os.urandom(1024 * 1024)

    def once() -> None:
        stream = encrypt_stream(block for _ in range(mib))
        blob = list(stream)
        pointer = stream.pointer("b", "application/octet-stream")
        for _ in decrypt_stream(blob, pointer):
            pass

    return median_us(once, runs) / mib


def main() -> None:
    rows = [
        ("Olm encrypt+decrypt, 1 KiB (crypto.olm)", bench_olm(2000), "per message"),
        ("Olm via Device, 1 KiB (+ fsynced store)", bench_device(300), "per message"),
        (
            "  same, with a full duplicate history",
            bench_device(300, full_history=True),
            "per message",
        ),
        ("Megolm encrypt+decrypt, 1 KiB", bench_megolm(2000), "per message"),
        ("Attachment encrypt+decrypt (8 MiB stream)", bench_attachment(8, 10), "per MiB"),
    ]
    print(f"{'operation':<45} {'median':>12}  unit")
    print("-" * 70)
    for name, us, unit in rows:
        print(f"{name:<45} {us:>9.1f} µs  {unit}")


if __name__ == "__main__":
    main()
