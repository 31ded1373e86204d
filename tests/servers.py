"""Start a real server process on a free loopback port for a test, and stop it afterwards."""
from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAYERKB = Path(sys.executable).parent / "payerkb"


CHROMIUM = "/usr/bin/chromium"


def chromium_or_skip() -> str:
    """Debian's chromium for the browser tests. Missing: the test skips with one line, or fails
    where PAYERKB_REQUIRE_BROWSER=1 (as .ci/run sets), so CI can never pass without them."""
    import os

    import pytest

    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    message = f"{CHROMIUM} is missing: `make browser` installs Debian's chromium (apt)"
    if os.environ.get("PAYERKB_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(cmd: list[str], port: int, *, env: dict | None = None, seconds: float = 30):
    """Run `cmd` (a server on 127.0.0.1:port) until it answers; yield (base URL, process)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + seconds
        while True:
            try:
                urllib.request.urlopen(base + "/-/versions.json", timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError(f"the server exited: {proc.stdout.read()}") from None
                if time.monotonic() > deadline:
                    raise AssertionError(f"the server did not answer within {seconds} s") from None
                time.sleep(0.2)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def payerkb_serve(db: Path):
    """`payerkb serve` of `db` on a free port: a context manager yielding (base URL, process)."""
    port = free_port()
    return serving([str(PAYERKB), "serve", "--db", str(db), "--port", str(port)], port)
