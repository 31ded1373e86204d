"""One polite HTTP fetcher for every scraper.

- says who it is (a user agent naming payerkb and its URL),
- obeys robots.txt (read once per host, with its Crawl-delay), also for every redirect's target,
- fetches only http(s) from public addresses (a redirect to loopback or a private network is refused),
- caps each body's size and each request's total time (a server trickling a byte a second is cut off),
- waits between two requests to the same host,
- retries with backoff on 429 (honouring Retry-After), 5xx, timeouts and dropped connections,
- asks with If-None-Match / If-Modified-Since and answers a 304 from its on-disk cache,
- keeps every raw response on disk (keyed by URL, with its sha256),
- logs every fetch (scraper, url, time, status, sha256, changed or not, from cache, error),
- and, offline, answers only from that cache or from fixture pages shipped with the scrapers.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import ipaddress
import json
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlencode, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import requests

from formats.files import write_atomic
from formats.scraped import FetchRecord

MAX_BODY_BYTES = 20 * 2**20
MAX_ROBOTS_BYTES = 512 * 1024
DEADLINE_SECONDS = 120.0
MAX_REDIRECTS = 5
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
USER_AGENT = "payerkb/0.1 (+https://github.com/payerkb/payerkb; NOC drug billing rules knowledge base)"
DEFAULT_CACHE = Path(".cache/scrapers")


class FetchError(Exception):
    """A page could not be had; `status_code` is set when the server answered."""

    def __init__(self, url: str, message: str, status_code: int | None = None):
        super().__init__(f"{url}: {message}")
        self.url = url
        self.message = message
        self.status_code = status_code


@dataclass
class Fetched:
    """A response body with where it came from."""

    url: str
    status_code: int
    content: bytes
    sha256: str
    fetched_at: str
    headers: dict = field(default_factory=dict)
    changed: bool = False
    from_cache: bool = False
    fixture: bool = False

    @property
    def text(self) -> str:
        charset = "utf-8"
        ctype = self.headers.get("content-type", "")
        if "charset=" in ctype:
            charset = ctype.split("charset=", 1)[1].split(";")[0].strip() or "utf-8"
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.content)

    @property
    def retrieved(self) -> str:
        return self.fetched_at[:10]


def resolve_host(host: str) -> list[str]:
    """The addresses a host name resolves to ([] when it does not resolve: the request will fail anyway)."""
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(host, None)})
    except (OSError, UnicodeError):
        return []


def _non_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast
            or ip.is_unspecified)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def full_url(url: str, params: dict | None) -> str:
    if not params:
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


class ResponseCache:
    """Raw responses on disk: <dir>/<sha256(url)>.body and .json (status, validators, hash, time)."""

    def __init__(self, directory: Path | str = DEFAULT_CACHE):
        self.dir = Path(directory)

    def _paths(self, url: str) -> tuple[Path, Path]:
        key = sha256(url.encode())
        return self.dir / f"{key}.body", self.dir / f"{key}.json"

    def get(self, url: str) -> tuple[dict, bytes] | None:
        body, meta = self._paths(url)
        try:
            info = json.loads(meta.read_text())
            content = body.read_bytes()
        except (OSError, ValueError):
            return None
        if info.get("url") != url or sha256(content) != info.get("sha256"):
            return None  # a half-written or foreign entry: act as if there were none
        return info, content

    def put(self, url: str, status_code: int, headers: dict, content: bytes, fetched_at: str) -> None:
        body, meta = self._paths(url)
        info = {
            "url": url,
            "status_code": status_code,
            "sha256": sha256(content),
            "fetched_at": fetched_at,
            "etag": headers.get("etag"),
            "last_modified": headers.get("last-modified"),
            "content_type": headers.get("content-type"),
        }
        write_atomic(body, content)
        write_atomic(meta, json.dumps(info, indent=1).encode())


class Fetcher:
    """The polite fetcher. One per `payerkb scrape` run; `log` collects a FetchRecord per fetch."""

    RETRY_STATUSES = {429, 500, 502, 503, 504}

    def __init__(
        self,
        *,
        cache: ResponseCache | None = None,
        offline: bool = False,
        fixtures: dict[str, Path] | None = None,
        known_hashes: dict[str, str] | None = None,
        session: requests.Session | None = None,
        user_agent: str = USER_AGENT,
        min_interval: float = 2.0,
        timeout: tuple[float, float] = (10.0, 60.0),
        max_bytes: int = MAX_BODY_BYTES,
        deadline: float = DEADLINE_SECONDS,
        max_redirects: int = MAX_REDIRECTS,
        resolve: Callable[[str], list[str]] = resolve_host,
        retries: int = 3,
        backoff: float = 2.0,
        max_wait: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.cache = cache or ResponseCache()
        self.offline = offline
        self.fixtures = dict(fixtures or {})
        self.known_hashes = dict(known_hashes or {})
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = user_agent
        self.user_agent = user_agent
        self.min_interval = min_interval
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.deadline = deadline
        self.max_redirects = max_redirects
        self.resolve = resolve
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.sleep = sleep
        self.clock = clock
        self.log: list[FetchRecord] = []
        self._robots: dict[str, RobotFileParser | None] = {}
        self._robots_failed: dict[str, FetchError] = {}
        self._last_request: dict[str, float] = {}
        self.scraper = "unknown"

    # -- public -------------------------------------------------------------------------------

    def get(self, url: str, *, params: dict | None = None, headers: dict | None = None,
            conditional: bool = True) -> Fetched:
        """GET a page (params are folded into the URL, which is the cache key)."""
        url = full_url(url, params)
        try:
            result = self._offline(url) if self.offline else self._online(url, headers or {}, conditional)
        except FetchError as exc:
            self._record(url, exc.status_code, None, False, False, False, exc.message)
            raise
        self._record(url, result.status_code, result.sha256, result.changed, result.from_cache,
                     result.fixture, None)
        return result

    # -- offline ------------------------------------------------------------------------------

    def _offline(self, url: str) -> Fetched:
        hit = self.cache.get(url)
        if hit:
            info, content = hit
            return Fetched(url, info.get("status_code") or 200, content, info["sha256"],
                           info.get("fetched_at") or now_iso(),
                           {"content-type": info.get("content_type") or ""},
                           changed=self._changed(url, info["sha256"]), from_cache=True)
        path = self.fixtures.get(url)
        if path is None:
            raise FetchError(url, "offline, and neither the cache nor the shipped fixtures have this page")
        try:
            content = Path(path).read_bytes()
        except OSError as exc:
            raise FetchError(url, f"offline fixture {path} cannot be read: {exc}") from None
        digest = sha256(content)
        ctype = "application/json" if str(path).endswith(".json") else "text/html; charset=utf-8"
        return Fetched(url, 200, content, digest, now_iso(), {"content-type": ctype},
                       changed=self._changed(url, digest), from_cache=True, fixture=True)

    # -- online -------------------------------------------------------------------------------

    def _check_target(self, url: str, via: str | None = None) -> None:
        """Only http(s), only public addresses; `via` names the page that redirected here."""
        parts = urlsplit(url)
        what = f"redirect from {via} to {url}" if via else url
        if parts.scheme not in ("http", "https"):
            raise FetchError(url, f"{what}: only http and https are fetched, not {parts.scheme or 'no scheme'}:")
        host = parts.hostname
        if not host:
            raise FetchError(url, f"{what}: no host in the URL")
        if host == "localhost" or host.endswith(".localhost") or _non_public(host):
            raise FetchError(url, f"{what}: refused, {host} is not a public address")
        if via is not None or not _is_ip(host):
            bad = [a for a in self.resolve(host) if _non_public(a)]
            if bad:
                raise FetchError(url, f"{what}: refused, {host} resolves to a non-public address ({bad[0]})")

    def _online(self, url: str, headers: dict, conditional: bool) -> Fetched:
        self._check_target(url)
        if not self._allowed(url):
            raise FetchError(url, f"robots.txt of {urlsplit(url).netloc} disallows this URL for payerkb")
        cached = self.cache.get(url) if conditional else None
        send = dict(headers)
        if cached:
            info = cached[0]
            if info.get("etag"):
                send["If-None-Match"] = info["etag"]
            if info.get("last_modified"):
                send["If-Modified-Since"] = info["last_modified"]
        started = self.clock()
        response = self._follow(url, send)
        if response.status_code == 304:
            response.close()
            if not cached:
                raise FetchError(url, "server answered 304 Not Modified but nothing is cached", 304)
            info, content = cached
            return Fetched(url, 304, content, info["sha256"], now_iso(),
                           {"content-type": info.get("content_type") or ""},
                           changed=False, from_cache=True)
        if not 200 <= response.status_code < 300:
            response.close()
            raise FetchError(url, f"HTTP {response.status_code} {response.reason or ''}".strip(),
                             response.status_code)
        content = self._read_body(response, url, started, self.max_bytes)
        digest = sha256(content)
        fetched_at = now_iso()
        lower = {k.lower(): v for k, v in response.headers.items()}
        self.cache.put(url, response.status_code, lower, content, fetched_at)
        return Fetched(url, response.status_code, content, digest, fetched_at, lower,
                       changed=self._changed(url, digest))

    def _follow(self, url: str, headers: dict) -> requests.Response:
        """GET, following redirects ourselves: each target is checked against the address rules and
        its own host's robots.txt before it is asked for."""
        current = url
        for _ in range(self.max_redirects + 1):
            response = self._request_with_retries(current, headers)
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_STATUSES or not location:
                return response
            response.close()
            target = urljoin(current, location)
            self._check_target(target, via=current)
            if not self._allowed(target):
                raise FetchError(url, f"redirect to {target}: robots.txt of {urlsplit(target).netloc} disallows it")
            current = target
        raise FetchError(url, f"more than {self.max_redirects} redirects")

    def _read_body(self, response: requests.Response, url: str, started: float, limit: int) -> bytes:
        """The body, read in pieces, no more than `limit` bytes and no longer than the deadline."""
        chunks, size = [], 0
        try:
            raw = response.raw
            read = getattr(raw, "read1", None) or raw.read
            while True:
                piece = read(64 * 1024)
                if not piece:
                    break
                size += len(piece)
                if size > limit:
                    raise FetchError(url, f"the response is larger than {limit // 1024} KiB; not read further")
                chunks.append(piece)
                if self.clock() - started > self.deadline:
                    raise FetchError(url, f"the response took more than {self.deadline:.0f} s; not read further")
        except requests.RequestException as exc:
            raise FetchError(url, f"reading the response failed ({type(exc).__name__})") from None
        except (OSError, ValueError) as exc:  # urllib3's protocol and decoding errors derive from these
            raise FetchError(url, f"reading the response failed ({type(exc).__name__}: {exc})") from None
        finally:
            response.close()
        return b"".join(chunks)

    def _changed(self, url: str, digest: str) -> bool:
        """Changed means: we logged this URL before, with other content (a first sighting is not a change)."""
        before = self.known_hashes.get(url)
        self.known_hashes[url] = digest
        return before is not None and before != digest

    def _request_with_retries(self, url: str, headers: dict) -> requests.Response:
        last_problem = ""
        for attempt in range(self.retries + 1):
            self._wait_turn(url)
            try:
                response = self.session.get(url, headers=headers, timeout=self.timeout,
                                            allow_redirects=False, stream=True)
            except (requests.Timeout, requests.ConnectionError) as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
                wait = self.backoff * 2 ** attempt
            except requests.RequestException as exc:  # bad scheme or URL, too many redirects, bad chunking...
                raise FetchError(url, f"{type(exc).__name__}: {exc}") from None
            else:
                if response.status_code not in self.RETRY_STATUSES:
                    return response
                response.close()
                last_problem = f"HTTP {response.status_code}"
                wait = self._retry_after(response) if response.status_code == 429 else None
                if wait is None:
                    wait = self.backoff * 2 ** attempt
                if wait > self.max_wait:
                    raise FetchError(url, f"HTTP 429: the server asks us to wait {wait:.0f} s, "
                                          f"more than the {self.max_wait:.0f} s we allow", 429)
                if attempt == self.retries:
                    raise FetchError(url, f"{last_problem} after {self.retries + 1} attempts",
                                     response.status_code)
            if attempt < self.retries:
                self.sleep(min(wait, self.max_wait))
        raise FetchError(url, f"{last_problem} after {self.retries + 1} attempts")

    @staticmethod
    def _retry_after(response: requests.Response) -> float | None:
        value = response.headers.get("Retry-After")
        if not value:
            return None
        if value.strip().isdigit():
            return float(value.strip())
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())

    def _wait_turn(self, url: str) -> None:
        host = urlsplit(url).netloc
        interval = self.min_interval
        robots = self._robots.get(host)
        if robots is not None:
            delay = robots.crawl_delay(self.user_agent)
            if delay:
                interval = max(interval, float(delay))
        last = self._last_request.get(host)
        if last is not None:
            wait = interval - (self.clock() - last)
            if wait > 0:
                self.sleep(wait)
        self._last_request[host] = self.clock()

    def _allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        host = parts.netloc
        if host in self._robots_failed:  # robots.txt could not be read: leave the host alone this run
            raise self._robots_failed[host]
        if host not in self._robots:
            try:
                self._robots[host] = self._read_robots(f"{parts.scheme}://{host}/robots.txt")
            except FetchError as exc:
                self._robots_failed[host] = exc
                raise
        return self._robots[host].can_fetch(self.user_agent, url)

    def _read_robots(self, robots_url: str) -> RobotFileParser:
        parser = RobotFileParser(robots_url)
        try:
            self._wait_turn(robots_url)
            started = self.clock()
            response = self.session.get(robots_url, timeout=self.timeout, stream=True)
        except requests.RequestException as exc:
            raise FetchError(robots_url, f"robots.txt could not be read ({type(exc).__name__}); "
                                         "not fetching from this host") from None
        if response.status_code in (401, 403):
            parser.disallow_all = True
        elif 400 <= response.status_code < 500:
            parser.allow_all = True
        elif response.status_code >= 500:
            raise FetchError(robots_url, f"robots.txt answered HTTP {response.status_code}; "
                                         "not fetching from this host", response.status_code)
        else:
            body = self._read_body(response, robots_url, started, MAX_ROBOTS_BYTES)
            parser.parse(body.decode("utf-8", errors="replace").splitlines())
        response.close()
        return parser

    def _record(self, url, status, digest, changed, from_cache, fixture, error) -> None:
        # model_construct: the log records every fetch as it happened, even of an address the
        # build refuses (it then says which line); formats/scraped.py is the line's format.
        self.log.append(FetchRecord.model_construct(
            scraper=self.scraper, url=url, fetched_at=now_iso(), status_code=status, sha256=digest,
            changed=bool(changed), from_cache=bool(from_cache), fixture=bool(fixture), error=error))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def read_fetch_log(path: Path) -> list[dict]:
    """The fetch log's records (one JSON object a line); a missing log is empty."""
    if not path.exists():
        return []
    records = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError as exc:
            raise ValueError(f"{path}:{n}: not a JSON record ({exc})") from None
    return records


def last_hashes(records: list[dict]) -> dict[str, str]:
    """URL -> sha256 of the newest successful fetch in the log."""
    out: dict[str, str] = {}
    for rec in records:
        if rec.get("sha256") and not rec.get("error"):
            out[rec["url"]] = rec["sha256"]
    return out
