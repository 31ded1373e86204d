"""The tests' one way to start a server: a real process on a free loopback port (payerkb/dev/server.py,
which the benchmarks use too), and Chromium for the browser tests."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from payerkb.dev.server import (  # noqa: F401 - the tests' names for them
    HOST, ROOT, free_port, payerkb_command, request, running, running_on_free_port,
)

CHROMIUM = "/usr/bin/chromium"


def chromium_or_skip() -> str:
    """Debian's chromium for the browser tests. Missing: the test skips with one line, or fails
    where PAYERKB_REQUIRE_BROWSER=1 (as .ci/run sets), so CI can never pass without them."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    message = (f"browser tests need {CHROMIUM}: `make browser` installs Debian's chromium where apt-get "
               "exists (set PAYERKB_REQUIRE_BROWSER=1 to fail instead of skipping)")
    if os.environ.get("PAYERKB_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


@contextlib.contextmanager
def serving(cmd: list[str], port: int, *, env: dict | None = None, seconds: float = 60):
    """Run `cmd` (a server on 127.0.0.1:port) until it answers; yield (base URL, process)."""
    with running(cmd, port, env=env, timeout=seconds) as url:
        yield str(url), url.proc


@contextlib.contextmanager
def payerkb_serve(db: Path):
    """`payerkb serve` of `db` on a free port: a context manager yielding (base URL, process)."""
    with running_on_free_port(lambda port: payerkb_command(db, port), timeout=60) as url:
        yield str(url), url.proc


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])
