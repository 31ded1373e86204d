"""Issue 13 must-show: a rebuild after editing one rule lists that rule as changed with its old and
new values, on /-/changes, /-/changes.json and the Atom feed (/-/changes.atom and the canned
query's own /payerkb/changes_feed.atom), each linking to the rule's row page and the payer page.

The knowledge base is built from a private copy of policies/ (the build's changes step, no CMS
tables or search index); then one rule's threshold is edited in its YAML, another rule of another
payer is renamed (removed under its old id, added under the new one), and the copy is built
again over the first database.
"""
from __future__ import annotations

import html
import re
import shutil
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sites import datasette

from db import changes as changes_step, scraped_tables
from db.build import build as full_build

POLICIES = Path(__file__).resolve().parent.parent / "policies"
ATOM = "{http://www.w3.org/2005/Atom}"


def build(policies, out):
    return full_build(policies, out, extra_steps=[scraped_tables.load_scraped_tables, changes_step.record_changes])


def _rename(policies: Path, rule: dict) -> str:
    """Give the rule a new id in its YAML file; the new rule id."""
    path = policies / rule["file"].rsplit("policies/", 1)[1]
    lines = path.read_text().splitlines(keepends=True)
    assert lines[rule["line"] - 1].strip() == f"- id: {rule['rule_key']}", lines[rule["line"] - 1]
    lines[rule["line"] - 1] = lines[rule["line"] - 1].replace(rule["rule_key"], rule["rule_key"] + "-renamed")
    path.write_text("".join(lines))
    return rule["id"] + "-renamed"


def _raise_threshold(policies: Path, rule: dict) -> tuple[int, int]:
    """Add 250 to the rule's threshold_usd in its YAML file; (old, new)."""
    path = policies / rule["file"].rsplit("policies/", 1)[1]
    lines = path.read_text().splitlines(keepends=True)
    for i in range(rule["line"] - 1, len(lines)):
        match = re.match(r"^(\s*threshold_usd:\s*)(\d+)\s*$", lines[i])
        if match:
            old = int(match.group(2))
            lines[i] = f"{match.group(1)}{old + 250}\n"
            path.write_text("".join(lines))
            return old, old + 250
    raise AssertionError(f"no threshold_usd line for {rule['id']} in {path}")


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    """(database, the edited rule, old threshold, new threshold, the renamed rule, its new id)."""
    tmp = tmp_path_factory.mktemp("rebuilt")
    policies = tmp / "policies"
    shutil.copytree(POLICIES, policies)
    out = tmp / "payerkb.db"
    build(policies, out)
    conn = sqlite3.connect(out)
    conn.row_factory = sqlite3.Row
    rule = dict(conn.execute(
        "select id, payer_id, file, line from rules where origin = 'manual' and threshold_usd is not null "
        "and group_id is null and file like '%policies/payers/%' order by id limit 1").fetchone())
    renamed = dict(conn.execute(
        "select id, rule_key, payer_id, file, line from rules where origin = 'manual' and group_id is null "
        "and file like '%policies/payers/%' and payer_id != ? order by id limit 1", [rule["payer_id"]]).fetchone())
    conn.close()
    old, new = _raise_threshold(policies, rule)
    new_id = _rename(policies, renamed)
    build(policies, out)
    return out, rule, old, new, renamed, new_id


@pytest.fixture(scope="module")
def ds(rebuilt, metadata):
    return datasette([rebuilt[0]], metadata=metadata)


async def test_the_rebuild_records_what_was_edited_and_nothing_else(rebuilt):
    out, rule, old, new, renamed, new_id = rebuilt
    conn = sqlite3.connect(out)
    rows = conn.execute("select rule_id, kind, detail from changes where kind in "
                        "('rule_added', 'rule_changed', 'rule_removed')").fetchall()
    summary = conn.execute("select summary from rules where id = ?", [new_id]).fetchone()[0]
    assert sorted(rows) == sorted([(rule["id"], "rule_changed", f"threshold_usd: {old} -> {new}"),
                                   (new_id, "rule_added", summary), (renamed["id"], "rule_removed", summary)])


async def test_added_and_removed_rules_link_to_what_still_exists(ds, rebuilt):
    *_, renamed, new_id = rebuilt
    added = (await ds.client.get("/-/changes.json?kind=rule_added")).json()["changes"]
    removed = (await ds.client.get("/-/changes.json?kind=rule_removed")).json()["changes"]
    assert [(c["rule_id"], c["rule_path"], c["payer_path"]) for c in added] == [
        (new_id, f"/payerkb/rules/{new_id}", f"/-/payers/{renamed['payer_id']}")]
    assert [(c["rule_id"], c["rule_path"], c["payer_path"]) for c in removed] == [
        (renamed["id"], None, f"/-/payers/{renamed['payer_id']}")]  # its row page is gone
    feed = ET.fromstring((await ds.client.get("/-/changes.atom?kind=rule_removed")).content)
    [entry] = feed.findall(f"{ATOM}entry")
    content = entry.find(f"{ATOM}content").text
    assert "/payerkb/rules/" not in content and f'href="/-/payers/{renamed["payer_id"]}"' in content
    assert entry.find(f"{ATOM}link").get("href") == f"/-/payers/{renamed['payer_id']}"


