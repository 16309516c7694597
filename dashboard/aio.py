"""Task ownership for every layer: the one home of "cancel my tasks and wait for them".

Every background task in the dashboard has an owner that cancels and awaits it (ARCHITECTURE.md,
Concurrency). ``TaskOwner`` is that owner; ``cancel_and_wait`` is the one-task form. Both differ
from the ``task.cancel(); with suppress(CancelledError): await task`` block they replace in one way
that matters: when the *closer itself* is being cancelled while it waits, the cancellation is
re-raised instead of swallowed, so ``asyncio.timeout`` and task groups around a ``close()`` keep
working.

Imports nothing from ``dashboard``; any layer may import it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from typing import Any

log = logging.getLogger(__name__)


async def cancel_and_wait(
    tasks: Iterable[asyncio.Task[Any] | None], *, report: bool = True
) -> None:
    """Cancel ``tasks`` and wait until each has finished.

    A task's own ``CancelledError`` (the expected outcome) and its exceptions are not raised here:
    an exception other than cancellation is logged with the task's name, because the owner is
    closing and has nobody to hand it to (``report=False`` for tasks whose errors the caller has
    already seen, such as a reader whose result it just read). If the caller is cancelled while
    waiting, the remaining tasks are still cancelled and the caller's ``CancelledError`` propagates.
    """
    pending = [t for t in tasks if t is not None]
    for task in pending:
        task.cancel()
    if not pending:
        return
    # gather(return_exceptions=True) collects the tasks' outcomes, but a cancellation of the
    # awaiting caller still propagates out of it (asyncio documents this), which is the point.
    results = await asyncio.gather(*pending, return_exceptions=True)
    for task, result in zip(pending, results, strict=True):
        if (report and isinstance(result, BaseException)
                and not isinstance(result, asyncio.CancelledError)):
            log.warning("task %s ended with %r while being closed", task.get_name(), result)


class TaskOwner:
    """Owns a set of tasks: ``spawn`` starts one, ``close`` cancels and awaits all of them.

    Finished tasks leave the set by themselves. ``close`` is idempotent; after it, ``spawn`` refuses
    (a closed owner starting work again is a bug, not something to paper over).
    """

    def __init__(self, name: str = "tasks") -> None:
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        if self._closed:
            coro.close()  # never awaited otherwise: no "coroutine was never awaited" warning
            raise RuntimeError(f"{self.name}: closed, cannot start {name or 'a task'}")
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        """Cancel every owned task and wait for all of them (see ``cancel_and_wait``)."""
        self._closed = True
        tasks, self._tasks = list(self._tasks), set()
        await cancel_and_wait(tasks)
