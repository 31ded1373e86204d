"""Start a server process on a free 127.0.0.1 port, wait until it answers, stop it afterwards;
talk to it over plain or keep-alive HTTP connections. Only the loopback address is ever used."""
from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[2]  # the checkout: metadata.yml, policies/, scripts/

# Datasette loads entry-point plugins (payerkb's among them) unless this attribute is set before
# datasette.plugins is imported: that is the switch for "bare Datasette".
_BARE = "import sys; sys._called_from_test = True; from datasette.cli import cli; cli()"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def payerkb_command(db: Path, port: int) -> list[str]:
    """Exactly what `payerkb serve --db DB --port PORT` runs."""
    return [str(Path(sys.executable).parent / "payerkb"), "serve", "--db", str(db), "--port", str(port)]


def bare_command(db: Path, port: int) -> list[str]:
    """Datasette with no plugins, no metadata and default settings, serving the file immutable."""
    return [sys.executable, "-c", _BARE, "serve", "-i", str(db), "--host", HOST, "--port", str(port)]


class ServerURL(str):
    """The base URL of a running server, which also knows the server's process."""

    proc: subprocess.Popen
    pid: int = 0


def rss_mb(pid: int) -> float | None:
    """Resident memory in MB (Linux /proc) of a process and its child processes (the search
    worker, for a payerkb server), None where it cannot be read."""
    own = _own_rss_mb(pid)
    if own is None:
        return None
    return own + sum(_own_rss_mb(child) or 0 for child in _children(pid))


def _own_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return kids + [grandchild for kid in kids for grandchild in _children(kid)]


@contextmanager
def running(cmd: list[str], port: int, *, env: dict | None = None, timeout: float = 120):
    """Run a server command from the checkout; yield its base URL (a ServerURL) once
    /-/versions.json answers 200; stop the process afterwards. RuntimeError, with the end of the
    server's output, when it exits first or does not answer within `timeout` seconds."""
    log = tempfile.TemporaryFile()  # a file, not a pipe: a chatty server never blocks on it
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"})

    def output(limit: int = 2000) -> str:
        log.seek(0)
        return log.read().decode(errors="replace")[-limit:]

    proc.output = output  # what the server printed so far (stdout and stderr), its last `limit` characters

    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}: {output()}")
            try:
                status, _ = request(port, "GET", "/-/versions.json", timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server on port {port} did not answer within {timeout} s: {output()}")
            time.sleep(0.2)
        url = ServerURL(f"http://{HOST}:{port}")
        url.proc, url.pid = proc, proc.pid
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextmanager
def running_on_free_port(make_cmd, *, attempts: int = 3, **options):
    """running(make_cmd(port), port) on a free port; should another process take the port before
    the server binds it (test workers run side by side), again on another port."""
    for attempt in range(1, attempts + 1):
        port = free_port()
        with ExitStack() as stack:
            try:
                url = stack.enter_context(running(make_cmd(port), port, **options))
            except RuntimeError as exc:
                if "address already in use" in str(exc).lower() and attempt < attempts:
                    continue
                raise
            yield url
            return


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict | None = None, timeout: float = 30) -> tuple[int, bytes]:
    """One request on a fresh connection: (status, body)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


class Connection:
    """A keep-alive connection that reconnects after an error (one per client thread)."""

    def __init__(self, port: int, timeout: float = 30):
        self.port, self.timeout = port, timeout
        self.conn: http.client.HTTPConnection | None = None

    def fetch(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            resp = self.conn.getresponse()
            return resp.status, resp.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
