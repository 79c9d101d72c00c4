# asyncio.run() works for programs that need no sockets (WASI has none): the default loop
# on WASI has no self-pipe (deps/patches.toml). Timings are checked loosely: a sleep may
# take longer on a loaded machine, never less.
import asyncio
import selectors
import select
import socket
import sys
import time

assert sys.platform == "wasi"
assert type(asyncio.new_event_loop()).__name__ == "_WasiSelectorEventLoop"
assert asyncio.SelectorEventLoop is asyncio.EventLoop


def elapsed_since(start):
    return time.monotonic() - start


# select/selectors: a timeout-only wait (WASI poll_oneoff with a clock subscription).
start = time.monotonic()
with selectors.DefaultSelector() as sel:
    assert sel.select(0.05) == []
assert elapsed_since(start) >= 0.05, elapsed_since(start)
start = time.monotonic()
assert select.select([], [], [], 0.03) == ([], [], [])
assert elapsed_since(start) >= 0.03, elapsed_since(start)


async def sleeps():
    start = time.monotonic()
    await asyncio.sleep(0.05)
    took = elapsed_since(start)
    assert 0.05 <= took < 5, took
    await asyncio.sleep(0)  # a bare yield


async def gathers():
    log = []

    async def value(v, delay):
        log.append(f"start {v}")
        await asyncio.sleep(delay)
        log.append(f"end {v}")
        return v

    start = time.monotonic()
    got = await asyncio.gather(value(1, 0.05), value(2, 0.03), value(3, 0.01))
    assert got == [1, 2, 3], got
    assert elapsed_since(start) >= 0.05
    # Concurrent: all three started before any ended, and they ended by their delays.
    assert log == ["start 1", "start 2", "start 3", "end 3", "end 2", "end 1"], log
    results = await asyncio.gather(value(1, 0), asyncio.sleep(-1, "x"), return_exceptions=True)
    assert results == [1, "x"], results


async def timeouts():
    try:
        await asyncio.wait_for(asyncio.sleep(10), timeout=0.05)
    except TimeoutError:
        pass
    else:
        raise AssertionError("wait_for did not time out")
    assert await asyncio.wait_for(asyncio.sleep(0.01, "done"), timeout=5) == "done"
    start = time.monotonic()
    try:
        async with asyncio.timeout(0.05):
            await asyncio.sleep(10)
    except TimeoutError:
        took = elapsed_since(start)
        assert 0.05 <= took < 5, took
    else:
        raise AssertionError("asyncio.timeout did not fire")


async def queue_event_lock_semaphore():
    queue = asyncio.Queue(maxsize=2)
    seen = []

    async def producer():
        for i in range(5):
            await queue.put(i)
        await queue.put(None)

    async def consumer():
        while (item := await queue.get()) is not None:
            seen.append(item)
            queue.task_done()
        queue.task_done()

    await asyncio.gather(producer(), consumer())
    await queue.join()
    assert seen == [0, 1, 2, 3, 4], seen

    event = asyncio.Event()
    order = []

    async def waiter():
        await event.wait()
        order.append("woke")

    task = asyncio.create_task(waiter())
    await asyncio.sleep(0.01)
    order.append("set")
    event.set()
    await task
    assert order == ["set", "woke"], order

    lock = asyncio.Lock()
    inside = 0
    most = 0

    async def locked():
        nonlocal inside, most
        async with lock:
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.005)
            inside -= 1

    await asyncio.gather(*(locked() for _ in range(4)))
    assert most == 1, most

    sem = asyncio.Semaphore(2)
    inside = most = 0

    async def limited():
        nonlocal inside, most
        async with sem:
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(limited() for _ in range(6)))
    assert most == 2, most


async def task_groups_and_cancellation():
    async def value(v):
        await asyncio.sleep(0.01)
        return v

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(value(i)) for i in range(3)]
    assert [t.result() for t in tasks] == [0, 1, 2]

    async def fails():
        await asyncio.sleep(0.01)
        raise ValueError("boom")

    cancelled = []

    async def long_one():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(long_one())
            tg.create_task(fails())
    except* ValueError as group:
        assert str(group.exceptions[0]) == "boom"
    else:
        raise AssertionError("TaskGroup did not raise")
    assert cancelled == [True], cancelled

    task = asyncio.create_task(asyncio.sleep(10))
    await asyncio.sleep(0)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    assert task.cancelled()


async def callbacks():
    loop = asyncio.get_running_loop()
    fired = loop.create_future()
    start = loop.time()
    loop.call_later(0.05, fired.set_result, "later")
    assert await fired == "later"
    assert loop.time() - start >= 0.05
    soon = loop.create_future()
    loop.call_soon(soon.set_result, "soon")
    assert await soon == "soon"
    # No self-pipe, and none needed: this program is the only thread.
    threadsafe = loop.create_future()
    loop.call_soon_threadsafe(threadsafe.set_result, "threadsafe")
    assert await threadsafe == "threadsafe"
    at = loop.create_future()
    loop.call_at(loop.time() + 0.01, at.set_result, "at")
    assert await at == "at"


async def refused_clearly():
    loop = asyncio.get_running_loop()
    try:
        loop.run_in_executor(None, print, "never")
    except NotImplementedError as e:
        assert "no threads" in str(e), e
    else:
        raise AssertionError("run_in_executor(None, ...) did not refuse")
    try:
        await asyncio.to_thread(print, "never")
    except NotImplementedError:
        pass
    else:
        raise AssertionError("to_thread did not refuse")
    try:
        loop.add_signal_handler(2, print)
    except NotImplementedError as e:
        assert "no signals" in str(e), e
    else:
        raise AssertionError("add_signal_handler did not refuse")
    # Sockets: refused by the C library (ENOTSUP / name resolution), as OSError.
    try:
        await asyncio.open_connection("127.0.0.1", 80)
    except OSError as e:
        print(f"open_connection(127.0.0.1): {type(e).__name__}: {e}")
    else:
        raise AssertionError("open_connection succeeded")
    try:
        await asyncio.open_connection("example.com", 80)
    except OSError as e:
        assert "not supported" in str(e), e
    else:
        raise AssertionError("open_connection succeeded")
    # The resolver needs no thread: numeric addresses resolve at once.
    infos = await loop.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM)
    assert infos[0][4] == ("127.0.0.1", 80), infos


async def main():
    for step in (sleeps, gathers, timeouts, queue_event_lock_semaphore, task_groups_and_cancellation, callbacks,
                 refused_clearly):
        await step()
        print(f"{step.__name__}: ok")
    return "main done"


assert asyncio.run(main()) == "main done"
# A second run gets a fresh loop.
assert asyncio.run(asyncio.sleep(0, "again")) == "again"
with asyncio.Runner() as runner:
    assert runner.run(asyncio.sleep(0.01, 1)) == 1


# A wait that nothing can end is a deadlock on WASI (no thread or signal can wake the loop):
# a clear error instead of poll() failing with ENOTSUP or hanging.
async def deadlock():
    await asyncio.Event().wait()

try:
    asyncio.run(deadlock())
except RuntimeError as e:
    assert "wait forever" in str(e), e
else:
    raise AssertionError("deadlock was not reported")
print("asyncio ok")
