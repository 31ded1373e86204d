"""The changes feed through datasette-atom (issue 15): the canned query changes_feed served as
/payerkb/changes_feed.atom, /-/changes.atom its alias, links never from the Host header, a
subtitle that says what the feed holds, Datasette's permissions."""
from __future__ import annotations

import copy
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sites import datasette

from payerkb.web.pages_feed import FEED_QUERY

ATOM = "{http://www.w3.org/2005/Atom}"
FEEDS = ["/-/changes.atom", f"/payerkb/{FEED_QUERY}.atom"]
FIXTURE_POLICIES = Path(__file__).resolve().parent / "fixtures" / "pages_policies"


def _feed(response) -> ET.Element:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("application/atom+xml")
    return ET.fromstring(response.content)


def _links(feed: ET.Element) -> list[str]:
    return [link.get("href") for link in feed.iter(f"{ATOM}link")]


def test_the_feed_is_a_canned_query_with_datasette_atoms_columns(metadata):
    query = metadata["databases"]["payerkb"]["queries"][FEED_QUERY]
    assert query["title"] and query["description"]
    for column in ("atom_id", "atom_updated", "atom_title", "atom_link", "atom_content_html"):
        assert f" as {column}" in query["sql"], column


@pytest.mark.parametrize("path", FEEDS)
async def test_feed_is_valid_atom_newest_first(ds, built_db, path):
    feed = _feed(await ds.client.get(path))
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "subtitle"):
        assert feed.find(f"{ATOM}{required}") is not None and feed.find(f"{ATOM}{required}").text, required
    entries = feed.findall(f"{ATOM}entry")
    conn = sqlite3.connect(built_db)
    newest = [r[0] for r in conn.execute("select id from changes order by changed_at desc, id desc limit 50")]
    assert [e.find(f"{ATOM}id").text for e in entries] == [f"urn:uuid:{i}" for i in newest]
    updated = [e.find(f"{ATOM}updated").text for e in entries]
    assert updated == sorted(updated, reverse=True)
    assert feed.find(f"{ATOM}updated").text == updated[0]
    for e in entries:
        assert e.find(f"{ATOM}title").text and e.find(f"{ATOM}link").get("href")
        # RFC 4287: a feed without an author needs one in every entry
        assert e.find(f"{ATOM}author/{ATOM}name").text == "payerkb"
    self_link = next(link for link in feed.findall(f"{ATOM}link") if link.get("rel") == "self")
    assert self_link.get("href") == path


async def test_entries_link_to_payerkb_pages_that_answer(ds, built_db):
    feed = _feed(await ds.client.get("/-/changes.atom?kind=rule_effective"))
    entries = feed.findall(f"{ATOM}entry")
    assert entries
    for e in entries[:5]:
        href = e.find(f"{ATOM}link").get("href")
        assert href.startswith("/-/payers/"), href
        assert (await ds.client.get(href)).status_code == 200, href


@pytest.mark.parametrize("path", FEEDS)
async def test_no_link_comes_from_the_host_header(ds, path):
    r = await ds.client.get(path, headers={"host": "evil.example.org"})
    assert "evil.example.org" not in r.text
    feed = _feed(r)
    assert feed.find(f"{ATOM}id").text.startswith("urn:uuid:")  # no public URL: an id made from the path
    assert all(not href.startswith("http://") or "evil" not in href for href in _links(feed))


@pytest.mark.parametrize("path", FEEDS)
async def test_a_configured_public_url_makes_the_links_absolute(built_db, metadata, path):
    md = copy.deepcopy(metadata)
    md.setdefault("plugins", {})["payerkb"] = {"public_url": "https://kb.example.org/"}
    ds = datasette([built_db], metadata=md)
    r = await ds.client.get(path + "?kind=rule_effective", headers={"host": "evil.example.org"})
    assert "evil.example.org" not in r.text
    feed = _feed(r)
    assert feed.find(f"{ATOM}id").text == f"https://kb.example.org{path}?kind=rule_effective"
    assert feed.get("{http://www.w3.org/XML/1998/namespace}base") == "https://kb.example.org/"
    links = _links(feed)
    assert links and all(href.startswith("https://") for href in links), links
    assert "https://kb.example.org/-/changes?kind=rule_effective" in links
    assert any(href.startswith("https://kb.example.org/-/payers/") for href in links)


async def test_subtitle_says_what_the_feed_holds(ds, built_db):
    feed = _feed(await ds.client.get("/-/changes.atom"))
    subtitle = feed.find(f"{ATOM}subtitle").text
    conn = sqlite3.connect(built_db)
    total = conn.execute("select count(*) from changes").fetchone()[0]
    kinds = dict(conn.execute("select kind, count(*) from (select kind from changes "
                              "order by changed_at desc, id desc limit 50) group by kind").fetchall())
    built_at = conn.execute("select built_at from payerkb_build").fetchone()[0]
    dates = [e.find(f"{ATOM}updated").text[:10] for e in feed.findall(f"{ATOM}entry")]
    assert f"The newest 50 of {total:,} changes" in subtitle
    assert f"dated {min(dates)} to {max(dates)}" in subtitle
    from payerkb.web.pages_labels import CHANGE_KIND_LABELS

    for kind, count in kinds.items():
        assert f"{CHANGE_KIND_LABELS[kind]}: {count}" in subtitle
    assert built_at[:10] in subtitle
    # a first build has no rule diffs, and the subtitle does not claim any
    if not any(k in kinds for k in ("rule_added", "rule_changed", "rule_removed")):
        assert "No rule was added, changed or removed between builds" in subtitle


