"""payerkb's own pages (payerkb/web/pages.py) through Datasette's test client.

Most tests run on a small made-up knowledge base (tests/fixtures/pages_policies/) so they can
assert exact answers; a few run on the database built from the shipped policies/.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import sqlite_utils

from db.schema import TOPICS
from payerkb import queries

FIXTURE_POLICIES = Path(__file__).resolve().parent / "fixtures" / "pages_policies"
ATOM = "{http://www.w3.org/2005/Atom}"

CHANGES = [
    {"id": 1, "changed_at": "2026-01-05", "kind": "rule_added", "payer_id": "alpha-health",
     "rule_id": "alpha-health--invoice", "source_id": None, "url": None, "title": "invoice rule added",
     "detail": "threshold 500"},
    {"id": 2, "changed_at": "2026-03-01T09:30:00", "kind": "page_changed", "payer_id": None,
     "rule_id": None, "source_id": "alpha-pa", "url": "https://example.org/alpha/prior-auth",
     "title": "Alpha prior authorization list", "detail": 'now says <script>alert("x")</script> & more'},
    {"id": 3, "changed_at": "2025-12-31", "kind": "rule_effective", "payer_id": "beta-medicaid",
     "rule_id": "beta-medicaid--pricing", "source_id": None, "url": None, "title": "WAC pricing",
     "detail": None},
]


def _build(tmp_path_factory, name: str) -> Path:
    from db.build import build

    out = tmp_path_factory.mktemp(name) / "payerkb.db"
    build(FIXTURE_POLICIES, out, extra_steps=[])
    return out


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory) -> Path:
    """The fixture knowledge base with a changes table (as db/changes.py builds it)."""
    path = _build(tmp_path_factory, "pages")
    sqlite_utils.Database(path)["changes"].insert_all(CHANGES, pk="id")
    return path


@pytest.fixture(scope="module")
def no_changes_db(tmp_path_factory) -> Path:
    return _build(tmp_path_factory, "pages-nochanges")


def _datasette(path: Path, metadata: dict):
    from sites import datasette

    return datasette([path], metadata=metadata)


@pytest.fixture(scope="module")
def pages(fixture_db, metadata):
    return _datasette(fixture_db, metadata)


def _ids_in_order(html: str, prefix: str) -> list[str]:
    return re.findall(rf'id="{prefix}([a-z_]+)"', html)


# --- home ---------------------------------------------------------------------------------------

async def test_home_shows_counts_freshness_search_box_and_links(pages, fixture_db):
    r = await pages.client.get("/")
    assert r.status_code == 200
    html = r.text
    conn = sqlite3.connect(fixture_db)
    rules = conn.execute("select count(*) from rules where origin != 'gap'").fetchone()[0]
    gaps = conn.execute("select count(*) from rules where origin = 'gap'").fetchone()[0]
    assert f"<strong>4</strong> payers" in html
    assert f"<strong>{rules}</strong> rules" in html and f"<strong>{gaps}</strong> gaps" in html
    assert "<strong>6</strong> sources" in html
    # freshness: the oldest and newest dates the sources show (an undated source's reading date,
    # 2026-11-27 in this fixture, is not a date the source shows)
    assert "<strong>2015-03-01</strong> (oldest)" in html and "<strong>2025-06-02</strong> (newest)" in html
    # a labelled search box that sends the query to the search page
    assert re.search(r'<form class="pk-search" action="/-/search" method="get"', html)
    assert '<label for="home-q">' in html and 'id="home-q" type="search" name="q"' in html
    for path in ("/-/matrix", "/-/payers", "/-/codes/J3590", "/-/compare", "/-/changes"):
        assert f'href="{path}"' in html
    assert html.count("<h1") == 1
    home = (await pages.client.get("/-/home.json")).json()
    assert home["counts"]["payers"] == 4 and home["counts"]["rules"] == rules
    assert home["freshness"]["oldest_as_of"] == "2015-03-01"
    assert [c["kind"] for c in home["recent_changes"]] == ["page_changed", "rule_added", "rule_effective"]


# --- payer page ---------------------------------------------------------------------------------

async def test_payer_page_shows_every_topic_in_order_with_values_dates_and_sources(pages):
    r = await pages.client.get("/-/payers/alpha-health")
    assert r.status_code == 200
    html = r.text
    # the topics with no source yet fold into one line (keeping their anchors); the rest in order
    unknown = ["units", "documentation", "submission", "coding"]
    assert _ids_in_order(html, "topic-") == unknown + [t for t in TOPICS if t not in unknown]
    assert ("No source found yet for: <span id=\"topic-units\">Units</span>, <span id=\"topic-documentation\">"
            "Documentation</span>, <span id=\"topic-submission\">Submission</span>, <span id=\"topic-coding\">"
            "Coding (which code)</span>.") in html
    assert html.count("No source found yet") == 1 and "Gap: no public source" not in html
    assert "<h1>Alpha Health Plan</h1>" in html and html.count("<h1") == 1
    # structured values, in words
    assert "$1,000" in html and "$500" in html
    assert "85% of AWP" in html
    assert "837P loop 2400 NTE02 (line note); CMS-1500 item 19 (additional claim information)" in html
    assert "<dt>Max characters</dt><dd>80</dd>" in html
    assert "180 days" in html and "drug name, dose, ndc" in html
    # sources: title link, publisher, document number, date shown, kind
    assert '<a href="https://example.org/alpha/prior-auth" rel="noopener">Alpha prior authorization list (test source)</a>' in html
    assert "Alpha Health Plan, PA-7," in html and "dated 2025-06-01" in html
    assert 'kind-official' in html and 'kind-secondary' in html
    # the rule group it includes, and the group's rule shown with the payer's own
    assert "<strong>test-shared</strong> (1 rule)" in html
    assert "Report JW for a discarded amount" in html and "every NOC code" in html
    # the at-a-glance table gives each known topic's footing
    glance = html.split('class="pk-glance"')[1].split("</table>")[0]
    assert "Units" not in glance and 'req-conflicting">Conflicting</span> <span class="pk-meta">secondary only' in glance


async def test_payer_page_badges_conflicting_unconfirmed_stale_and_undated(pages):
    alpha = (await pages.client.get("/-/payers/alpha-health")).text
    ndc = alpha.split('id="topic-ndc"')[1].split("</section>")[0]
    assert ndc.count('flag-conflicting">conflicting') == 2
    assert 'req-conflicting">Conflicting' in ndc  # the topic heading says so too
    invoice = alpha.split('id="topic-invoice"')[1].split("</section>")[0]
    assert 'flag-stale">stale source' in invoice  # its only source is dated 2015
    assert "older than 3 years" in invoice
    beta = (await pages.client.get("/-/payers/beta-medicaid")).text
    units = beta.split('id="topic-units"')[1].split("</section>")[0]
    assert 'flag-unconfirmed">unconfirmed' in units and "No source yet" in units
    assert "undated (read 2026-11-27)" in beta


async def test_payer_json_twin_has_the_same_rules(pages):
    html = (await pages.client.get("/-/payers/alpha-health")).text
    r = await pages.client.get("/-/payers/alpha-health.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    data = r.json()
    assert [t["topic"] for t in data["topics"]] == list(TOPICS)
    anchors = {rule["anchor"] for t in data["topics"] for rule in t["rules"] if rule["origin"] != "gap"}
    assert anchors == set(re.findall(r'<article id="(rule-[a-z0-9-]+)"', html))
    ndc = next(t for t in data["topics"] if t["topic"] == "ndc")
    assert ndc["requirement"] == "conflicting"
    assert {r["ndc_format"] for r in ndc["rules"]} == {"11_digit_no_separators", "5-4-2_with_dashes"}
    pa = next(t for t in data["topics"] if t["topic"] == "prior_auth")["rules"][0]
    assert pa["threshold_usd"] == 1000 and pa["sources"][0]["url"] == "https://example.org/alpha/prior-auth"
    assert data["payer"]["groups"] == [{"id": "test-shared", "rules": 1}]


def test_stale_is_judged_by_the_date_the_sources_show(fixture_db):
    conn = sqlite3.connect(fixture_db)
    on = lambda day: {r["rule_key"]: r for t in queries.payer_page(conn, "alpha-health", today=day)["topics"]
                      for r in t["rules"]}
    early, late = on(dt.date(2026, 1, 1)), on(dt.date(2028, 6, 2))
    assert early["invoice"]["stale"] and "stale" in early["invoice"]["flags"]
    assert not early["prior-auth"]["stale"]          # its source shows 2025-06-01
    assert late["prior-auth"]["stale"]               # three years later it is stale
    beta = queries.payer_page(conn, "beta-medicaid", today=dt.date(2040, 1, 1))
    undated = [r for t in beta["topics"] for r in t["rules"] if r["rule_key"] == "invoice"][0]
    assert not undated["stale"]                      # an undated source is never called stale


# --- not found, bad input, escaping -------------------------------------------------------------

@pytest.mark.parametrize("path, status, words", [
    ("/-/payers/no-such-payer", 404, "no-such-payer"),
    ("/-/codes/J1234", 404, "J1234"),
    ("/-/compare?payers=alpha-health,nobody", 404, "nobody"),
    ("/-/compare?payers=alpha-health,beta-medicaid&code=Q9999", 404, "Q9999"),
    ("/-/compare.json?payers=alpha-health", 400, "payers"),
    ("/-/matrix?state=XX", 400, "state"),
    ("/-/codes/J3590?payer_type=martian", 400, "payer_type"),
    ("/-/changes?page=0", 400, "page"),
    ("/-/changes?kind=rumour", 400, "kind"),
])
async def test_unknown_things_and_bad_parameters_answer_404_or_400_naming_them(pages, path, status, words):
    r = await pages.client.get(path)
    assert r.status_code == status
    assert words in r.text
    base, _, query = path.partition("?")
    if not base.endswith(".json"):
        twin = await pages.client.get(base + ".json" + (f"?{query}" if query else ""))
        assert twin.status_code == status
        assert twin.json()["ok"] is False and words in twin.json()["error"]


async def test_data_and_urls_are_escaped(pages):
    alpha = (await pages.client.get("/-/payers/alpha-health")).text
    assert '<script>alert("pk")</script>' not in alpha
    assert "&lt;script&gt;alert(&#34;pk&#34;)&lt;/script&gt;" in alpha
    assert "<i>2015</i>" not in alpha and "&lt;i&gt;2015&lt;/i&gt;" in alpha
    assert 'href="https://example.org/alpha/billing?tab=noc&amp;x=&lt;b&gt;"' in alpha
    for path in ("/-/matrix", "/-/payers", "/-/codes/J3590", "/-/payers/delta-plan"):
        html = (await pages.client.get(path)).text
        assert "Delta & <Co> Health" not in html and "Delta &amp; &lt;Co&gt; Health" in html, path
    r = await pages.client.get("/-/payers/%3Cscript%3Ex")
    assert r.status_code == 404 and "<script>x" not in r.text
    changes = (await pages.client.get("/-/changes")).text
    assert '<script>alert("x")</script>' not in changes


# --- code page ----------------------------------------------------------------------------------

async def test_code_page_descriptors_status_indicator_alternatives_and_payers(pages):
    r = await pages.client.get("/-/codes/J3590")
    html = r.text
    assert r.status_code == 200 and "<h1>J3590: Unclassified biologics</h1>" in html
    assert "<strong>N</strong>: packaged" in html
    instead = html.split('id="h-instead"')[1].split("</section>")[0]
    assert re.search(r'C9399</a> [^<]*hospital outpatient', instead)
    assert "anti-cancer" in instead and ">J3590<" not in instead
    for name in ("Alpha Health Plan", "Beta State Medicaid", "Gamma National Program"):
        assert name in html
    # the answers first: one row per payer, a word and footing per topic, linking to the detail
    assert html.index('class="pk-matrix pk-code-matrix"') < html.index('id="h-instead"')
    alpha_row = html.split('<tr id="payer-alpha-health">')[1].split("</tr>")[0]
    assert '<th scope="row"><a href="/-/payers/alpha-health?code=J3590">Alpha Health Plan</a>' in alpha_row
    assert ('<td class="cell req-conflicting foot-secondary-only"><a href="/-/payers/alpha-health?code=J3590#topic-ndc">'
            'Conflicting<small class="pk-foot">secondary only</small></a></td>') in alpha_row
    assert alpha_row.count('<td class="cell') == len(TOPICS)
    data = (await pages.client.get("/-/codes/j3590.json")).json()
    assert data["code"]["code"] == "J3590" and data["payer_count"] == 4
    delta = next(p for p in data["payers"] if p["id"] == "delta-plan")
    assert delta["rules"] == [] and delta["gaps"] == list(TOPICS)
    alpha = next(p for p in data["payers"] if p["id"] == "alpha-health")
    assert {r["topic"] for r in alpha["rules"]} >= {"prior_auth", "invoice", "pricing", "narrative", "ndc"}


async def test_code_page_filters_by_payer_type_and_state(pages):
    only = lambda data: sorted(p["id"] for p in data["payers"])
    medicaid = (await pages.client.get("/-/codes/J3590.json?payer_type=medicaid_ffs")).json()
    assert only(medicaid) == ["beta-medicaid"]
    texas = (await pages.client.get("/-/codes/J3590.json?state=tx")).json()
    assert only(texas) == ["alpha-health", "gamma-national"]  # the national payer covers Texas too
    html = (await pages.client.get("/-/codes/J3590?state=TX")).text
    assert "Beta State Medicaid" not in html and "Show all payers" in html
    assert 'href="/-/codes/J3590?state=TX&amp;payer_type=commercial"' in html
    # C9399 is only in the gap rows and the shared group's rule
    c9399 = (await pages.client.get("/-/codes/C9399.json")).json()
    alpha = next(p for p in c9399["payers"] if p["id"] == "alpha-health")
    assert [r["topic"] for r in alpha["rules"]] == ["modifiers"]


# --- compare ------------------------------------------------------------------------------------

async def test_compare_puts_payers_side_by_side_and_highlights_differences(pages):
    data = (await pages.client.get("/-/compare.json?payers=alpha-health,beta-medicaid&code=J3590")).json()
    by_topic = {t["topic"]: t for t in data["topics"]}
    assert [p["id"] for p in data["payers"]] == ["alpha-health", "beta-medicaid"]
    assert by_topic["pricing"]["differs"] and "pricing_basis" in by_topic["pricing"]["differing_fields"]
    assert by_topic["modifiers"]["differs"]          # alpha has the group's rule, beta a gap
    assert not by_topic["documentation"]["differs"]  # both unknown
    assert [c["requirement"] for c in by_topic["ndc"]["cells"]] == ["conflicting", "unknown"]
    html = (await pages.client.get("/-/compare?payers=alpha-health,beta-medicaid&code=J3590")).text
    rows = {topic: cls for cls, topic in re.findall(r'<tr class="(pk-differs|pk-same)" id="topic-([a-z_]+)"', html)}
    assert rows["pricing"] == "pk-differs" and rows["documentation"] == "pk-same"
    assert html.count('pk-diff-badge">differs') == sum(t["differs"] for t in data["topics"])
    # the same rule from a shared group is not a difference
    same = (await pages.client.get("/-/compare.json?payers=alpha-health,gamma-national")).json()
    assert not next(t for t in same["topics"] if t["topic"] == "modifiers")["differs"]


async def test_compare_form_accepts_repeated_payers_and_preselects_them(pages):
    empty = await pages.client.get("/-/compare")
    assert empty.status_code == 200 and "<legend>Payers (tick two or more)</legend>" in empty.text
    r = await pages.client.get("/-/compare?payers=alpha-health&payers=gamma-national&code=J3490")
    assert r.status_code == 200 and "<h1>Compare payers for J3490</h1>" in r.text
    assert '<input type="checkbox" id="cmp-alpha-health" name="payers" value="alpha-health" checked>' in r.text
    assert '<input type="checkbox" id="cmp-beta-medicaid" name="payers" value="beta-medicaid">' in r.text


@pytest.mark.parametrize("query, words", [
    ("payers=alpha-health", "at least two"),
    ("payers=alpha-health,no-such-payer", "no payer with id"),
])
async def test_compare_with_one_payer_shows_the_form_again_with_a_message(pages, query, words):
    r = await pages.client.get(f"/-/compare?{query}&code=J3490")
    assert r.status_code in (400, 404)
    assert '<p class="pk-error" role="alert">' in r.text and words in r.text
    # the form is there again, the payer already ticked, the code kept
    assert '<input type="checkbox" id="cmp-alpha-health" name="payers" value="alpha-health" checked>' in r.text
    assert '<option value="J3490" selected>' in r.text and "<table" not in r.text
    assert (await pages.client.get(f"/-/compare.json?{query}")).json()["ok"] is False


# --- matrix -------------------------------------------------------------------------------------

async def test_matrix_shows_every_payer_coloured_by_requirement_with_links(pages):
    html = (await pages.client.get("/-/matrix")).text
    rows = re.findall(r'<tr><th scope="row"><a href="/-/payers/([a-z0-9-]+)">', html)
    assert sorted(rows) == ["alpha-health", "beta-medicaid", "delta-plan", "gamma-national"]
    # each cell: the word, coloured, and its footing under it
    assert ('class="cell req-conflicting foot-secondary-only"><a href="/-/payers/alpha-health#topic-ndc">'
            'Conflicting<small class="pk-foot">secondary only</small></a>') in html
    assert ('class="cell req-required foot-unconfirmed"><a href="/-/payers/beta-medicaid#topic-units">'
            'Required<small class="pk-foot">unconfirmed</small></a>') in html
    assert 'class="cell req-conditional foot-official"><a href="/-/payers/gamma-national#topic-modifiers">' in html
    assert html.count('class="cell req-unknown"><a href="/-/payers/delta-plan#') == len(TOPICS)
    data = (await pages.client.get("/-/matrix.json")).json()
    assert data["topics"] == list(TOPICS) and len(data["payers"]) == 4


async def test_matrix_filters_and_csv_download(pages):
    ga = (await pages.client.get("/-/matrix.json?state=GA")).json()
    assert sorted(p["id"] for p in ga["payers"]) == ["beta-medicaid", "delta-plan", "gamma-national"]
    bcbs = (await pages.client.get("/-/matrix?payer_type=bcbs")).text
    assert "Delta &amp; &lt;Co&gt; Health" in bcbs and "Alpha Health Plan" not in bcbs
    assert 'href="/-/matrix.csv?payer_type=bcbs"' in bcbs
    r = await pages.client.get("/-/matrix.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["payer_id"] for row in table] == [p["id"] for p in (await pages.client.get("/-/matrix.json")).json()["payers"]]
    alpha = next(row for row in table if row["payer_id"] == "alpha-health")
    assert alpha["ndc"] == "conflicting" and alpha["prior_auth"] == "required" and alpha["states"] == "TX OK"
    assert alpha["ndc_footing"] == "secondary only" and alpha["prior_auth_footing"] == "official"
    assert alpha["units"] == "unknown" and alpha["units_footing"] == ""
    filtered = list(csv.DictReader(io.StringIO((await pages.client.get("/-/matrix.csv?state=TX")).text)))
    assert {row["payer_id"] for row in filtered} == {"alpha-health", "gamma-national"}


# --- changes ------------------------------------------------------------------------------------

async def test_changes_page_newest_first_with_filters(pages):
    html = (await pages.client.get("/-/changes")).text
    dates = re.findall(r'<tr>\s*<td class="pk-nowrap">([0-9T:-]+)</td>', html)
    assert dates == ["2026-03-01T09:30:00", "2026-01-05", "2025-12-31"]
    assert 'href="/-/changes.atom"' in html and 'type="application/atom+xml"' in html
    data = (await pages.client.get("/-/changes.json?kind=rule_added")).json()
    assert [c["id"] for c in data["changes"]] == [1] and data["total"] == 1
    beta = (await pages.client.get("/-/changes.json?payer=beta-medicaid")).json()
    assert [c["kind"] for c in beta["changes"]] == ["rule_effective"]
    assert beta["changes"][0]["payer_name"] == "Beta State Medicaid"


# The Atom feed (/-/changes.atom, the changes_feed canned query through datasette-atom): tests/test_changes_feed.py


async def test_changes_without_a_changes_table(no_changes_db, metadata):
    ds = _datasette(no_changes_db, metadata)
    r = await ds.client.get("/-/changes")
    assert r.status_code == 200 and "no change history yet" in r.text
    assert (await ds.client.get("/-/changes.json")).json()["available"] is False
    feed = ET.fromstring((await ds.client.get("/-/changes.atom")).content)
    assert feed.find(f"{ATOM}updated") is not None and feed.findall(f"{ATOM}entry") == []
    assert (await ds.client.get("/")).status_code == 200


# --- the shipped knowledge base -----------------------------------------------------------------

async def test_every_shipped_payer_page_renders(ds, built_db):
    conn = sqlite3.connect(built_db)
    payer_ids = [r[0] for r in conn.execute("select id from payers")]
    matrix = (await ds.client.get("/-/matrix.json")).json()
    assert sorted(p["id"] for p in matrix["payers"]) == sorted(payer_ids)
    for payer_id in payer_ids:
        r = await ds.client.get(f"/-/payers/{payer_id}")
        assert r.status_code == 200, payer_id
        assert sorted(_ids_in_order(r.text, "topic-")) == sorted(TOPICS), payer_id
        assert r.text.count("No source found yet for:") <= 1, payer_id
    for path in ("/", "/-/codes", "/-/codes/J3590", "/-/payers", "/-/changes", "/-/changes.atom",
                 f"/-/compare?payers={payer_ids[0]},{payer_ids[-1]}"):
        assert (await ds.client.get(path)).status_code == 200, path


async def test_payer_rules_for_one_code(pages):
    data = (await pages.client.get("/-/payers/alpha-health.json?code=j9999")).json()
    assert data["code"] == "J9999"
    known = {t["topic"]: [r["rule_key"] for r in t["rules"]] for t in data["topics"] if not t["gap"]}
    assert known == {"invoice": ["invoice"], "modifiers": ["modifiers-jw-jz"]}
    html = (await pages.client.get("/-/payers/alpha-health?code=J9999")).text
    assert "Showing the rules that cover" in html and "Priced at a percentage of AWP" not in html
    assert '<option value="J9999" selected>' in html
    bad = await pages.client.get("/-/payers/alpha-health.json?code=J0001")
    assert bad.status_code == 400 and "code" in bad.json()["error"]


@pytest.mark.asyncio
async def test_shipped_payer_page_says_what_a_rule_does_not_apply_to(ds):
    # Palmetto's narrative rule rejects mg/mL except for compounded drugs (typed `exceptions`)
    page = await ds.client.get("/-/payers/medicare-palmetto-jj")
    assert page.status_code == 200
    assert "Does not apply to" in page.text and "compounded" in page.text
    data = (await ds.client.get("/-/payers/medicare-palmetto-jj.json")).json()
    rules = [r for topic in data["topics"] for r in topic["rules"]] if "topics" in data else data["rules"]
    narrative = next(r for r in rules if r["id"] == "medicare-palmetto-jj--narrative-professional")
    assert narrative["exceptions"] == ["compounded"]
