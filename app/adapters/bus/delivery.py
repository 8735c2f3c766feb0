"""What every change feed's listener does the same way: call the handlers, never let one
failure stop the loop, and stop when cancelled even if the cancellation got lost."""

from __future__ import annotations

import asyncio

from app.domain.change import ChangeMessage
from app.services.feed import MessageHandler, SubscribedHandler
from app.services.logs import get_logger

log = get_logger("pkg.bus")


def cancel_swallowed() -> bool:
    """True when this task was cancelled but a handler swallowed the CancelledError (Python
    3.11's `asyncio.wait_for` does when the awaited call finishes at the same moment): the
    listener must still stop, or whoever cancelled it waits forever."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def call_subscribed(on_subscribed: SubscribedHandler) -> None:
    try:
        await on_subscribed()
    except Exception as exc:  # the listener's loop: log and go on, like the manager's loops
        log.error("feed_subscribed_handler_failed", error=str(exc), error_type=type(exc).__name__)


async def deliver(message: ChangeMessage, on_message: MessageHandler, **context: str) -> None:
    try:
        await on_message(message)
    except Exception as exc:  # one failed message must not stop the ones behind it
        log.error(
            "change_message_failed",
            message=message.encode(),
            error=str(exc),
            error_type=type(exc).__name__,
            **context,
        )
