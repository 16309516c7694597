"""TaskOwner / cancel_and_wait: tasks are cancelled and awaited; the closer's own cancel
propagates."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from dashboard.aio import TaskOwner, cancel_and_wait


async def test_close_cancels_and_awaits_every_task():
    """After close() every spawned task is done and was cancelled."""
    owner = TaskOwner("t")
    tasks = [owner.spawn(asyncio.sleep(60), name=f"s{i}") for i in range(3)]
    assert len(owner) == 3
    await owner.close()
    assert all(t.done() and t.cancelled() for t in tasks)
    assert len(owner) == 0


async def test_finished_tasks_leave_the_owner():
    """A task that ends by itself is no longer held."""
    owner = TaskOwner()
    task = owner.spawn(asyncio.sleep(0))
    await task
    assert len(owner) == 0
    await owner.close()


async def test_closer_cancelled_while_waiting_is_not_swallowed():
    """The old suppress(CancelledError) block swallowed this; cancel_and_wait re-raises it."""
    release = asyncio.Event()

    async def stubborn():
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await release.wait()  # takes its time to shut down
            raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    closer = asyncio.create_task(cancel_and_wait([task]))
    await asyncio.sleep(0.01)
    closer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closer
    assert closer.cancelled()
    release.set()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_old_block_swallows_the_closers_cancel():
    """The pattern being replaced really has the defect (so the test above means something)."""
    release = asyncio.Event()

    async def stubborn():
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await release.wait()
            raise

    async def old_close(task):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return "finished normally"

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    closer = asyncio.create_task(old_close(task))
    await asyncio.sleep(0.01)
    closer.cancel()
    await asyncio.sleep(0.01)
    release.set()
    # the closer's cancel went into the awaited task, and suppress() ate it
    assert await closer == "finished normally"


async def test_task_errors_do_not_escape_close():
    """A task that failed is reported in the log, and close() still completes."""
    owner = TaskOwner()

    async def boom():
        raise ValueError("x")

    task = owner.spawn(boom())
    await asyncio.sleep(0)
    await owner.close()
    assert isinstance(task.exception(), ValueError)


async def test_close_in_a_cancelled_tasks_finally_completes():
    """Cleanup code in a task being cancelled can still close an owner fully."""
    owner = TaskOwner()
    inner = owner.spawn(asyncio.sleep(60))
    done = []

    async def worker():
        try:
            await asyncio.sleep(60)
        finally:
            await owner.close()
            done.append(True)

    w = asyncio.create_task(worker())
    await asyncio.sleep(0)
    w.cancel()
    with pytest.raises(asyncio.CancelledError):
        await w
    assert done == [True] and inner.cancelled()


async def test_spawn_after_close_refuses():
    """A closed owner does not start new work."""
    owner = TaskOwner("feed")
    await owner.close()
    coro = asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="feed: closed"):
        owner.spawn(coro, name="late")
    await owner.close()  # idempotent