async def test_filters_narrow_the_feed_and_its_subtitle(ds):
    feed = _feed(await ds.client.get("/-/changes.atom?kind=source_dated"))
    terms = {e.find(f"{ATOM}title").text for e in feed.findall(f"{ATOM}entry")}
    assert terms
    assert "of kind source dated" in feed.find(f"{ATOM}subtitle").text
    none = _feed(await ds.client.get("/-/changes.atom?payer=no-such-payer"))
    assert none.findall(f"{ATOM}entry") == [] and "No changes" in none.find(f"{ATOM}subtitle").text
    assert (await ds.client.get("/-/changes.atom?kind=rumour")).status_code == 400


async def test_without_a_changes_table_the_alias_is_an_empty_feed(tmp_path, metadata):
    from db.build import build

    out = tmp_path / "payerkb.db"
    build(FIXTURE_POLICIES, out, extra_steps=[])
    ds = datasette([out], metadata=metadata)
    feed = _feed(await ds.client.get("/-/changes.atom"))
    assert feed.find(f"{ATOM}updated").text and feed.findall(f"{ATOM}entry") == []
    assert (await ds.client.get(f"/payerkb/{FEED_QUERY}.atom")).status_code < 500


@pytest.mark.parametrize("path", FEEDS)
async def test_the_feed_obeys_the_canned_querys_permissions(built_db, metadata, path):
    md = copy.deepcopy(metadata)
    md["databases"]["payerkb"]["queries"][FEED_QUERY]["allow"] = {"id": "editor"}
    ds = datasette([built_db], metadata=md)
    assert (await ds.client.get(path)).status_code == 403
    cookies = {"ds_actor": ds.sign({"a": {"id": "editor"}}, "actor")}
    assert (await ds.client.get(path, cookies=cookies)).status_code == 200


async def test_the_changes_page_links_its_feed_and_the_canned_query(ds):
    page = (await ds.client.get("/-/changes")).text
    assert 'href="/-/changes.atom"' in page and f'href="/payerkb/{FEED_QUERY}"' in page


# Made-up changes on the small fixture knowledge base (as in tests/test_pages.py), one carrying markup.
FIXTURE_CHANGES = [
    {"id": "00000000-0000-5000-8000-000000000001", "changed_at": "2026-01-05", "kind": "rule_added",
     "payer_id": "alpha-health", "rule_id": "alpha-health--invoice", "title": "invoice rule added",
     "detail": "threshold 500"},
    {"id": "00000000-0000-5000-8000-000000000002", "changed_at": "2026-03-01T09:30:00", "kind": "page_changed",
     "source_id": "alpha-pa", "url": "https://example.org/alpha/prior-auth",
     "title": "Alpha prior authorization list", "detail": 'now says <script>alert("x")</script> & more'},
    {"id": "00000000-0000-5000-8000-000000000003", "changed_at": "2025-12-31", "kind": "rule_effective",
     "payer_id": "beta-medicaid", "rule_id": "beta-medicaid--pricing", "title": "WAC pricing"},
]


@pytest.fixture(scope="module")
def fixture_ds(tmp_path_factory, metadata):
    import sqlite_utils

    from db.build import build
    from db.changes import COLUMNS

    out = tmp_path_factory.mktemp("feed") / "payerkb.db"
    build(FIXTURE_POLICIES, out, extra_steps=[])
    db = sqlite_utils.Database(out)
    db["changes"].create(COLUMNS, pk="id")
    db["changes"].insert_all(FIXTURE_CHANGES)
    db.close()
    return datasette([out], metadata=metadata)


async def test_fixture_feed_dates_titles_links_and_escaped_markup(fixture_ds):
    import html

    feed = _feed(await fixture_ds.client.get("/-/changes.atom"))
    entries = feed.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}id").text for e in entries] == [f"urn:uuid:{c['id']}" for c in
                                                           (FIXTURE_CHANGES[1], FIXTURE_CHANGES[0], FIXTURE_CHANGES[2])]
    assert [e.find(f"{ATOM}updated").text for e in entries] == [
        "2026-03-01T09:30:00+00:00", "2026-01-05T00:00:00+00:00", "2025-12-31T00:00:00+00:00"]
    assert [e.find(f"{ATOM}title").text for e in entries] == [
        "Alpha prior authorization list", "invoice rule added", "WAC pricing"]
    assert [e.find(f"{ATOM}link").get("href") for e in entries] == [
        "/payerkb/sources/alpha-pa", "/-/payers/alpha-health", "/-/payers/beta-medicaid"]
    # markup in the data is text in the feed: escaped in the entry's HTML, whole after unescaping
    content = entries[0].find(f"{ATOM}content").text
    assert "<script" not in content
    assert 'now says <script>alert("x")</script> & more' in html.unescape(content)
    assert 'href="https://example.org/alpha/prior-auth"' in content
    subtitle = feed.find(f"{ATOM}subtitle").text
    assert "3 changes" in subtitle and "dated 2025-12-31 to 2026-03-01" in subtitle
    assert "rule added: 1" in subtitle and "source page changed: 1" in subtitle and "rule takes effect: 1" in subtitle


async def test_a_changes_table_from_an_older_build_is_a_400_not_a_500(tmp_path, metadata):
    """A database built before changes.fields existed: the page still shows its changes, the feed
    says to build again."""
    import sqlite_utils

    from db.build import build

    out = tmp_path / "payerkb.db"
    build(FIXTURE_POLICIES, out, extra_steps=[])
    db = sqlite_utils.Database(out)
    db["changes"].insert_all([{k: v for k, v in FIXTURE_CHANGES[0].items()}], pk="id")  # no fields column
    db.close()
    ds = datasette([out], metadata=metadata)
    feed = await ds.client.get("/-/changes.atom")
    assert feed.status_code == 400 and "build it again" in feed.text
    page = await ds.client.get("/-/changes")
    assert page.status_code == 200 and "invoice rule added" in page.text
