"""The scrapers' fetcher against hostile servers (mocked with responses): redirects, addresses,
size and time caps, schemes and broken transfers all end as the fetcher's own error."""
from __future__ import annotations

import pytest
import requests
import responses

from scrapers import registry
from scrapers.fetch import Fetcher, FetchError, ResponseCache

SITE = "https://payer.example.org"
PAGE = f"{SITE}/drugs/noc.html"
PUBLIC = {"payer.example.org": ["93.184.216.34"], "other.example.net": ["93.184.216.35"],
          "sneaky.example.com": ["10.1.2.3"]}


def resolve(host: str) -> list[str]:
    return PUBLIC.get(host, [])


class Ticking:
    """A clock that moves 10 s each time it is read, to reach the deadline in a few reads."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 10.0
        return self.now


@pytest.fixture()
def fetcher(tmp_path):
    return Fetcher(cache=ResponseCache(tmp_path / "cache"), sleep=lambda s: None, min_interval=0,
                   resolve=resolve, retries=1)


@pytest.fixture()
def web():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{SITE}/robots.txt", body="User-agent: *\nAllow: /\n")
        yield mock


def test_a_redirect_to_another_host_asks_that_hosts_robots_txt(web, fetcher):
    web.get(PAGE, status=302, headers={"Location": "https://other.example.net/private/page.html"})
    web.get("https://other.example.net/robots.txt", body="User-agent: *\nDisallow: /private/\n")
    with pytest.raises(FetchError, match="robots.txt of other.example.net disallows"):
        fetcher.get(PAGE)
    assert any(c.request.url == "https://other.example.net/robots.txt" for c in web.calls)
    assert not any(c.request.url.endswith("/private/page.html") for c in web.calls)


def test_an_allowed_redirect_is_followed(web, fetcher):
    web.get(PAGE, status=301, headers={"Location": "/drugs/noc-2026.html"})
    web.get(f"{SITE}/drugs/noc-2026.html", body="<p>moved here</p>")
    got = fetcher.get(PAGE)
    assert got.content == b"<p>moved here</p>" and got.url == PAGE


@pytest.mark.parametrize("target, why", [
    ("http://127.0.0.1:8001/-/check", "127.0.0.1 is not a public address"),
    ("http://10.0.0.7/admin", "10.0.0.7 is not a public address"),
    ("http://[::1]/", "::1 is not a public address"),
    ("http://localhost/", "localhost is not a public address"),
    ("https://sneaky.example.com/x", "resolves to a non-public address (10.1.2.3)"),
    ("file:///etc/passwd", "only http and https"),
    ("ftp://payer.example.org/x", "only http and https"),
])
def test_redirects_to_private_addresses_or_other_schemes_are_refused(web, fetcher, target, why):
    web.get(PAGE, status=302, headers={"Location": target})
    with pytest.raises(FetchError, match="refused|only http") as err:
        fetcher.get(PAGE)
    assert why in str(err.value)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://payer.example.org/x", "http://127.0.0.1/"])
def test_a_page_url_of_another_scheme_or_a_private_address_is_refused(fetcher, url):
    with pytest.raises(FetchError):
        fetcher.get(url)


def test_endless_redirects_stop(web, fetcher):
    web.get(PAGE, status=302, headers={"Location": PAGE})
    with pytest.raises(FetchError, match="more than 5 redirects"):
        fetcher.get(PAGE)


def test_a_body_over_the_cap_is_not_read_whole(web, tmp_path):
    small = Fetcher(cache=ResponseCache(tmp_path / "c"), sleep=lambda s: None, min_interval=0,
                    resolve=resolve, max_bytes=100_000)
    web.get(PAGE, body=b"x" * 1_000_000)
    with pytest.raises(FetchError, match="larger than 97 KiB"):
        small.get(PAGE)


def test_a_trickling_server_hits_the_deadline(web, tmp_path):
    slow = Fetcher(cache=ResponseCache(tmp_path / "c"), sleep=lambda s: None, min_interval=0,
                   resolve=resolve, clock=Ticking(), deadline=35)
    web.get(PAGE, body=b"y" * (64 * 1024 * 8))
    with pytest.raises(FetchError, match="took more than 35 s"):
        slow.get(PAGE)


@pytest.mark.parametrize("exc", [requests.exceptions.ChunkedEncodingError("cut"),
                                 requests.exceptions.TooManyRedirects("loop"),
                                 requests.exceptions.InvalidSchema("nope"),
                                 requests.exceptions.ContentDecodingError("bad gzip")])
def test_every_requests_error_becomes_a_fetch_error(web, fetcher, exc):
    web.get(PAGE, body=exc)
    with pytest.raises(FetchError, match=type(exc).__name__):
        fetcher.get(PAGE)
    assert fetcher.log[-1].error


def test_one_broken_source_does_not_stop_the_others(tmp_path, monkeypatch):
    from scrapers.run import make_fetcher, run
    from scrapers.sources import cgs

    def broken(spec, fetched):
        raise RuntimeError("a bug in one parser")

    monkeypatch.setattr(cgs, "parse", broken)
    out = tmp_path / "out"
    reports = run(["cgs-j15", "wps-part-b"], out_dir=out, policies_dir=registry.FIXTURES.parent.parent / "policies",
                  fetcher=make_fetcher(offline=True, out_dir=out, cache_dir=tmp_path / "cache"))
    status = {r.name: (r.ok, r.message) for r in reports}
    assert status["cgs-j15"][0] is False and "unexpected RuntimeError: a bug in one parser" in status["cgs-j15"][1]
    assert status["wps-part-b"][0] is True
