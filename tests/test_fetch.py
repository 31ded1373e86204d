"""The polite fetcher against a mocked web (responses): status codes, retries, robots, cache."""
from __future__ import annotations

import pytest
import requests
import responses

from scrapers.fetch import USER_AGENT, Fetcher, FetchError, ResponseCache, sha256

SITE = "https://mac.example.org"
PAGE = f"{SITE}/drugs/noc.html"
ROBOTS = f"{SITE}/robots.txt"


class FakeTime:
    """A clock that only moves when the fetcher sleeps, so waits are recorded, not spent."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture()
def clock():
    return FakeTime()


@pytest.fixture()
def make(tmp_path, clock):
    def _make(**kwargs) -> Fetcher:
        kwargs.setdefault("cache", ResponseCache(tmp_path / "cache"))
        kwargs.setdefault("resolve", lambda host: [])  # no DNS from tests
        return Fetcher(sleep=clock.sleep, clock=clock.clock, min_interval=2.0, backoff=2.0, **kwargs)
    return _make


@pytest.fixture()
def web():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(ROBOTS, body="User-agent: *\nDisallow: /private/\n")
        yield mock


def _page_calls(web, url=PAGE):
    return [c for c in web.calls if c.request.url == url]


def test_200_is_returned_cached_logged_and_names_payerkb(web, make, tmp_path):
    web.get(PAGE, body="<p>J3590 needs an NDC</p>", headers={"ETag": '"v1"'})
    fetcher = make()
    got = fetcher.get(PAGE)
    assert got.status_code == 200 and b"J3590" in got.content
    assert got.sha256 == sha256(b"<p>J3590 needs an NDC</p>")
    assert _page_calls(web)[0].request.headers["User-Agent"] == USER_AGENT
    assert "payerkb" in USER_AGENT and "http" in USER_AGENT
    assert ResponseCache(tmp_path / "cache").get(PAGE)[1] == got.content
    record = fetcher.log[-1]
    assert (record.url, record.status_code, record.sha256, record.error) == (PAGE, 200, got.sha256, None)


def test_304_is_answered_from_the_cache_with_a_conditional_get(web, make):
    web.get(PAGE, body="first body", headers={"ETag": '"v1"', "Last-Modified": "Mon, 01 Sep 2025 00:00:00 GMT"})
    fetcher = make()
    first = fetcher.get(PAGE)
    web.replace(responses.GET, PAGE, status=304)
    second = fetcher.get(PAGE)
    sent = _page_calls(web)[1].request.headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Mon, 01 Sep 2025 00:00:00 GMT"
    assert second.content == first.content and second.from_cache and not second.changed
    assert fetcher.log[-1].status_code == 304 and fetcher.log[-1].from_cache


def test_404_fails_at_once_and_is_logged(web, make, clock):
    web.get(PAGE, status=404)
    fetcher = make()
    with pytest.raises(FetchError) as err:
        fetcher.get(PAGE)
    assert err.value.status_code == 404 and "404" in str(err.value)
    assert len(_page_calls(web)) == 1  # no retry on a client error
    assert fetcher.log[-1].error and fetcher.log[-1].status_code == 404


def test_429_waits_as_retry_after_says_then_succeeds(web, make, clock):
    web.get(PAGE, status=429, headers={"Retry-After": "7"})
    web.get(PAGE, body="ok now")
    got = make().get(PAGE)
    assert got.content == b"ok now"
    assert 7.0 in clock.sleeps


def test_429_asking_for_a_very_long_wait_gives_up(web, make, clock):
    web.get(PAGE, status=429, headers={"Retry-After": "86400"})
    with pytest.raises(FetchError) as err:
        make().get(PAGE)
    assert err.value.status_code == 429 and "86400" in str(err.value)
    assert 86400 not in clock.sleeps


def test_5xx_is_retried_with_backoff(web, make, clock):
    web.get(PAGE, status=503)
    web.get(PAGE, status=502)
    web.get(PAGE, body="recovered")
    assert make().get(PAGE).content == b"recovered"
    assert clock.sleeps[-2:] == [2.0, 4.0]  # after the 2 s between robots.txt and the page


def test_timeouts_are_retried_then_reported(web, make, clock):
    web.get(PAGE, body=requests.exceptions.ConnectTimeout("too slow"))
    fetcher = make(retries=2)
    with pytest.raises(FetchError) as err:
        fetcher.get(PAGE)
    assert "ConnectTimeout" in str(err.value) and "3 attempts" in str(err.value)
    assert len(_page_calls(web)) == 3
    assert fetcher.log[-1].status_code is None and "ConnectTimeout" in fetcher.log[-1].error


def test_robots_disallow_is_obeyed_and_robots_read_once(web, make):
    web.get(PAGE, body="fine")
    fetcher = make()
    with pytest.raises(FetchError, match="robots.txt"):
        fetcher.get(f"{SITE}/private/page.html")
    fetcher.get(PAGE)
    fetcher.get(PAGE)
    urls = [c.request.url for c in web.calls]
    assert f"{SITE}/private/page.html" not in urls
    assert urls.count(ROBOTS) == 1


def test_missing_robots_allows_and_crawl_delay_slows_us(make, clock):
    with responses.RequestsMock() as web:
        web.get(ROBOTS, body="User-agent: *\nCrawl-delay: 5\n")
        web.get(PAGE, body="a")
        web.get("https://other.example.org/robots.txt", status=404)
        web.get("https://other.example.org/x", body="b")
        fetcher = make()
        fetcher.get(PAGE)
        clock.sleeps.clear()
        fetcher.get(PAGE)
        assert clock.sleeps == [5.0]  # crawl-delay beats our own 2 s
        clock.sleeps.clear()
        assert fetcher.get("https://other.example.org/x").content == b"b"
        assert clock.sleeps == [2.0]  # only our own pause between its robots.txt and the page


def test_changed_means_different_from_the_last_logged_hash(web, make):
    web.get(PAGE, body="new text")
    assert not make().get(PAGE).changed  # first sighting
    assert make(known_hashes={PAGE: sha256(b"new text")}).get(PAGE).changed is False
    assert make(known_hashes={PAGE: sha256(b"old text")}).get(PAGE).changed is True


def test_offline_answers_from_cache_then_fixture_and_never_calls_out(tmp_path, make):
    cache = ResponseCache(tmp_path / "cache")
    cache.put(PAGE, 200, {"content-type": "text/html"}, b"cached real page", "2026-01-02T00:00:00Z")
    fixture = tmp_path / "fixture.html"
    fixture.write_text("fixture page")
    other = f"{SITE}/other.html"
    with responses.RequestsMock():  # any real request would raise
        fetcher = make(offline=True, cache=cache, fixtures={PAGE: fixture, other: fixture})
        got = fetcher.get(PAGE)
        assert got.content == b"cached real page" and got.from_cache and not got.fixture
        got = fetcher.get(other)
        assert got.content == b"fixture page" and got.fixture
        with pytest.raises(FetchError, match="offline"):
            fetcher.get(f"{SITE}/nowhere.html")


def test_a_corrupt_cache_entry_is_ignored(tmp_path):
    cache = ResponseCache(tmp_path / "cache")
    cache.put(PAGE, 200, {}, b"good", "2026-01-02T00:00:00Z")
    body = next((tmp_path / "cache").glob("*.body"))
    body.write_bytes(b"half-writ")
    assert cache.get(PAGE) is None


def test_unreadable_robots_keeps_us_off_the_host(make):
    with responses.RequestsMock() as web:
        web.get(ROBOTS, status=503)
        fetcher = make(retries=0)
        for _ in range(2):
            with pytest.raises(FetchError, match="robots.txt answered HTTP 503"):
                fetcher.get(PAGE)
        assert [c.request.url for c in web.calls] == [ROBOTS]  # asked once, page never fetched
