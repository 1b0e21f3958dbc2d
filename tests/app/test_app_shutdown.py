"""An instance stops when it is told to, whatever its background jobs are doing.

Before this test, a notice committed just as the instance stopped could hang the shutdown
for good on Python 3.11: the outbox waited for its wake-up with ``asyncio.wait_for``,
which drops a cancellation that arrives in the same turn as the event it waits for, and
the instance then waited for a loop that no longer knew it was stopping (seen in CI as a
test that hung for 600 s in its app's teardown)."""

from __future__ import annotations

import asyncio

import pytest
from support import run

from app.config import Settings
from app.core.time import utcnow
from app.runtime import Runtime
from app.services import build_services, start_jobs

STOP_SECONDS = 15.0


def test_an_instance_stops_although_a_notice_arrives_as_it_stops(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async def go() -> None:
        for _ in range(3):  # each round meets the outbox waiting for its wake-up
            runtime = await Runtime.start(settings, utcnow)
            services = build_services(runtime)
            await start_jobs(runtime, services)
            await asyncio.sleep(0.5)  # the first round of every job is over: they wait
            services.outbox.wake()  # rows were committed: in the same turn as the stop
            stopping = asyncio.ensure_future(runtime.close())
            done, _ = await asyncio.wait([stopping], timeout=STOP_SECONDS)
            assert done, "the instance did not stop"
            stopping.result()
            await services.signaling.close()

    run(go())
    # and no job needed a second cancellation to stop
    assert not [r for r in caplog.records if "ignored its cancellation" in r.getMessage()]


def test_a_job_that_swallows_its_cancellation_is_cancelled_again(settings: Settings) -> None:
    swallowed: list[int] = []

    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed.append(1)  # what a job on asyncio.wait_for can do by accident

    async def go() -> None:
        runtime = await Runtime.start(settings, utcnow)
        runtime.spawn(stubborn(), "stubborn")
        await asyncio.sleep(0)
        stopping = asyncio.ensure_future(runtime.close())
        done, _ = await asyncio.wait([stopping], timeout=STOP_SECONDS)
        assert done, "the instance did not stop"
        stopping.result()
        assert swallowed == [1]

    run(go())
