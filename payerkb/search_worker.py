"""Where a smart search runs when the server asks for one: in a worker process beside the server
(settings.SEARCH_WORKERS_ENV, which `payerkb serve` sets), else in a thread. See docs/search.md,
"Where a search runs"."""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from payerkb.search import search
from payerkb.settings import SEARCH_WORKERS_ENV

log = logging.getLogger(__name__)
MAX_WORKERS = 4

_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _workers() -> int:
    try:
        return max(0, min(MAX_WORKERS, int(os.environ.get(SEARCH_WORKERS_ENV, "0") or 0)))
    except ValueError:
        return 0


def _search_pool(workers: int) -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            # spawn, not fork: the server has threads (and an event loop) a fork would copy mid-way
            _pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_leave_with_server, initargs=(os.getpid(),))
        return _pool


def _leave_with_server(server_pid: int) -> None:
    """In a worker: exit when the server process is gone (killed servers leave no workers)."""
    def watch():
        while os.getppid() == server_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="payerkb-search-parent-watch").start()


def _drop_pool(broken: ProcessPoolExecutor) -> None:
    global _pool
    with _pool_lock:
        if _pool is broken:
            _pool = None
    broken.shutdown(wait=False, cancel_futures=True)


async def run_search(*args, **kwargs) -> dict:
    """payerkb.search.search(*args, **kwargs) off the event loop: in a search worker process when
    the server has them, else in a thread. A worker that died is replaced, and that search runs in
    a thread."""
    workers = _workers()
    if workers:
        pool = _search_pool(workers)
        try:
            return await asyncio.wrap_future(pool.submit(search, *args, **kwargs))
        except BrokenProcessPool:
            log.warning("a search worker died; starting another")
            _drop_pool(pool)
    return await asyncio.to_thread(search, *args, **kwargs)