async def test_changes_json_lists_the_rule_with_each_field_old_and_new(ds, rebuilt):
    _, rule, old, new, *_ = rebuilt
    data = (await ds.client.get("/-/changes.json?kind=rule_changed")).json()
    assert data["total"] == 1
    change = data["changes"][0]
    assert change["rule_id"] == rule["id"] and change["payer_id"] == rule["payer_id"]
    assert change["fields"] == [{"field": "threshold_usd", "old": old, "new": new}]
    # the links it gives answer: the rule's row page and payerkb's payer page
    assert change["payer_path"] == f"/-/payers/{rule['payer_id']}"
    assert change["rule_path"] == f"/payerkb/rules/{rule['id']}"
    for path in (change["payer_path"], change["rule_path"]):
        assert (await ds.client.get(path)).status_code == 200, path


async def test_changes_page_shows_old_and_new_values_and_links(ds, rebuilt):
    _, rule, old, new, *_ = rebuilt
    page = (await ds.client.get("/-/changes?kind=rule_changed")).text
    assert "<code>threshold_usd</code>" in page
    assert f"<del>{old}</del> &#8594; <ins>{new}</ins>" in page
    assert f'href="/payerkb/rules/{rule["id"]}"' in page
    assert f'href="/-/payers/{rule["payer_id"]}"' in page


@pytest.mark.parametrize("path", ["/-/changes.atom", "/payerkb/changes_feed.atom"])
async def test_the_feed_lists_the_rule_with_old_and_new_values(ds, rebuilt, path):
    _, rule, old, new, *_ = rebuilt
    r = await ds.client.get(path + "?kind=rule_changed")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(r.content)
    [entry] = feed.findall(f"{ATOM}entry")
    assert rule["payer_id"] in entry.find(f"{ATOM}title").text or "rule changed" in entry.find(f"{ATOM}title").text
    assert entry.find(f"{ATOM}link").get("href") == f"/-/payers/{rule['payer_id']}"
    content = html.unescape(entry.find(f"{ATOM}content").text)
    assert f"threshold_usd</code>: {old} \u2192 {new}" in content
    assert f'href="/payerkb/rules/{rule["id"]}"' in content
    assert f'href="/-/payers/{rule["payer_id"]}"' in content
    assert "rule changed: 1" in feed.find(f"{ATOM}subtitle").text


async def test_both_feed_urls_give_the_same_entries(ds):
    def entries(body):
        return [(e.find(f"{ATOM}id").text, e.find(f"{ATOM}updated").text)
                for e in ET.fromstring(body).findall(f"{ATOM}entry")]

    alias = await ds.client.get("/-/changes.atom")
    canned = await ds.client.get("/payerkb/changes_feed.atom")
    assert entries(alias.content) == entries(canned.content) and len(entries(alias.content)) == 50


@pytest.mark.browser
def test_the_changed_rule_in_a_browser_at_phone_width(rebuilt):
    """In Chromium, 400 pixels wide: the changes page shows the field with its old and new value,
    does not scroll sideways, and its links lead to the rule's row (showing the new value) and the
    payer's page."""
    from servers import chromium_or_skip, payerkb_serve

    chromium = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    out, rule, old, new, *_ = rebuilt
    with payerkb_serve(out) as (base, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 400, "height": 800})
            assert page.goto(base + "/-/changes?kind=rule_changed").status == 200
            item = page.locator("ul.pk-changed-fields li").first
            assert item.inner_text().split() == ["threshold_usd:", str(old), "\u2192", str(new)]
            assert page.evaluate("document.documentElement.scrollWidth") <= 400
            page.locator(f'a[href="/payerkb/rules/{rule["id"]}"]').first.click()
            page.wait_for_url(f"**/payerkb/rules/{rule['id']}")
            assert page.locator("td.col-threshold_usd").first.inner_text().strip() in (str(new), f"{new}.0")
            page.locator(f'td.col-payer_id a[href="/-/payers/{rule["payer_id"]}"]').click()
            page.wait_for_url(f"**/-/payers/{rule['payer_id']}")
            assert page.locator("h1").count() == 1
        finally:
            browser.close()


async def test_datasettes_changes_table_shows_the_fields_one_line_each(ds, rebuilt):
    _, rule, old, new, *_ = rebuilt
    page = (await ds.client.get("/payerkb/changes?kind=rule_changed")).text
    match = re.search(r'<td class="col-fields[^"]*"[^>]*>(.*?)</td>', page, re.S)
    assert match and match.group(1).strip() == f"threshold_usd: {old} \u2192 {new}"
