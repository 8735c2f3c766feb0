"""InProcessBus: the change feed of one process, with the same contract as Redis pub/sub."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from app.adapters.bus.memory import InProcessBus
from app.domain.change import ChangeMessage
from tests.polling import eventually


def activate(version: str) -> ChangeMessage:
    return ChangeMessage("activate", version=version)


class Recorder:
    """Records what a listener saw, and how many messages it was handling at once."""

    def __init__(self, *, delay_s: float = 0.0, fail_on: str | None = None) -> None:
        self.delay_s = delay_s
        self.fail_on = fail_on
        self.messages: list[ChangeMessage] = []
        self.events: list[str] = []
        self.subscribed = 0
        self.active = self.max_active = 0

    async def on_message(self, message: ChangeMessage) -> None:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            await asyncio.sleep(self.delay_s)
            if self.fail_on is not None and message.version == self.fail_on:
                raise RuntimeError("handler failed")
            self.messages.append(message)
            self.events.append(f"message:{message.version}")
        finally:
            self.active -= 1

    async def on_subscribed(self) -> None:
        self.subscribed += 1
        self.events.append("subscribed")

    @property
    def versions(self) -> list[str | None]:
        return [message.version for message in self.messages]


@contextlib.asynccontextmanager
async def listening(bus: InProcessBus, recorder: Recorder) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(bus.listen(recorder.on_message, recorder.on_subscribed))
    try:
        await eventually(lambda: recorder.subscribed > 0)
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_connected_only_while_someone_listens_and_until_closed() -> None:
    bus, recorder = InProcessBus(), Recorder()
    assert not bus.connected
    async with listening(bus, recorder) as task:
        assert bus.connected
        await bus.close()
        await asyncio.wait_for(task, 5)
        assert not bus.connected


async def test_every_listener_gets_every_message_in_order() -> None:
    bus, first, second = InProcessBus(), Recorder(), Recorder()
    async with listening(bus, first), listening(bus, second):
        for i in range(20):
            await bus.publish(activate(f"v{i}"))
        await eventually(lambda: len(first.messages) == len(second.messages) == 20)
    assert first.versions == second.versions == [f"v{i}" for i in range(20)]


async def test_a_slow_handler_sees_messages_one_at_a_time_and_none_is_dropped() -> None:
    bus, recorder = InProcessBus(), Recorder(delay_s=0.005)
    async with listening(bus, recorder):
        for i in range(30):
            await bus.publish(activate(f"v{i}"))
        await eventually(lambda: len(recorder.messages) == 30)
    assert recorder.versions == [f"v{i}" for i in range(30)]
    assert recorder.max_active == 1


async def test_on_subscribed_runs_once_before_any_message() -> None:
    bus = InProcessBus()
    recorder = Recorder()
    gate = asyncio.Event()

    async def slow_subscribed() -> None:
        await gate.wait()
        await recorder.on_subscribed()

    task = asyncio.create_task(bus.listen(recorder.on_message, slow_subscribed))
    try:
        await eventually(lambda: bus.connected)
        await bus.publish(activate("during-reconcile"))  # queued, not lost
        gate.set()
        await eventually(lambda: len(recorder.messages) == 1)
        assert recorder.events == ["subscribed", "message:during-reconcile"]
    finally:
        await bus.close()
        await asyncio.wait_for(task, 5)


async def test_a_failing_handler_does_not_stop_the_messages_behind_it() -> None:
    bus, recorder = InProcessBus(), Recorder(fail_on="v1")
    async with listening(bus, recorder):
        for version in ("v1", "v2"):
            await bus.publish(activate(version))
        await eventually(lambda: recorder.versions == ["v2"])


async def test_a_message_published_before_anyone_listens_waits_for_the_first_listener() -> None:
    bus, first, second = InProcessBus(), Recorder(), Recorder()
    await bus.publish(activate("early"))
    async with listening(bus, first), listening(bus, second):
        await bus.publish(activate("heard"))
        await eventually(lambda: first.versions == ["early", "heard"])
        await eventually(lambda: second.versions == ["heard"])
    assert first.events[0] == "subscribed"  # the backlog comes after the reconcile


async def test_a_closed_bus_refuses_to_publish_and_listen_returns_at_once() -> None:
    bus, recorder = InProcessBus(), Recorder()
    await bus.close()
    with pytest.raises(RuntimeError):
        await bus.publish(activate("late"))
    await asyncio.wait_for(bus.listen(recorder.on_message, recorder.on_subscribed), 5)
    assert recorder.subscribed == 0


async def test_a_handler_that_swallows_the_cancellation_does_not_keep_the_listener_alive() -> None:
    bus, entered = InProcessBus(), asyncio.Event()

    async def stubborn(message: ChangeMessage) -> None:
        entered.set()
        with contextlib.suppress(asyncio.CancelledError):  # as 3.11's wait_for may
            await asyncio.sleep(10)

    async def subscribed() -> None:
        return None

    task = asyncio.create_task(bus.listen(stubborn, subscribed))
    await eventually(lambda: bus.connected)
    await bus.publish(activate("v1"))
    await asyncio.wait_for(entered.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
