"""The Faust app's deliberate departures from Faust's defaults (streams/app.py)."""

from __future__ import annotations

import asyncio
import inspect

import pytest
from aiokafka import AIOKafkaConsumer

from streams.settings import get_settings


def test_worker_consumer_takes_the_fetch_wait_from_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Faust creates the worker's consumer with fetch_max_wait_ms=1500 whatever the settings;
    the embedded broker then holds every empty fetch that long (a stall per stage hop)."""
    from streams.app import app

    monkeypatch.setenv("MDA_FETCH_MAX_WAIT_MS", "37")
    get_settings.cache_clear()

    async def build() -> AIOKafkaConsumer:
        thread = app.consumer._new_consumer_thread()
        consumer: AIOKafkaConsumer = thread._create_worker_consumer(app.transport)
        return consumer

    try:
        consumer = asyncio.run(build())
        assert consumer._fetch_max_wait_ms == 37
    finally:
        monkeypatch.delenv("MDA_FETCH_MAX_WAIT_MS")
        get_settings.cache_clear()
    # The attribute is what aiokafka's consumer hands its Fetcher when it starts.
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in inspect.getsource(AIOKafkaConsumer.start)


def test_resuming_running_flow_keeps_the_queues() -> None:
    """Faust's recovery resumes flow that is already running; that must not clear the agents'
    queues (faust-streaming/faust#596). Suspended flow resumed still clears them."""
    from mode.utils.queues import FlowControlQueue

    from streams.app import FlowControl

    async def run() -> tuple[int, int]:
        flow = FlowControl()
        # As Faust makes an agent's input queue (faust/channels.py).
        queue: FlowControlQueue[str] = FlowControlQueue(flow_control=flow, clear_on_resume=True)
        flow.resume()
        queue.put_nowait("fetched during the seek")
        flow.resume()  # running: nothing cleared
        kept = queue.qsize()
        flow.suspend()
        flow.resume()  # suspended then resumed: cleared, as Faust means it
        return kept, queue.qsize()

    assert asyncio.run(run()) == (1, 0)
