"""Issue 11, part 1: what a review of the Medicare and TRICARE rules against their sources found,
each corrected fact read back from the built database (and, for units, through the claim check)."""
from __future__ import annotations

import json
from urllib.parse import urlparse

import pytest
import sqlite_utils
from click.testing import CliRunner

from payerkb.cli import cli

AB_MACS = [
    "medicare-noridian-je", "medicare-noridian-jf", "medicare-novitas-jh", "medicare-novitas-jl",
    "medicare-palmetto-jj", "medicare-palmetto-jm", "medicare-fcso-jn", "medicare-wps-j5", "medicare-wps-j8",
    "medicare-cgs-j15", "medicare-ngs-j6", "medicare-ngs-jk",
]

# Consumer explainer sites and blogs (by host). A rule may cite one of them, but never only them.
CONSUMER_OR_BLOG_HOSTS = {
    "trustmedicare.com", "medicarefaq.com", "goodrx.com", "bellmedex.com", "carepatron.com", "pabau.com",
    "codingahead.com", "legalclarity.org", "precisionhub.com", "acorncraft.com", "fdotstokes.com",
    "blogspot.com", "wordpress.com", "medium.com", "blog.usrehab.com", "medicalbillingcptmodifiers.com",
    "medicarepaymentandreimbursement.com", "whatismedicalinsurancebilling.org", "medicalbillingcodings.org",
}
# A rule found only on such a host may be kept as a lead, but then it says `unconfirmed`.


@pytest.fixture(scope="module")
def db(built_db) -> sqlite_utils.Database:
    return sqlite_utils.Database(built_db)


def rule(db, rule_id: str) -> dict:
    return db["rules"].get(rule_id)


def source_urls(db, rule_id: str) -> set[str]:
    return {r["url"] for r in db.query(
        "select s.url from rule_sources rs join sources s on s.id = rs.source_id where rs.rule_id = ?", [rule_id])}


def source(db, source_id: str) -> dict:
    return db["sources"].get(source_id)


# 1. national narrative: SV101-7 with 80 characters, not NTE

def test_national_narrative_is_in_sv101_7_with_80_characters(db):
    for payer_id in ("medicare-cms", "medicare-railroad", "medicare-dme-ja"):
        r = rule(db, f"{payer_id}--narrative-professional")
        fields = json.loads(r["claim_field"])
        assert "837p-2400-sv101-7" in fields and "837p-2400-nte" not in fields, payer_id
        assert r["max_chars"] == 80 and r["group_id"] == "medicare-national"
        assert "https://www.findacode.com/articles/noc-drug-and-biological-codes-31604.html" in source_urls(db, r["id"])
    # MAC rules keep the fields their own pages name; no 80 is typed where no page states it
    assert rule(db, "medicare-palmetto-jj--narrative-professional")["max_chars"] is None
    assert rule(db, "medicare-fcso-jn--narrative-professional")["max_chars"] is None
    assert rule(db, "medicare-novitas-jh--narrative-professional")["max_chars"] is None
    assert "no character limit" in rule(db, "medicare-palmetto-jj--narrative-professional")["note"]


# 2. WAC plus up to 3% from 2019-01-01; 106% kept as superseded history

PALMETTO_PRICING = "https://www.palmettogba.com/palmetto/jjb.nsf/DID/8EELKH2211"


@pytest.mark.parametrize("payer_id,current,old", [
    ("medicare-railroad", "pricing-professional", "pricing-professional-wac-106"),
    ("medicare-fcso-jn", "pricing-professional-wac", "pricing-professional-wac-106"),
    ("medicare-fcso-jn", "pricing-professional-awp", "pricing-professional-awp-106"),
    ("medicare-palmetto-jj", "pricing-professional", "pricing-professional-wac-106"),
])
def test_wac_percent_changed_on_2019_01_01(db, payer_id, current, old):
    now = rule(db, f"{payer_id}--{current}")
    assert (now["percent"], now["effective_from"], now["effective_to"]) == (103, "2019-01-01", None)
    assert now["status"] in ("sourced", "conflicting")
    before = rule(db, f"{payer_id}--{old}")
    assert (before["percent"], before["effective_to"], before["status"]) == (106, "2018-12-31", "superseded")
    assert PALMETTO_PRICING in source_urls(db, now["id"]) and PALMETTO_PRICING in source_urls(db, before["id"])


def test_the_source_of_the_2019_date_is_undated_and_says_so(db):
    s = source(db, "palmetto-jjb-8eelkh2211")
    assert (s["undated"], s["doc_date"], s["kind"]) == (1, None, "official")
    assert "MM12854" in s["note"]
    # the Railroad copy of the article, dated 2021-06-04, is kept only on the superseded 106% rule
    assert "https://www.palmettogba.com/palmetto/rr.nsf/DID/8EELKH2211" in source_urls(
        db, "medicare-railroad--pricing-professional-wac-106")
    assert "https://www.palmettogba.com/palmetto/rr.nsf/DID/8EELKH2211" not in source_urls(
        db, "medicare-railroad--pricing-professional")


# 3. prior authorization: no consumer-site rule; CMS's OPD program instead

def test_part_b_drug_prior_auth_rests_on_cms_not_a_consumer_site(db):
    assert list(db.query("select id from rules where rule_key = 'prior-auth-part-b-drugs'")) == []
    assert list(db.query("select id from sources where url like '%trustmedicare%'")) == []
    for payer_id in AB_MACS + ["medicare-cms"]:
        r = rule(db, f"{payer_id}--prior-auth-opd-services")
        assert (r["setting"], r["requirement"], r["status"], r["effective_from"]) == (
            "outpatient_facility", "conditional", "sourced", "2020-07-01"), payer_id
        assert r["has_official_source"] == 1
    urls = source_urls(db, "medicare-cms--prior-auth-opd-services")
    assert urls == {"https://cms.gov/research-statistics-data-systems/medicare-fee-service-compliance-programs/"
                    "prior-authorization-initiatives/prior-authorization-certain-hospital-outpatient-department-opd-services"}
    assert source(db, "cms-opd-prior-auth")["doc_date"] == "2024-11-14"
    # professional Part B drug prior authorization is left unknown: no rule at all for that setting
    assert [r["id"] for r in db.query("select id from rules where payer_id = 'medicare-novitas-jh' "
                                      "and topic = 'prior_auth'")] == ["medicare-novitas-jh--prior-auth-opd-services"]


def _host_is_consumer(url: str) -> bool:
    host = (urlparse(url).hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in CONSUMER_OR_BLOG_HOSTS)


def test_no_rule_rests_only_on_a_consumer_site_or_blog(db):
    offenders = set()
    for row in db.query("select r.id, group_concat(s.url, ' ') as urls from rules r "
                        "join rule_sources rs on rs.rule_id = r.id join sources s on s.id = rs.source_id "
                        "where r.status in ('sourced', 'conflicting') group by r.id"):
        if all(_host_is_consumer(u) for u in row["urls"].split()):
            offenders.add(row["id"])
    assert offenders == set()
    # the West Virginia NDC rules known only from a blog copy are kept as unconfirmed leads
    assert rule(db, "medicaid-wv--ndc")["status"] == "unconfirmed"
    assert not any(o.startswith(("medicare-", "tricare")) for o in offenders)
    # the Railroad narrative rule that rested only on a 2013 blog post is gone; the national one applies
    assert rule(db, "medicare-railroad--narrative-professional")["group_id"] == "medicare-national"


# 4. disagreements marked conflicting, each side naming the other

def test_jw_on_c9399_is_conflicting_at_every_mac(db):
    for payer_id in AB_MACS + ["medicare-cms", "medicare-railroad"]:
        no_jw = rule(db, f"{payer_id}--modifiers-c9399-jw")
        jw = rule(db, f"{payer_id}--modifiers-c9399-jw-national")
        assert (no_jw["requirement"], no_jw["status"]) == ("not_required", "conflicting"), payer_id
        assert (jw["requirement"], jw["status"]) == ("conditional", "conflicting"), payer_id
        assert "modifiers-c9399-jw-national" in no_jw["note"] and "modifiers-c9399-jw" in jw["note"]
    assert rule(db, "medicare-cms--modifiers-jw-jz")["status"] == "sourced"


def test_palmetto_jm_block_19_ndc_conflicts_with_the_national_item_24a(db):
    jm = rule(db, "medicare-palmetto-jm--ndc-professional")
    national = rule(db, "medicare-palmetto-jm--ndc-format-no-separators")
    assert (jm["status"], national["status"]) == ("conflicting", "conflicting")
    assert "cms1500-item19" in json.loads(jm["claim_field"])
    assert "cms1500-24a-shaded" in json.loads(national["claim_field"])
    assert "ndc-format-no-separators" in jm["note"] and "ndc-professional" in national["note"]
    # only JM's copy of the national rule is disputed
    assert rule(db, "medicare-palmetto-jj--ndc-format-no-separators")["status"] == "sourced"


def test_tricare_home_infusion_awp_conflicts_with_asp_plus_6(db):
    asp = rule(db, "tricare--pricing-home-infusion-dme")
    awp = rule(db, "tricare--pricing-home-infusion-awp")
    assert (asp["pricing_basis"], asp["percent"], asp["effective_from"], asp["status"]) == (
        "asp", 106, "2017-01-01", "conflicting")
    assert (awp["pricing_basis"], awp["percent"], awp["effective_from"], awp["status"]) == (
        "awp", 95, "2012-01-30", "conflicting")
    assert "pricing-home-infusion-awp" in asp["note"] and "pricing-home-infusion-dme" in awp["note"]
    assert "https://manuals.health.mil/pages/DisplayManualHtmlFile/2022-12-05/AsOf/TRT5/C1S15.html" in source_urls(
        db, awp["id"])


# 5. NOC lines billed as one unit, at every MAC

def test_every_ab_mac_has_a_sourced_one_unit_rule_for_noc_j_codes(db):
    for payer_id in AB_MACS + ["medicare-cms", "medicare-railroad"]:
        r = rule(db, f"{payer_id}--units-professional")
        assert (r["unit_rule"], r["requirement"], r["status"]) == ("one_unit", "required", "sourced"), payer_id
        assert {"J3490", "J3590", "J9999"} <= set(json.loads(r["codes"]))
        assert r["source_count"] >= 2
    assert rule(db, "medicare-wps-j5--units-professional")["group_id"] == "wps"
    assert rule(db, "medicare-novitas-jh--units-professional")["group_id"] == "medicare-national"
    assert "https://www.iononline.com/insights/noc-claims-and-ensuring-your-practice-is-reimbursed" in source_urls(
        db, "medicare-novitas-jh--units-professional")


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def test_claim_check_reports_three_units_on_j3590_at_every_mac(built_db):
    lines = [{"payer_id": p, "date_of_service": "2026-01-15", "setting": "professional", "hcpcs": "J3590",
              "units": 3} for p in AB_MACS]
    result = _runner().invoke(cli, ["check", "-", "--json", "--db", str(built_db)],
                              input="\n".join(json.dumps(x) for x in lines) + "\n")
    assert result.exit_code == 1
    bodies = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(bodies) == len(AB_MACS)
    for line, body in zip(lines, bodies):
        errors = [f for f in body["findings"] if f["severity"] == "error" and f["topic"] == "units"]
        assert [f["rule_id"] for f in errors] == [f"{line['payer_id']}--units-professional"], line["payer_id"]
        assert body["normalized"]["units"] == 1


def test_claim_check_single_novitas_line(built_db):
    line = {"payer_id": "medicare-novitas-jh", "date_of_service": "2026-01-15", "setting": "professional",
            "hcpcs": "J3590", "units": 3}
    result = _runner().invoke(cli, ["check", "-", "--db", str(built_db)], input=json.dumps(line))
    assert result.exit_code == 1
    assert "3 units billed" in result.stdout and "rule medicare-novitas-jh--units-professional" in result.stdout


# 6. national C9399 rules cite MAC pages, the newsletter only beside them

def test_national_c9399_rules_cite_mac_pages(db):
    units = source_urls(db, "medicare-cms--units-c9399-opps")
    assert "https://www.palmettogba.com/palmetto/providers.nsf/DocsCat/Providers~JM%20Part%20A~Resources~FAQs~Claims~8BFR455541?open" in units
    assert "https://ngsmedicare.com/web/ngs/drugs-and-vaccines?selectedArticleId=1625983" in units
    pricing = rule(db, "medicare-cms--pricing-c9399-opps")
    assert (pricing["pricing_basis"], pricing["percent"], pricing["has_official_source"]) == ("awp", 95, 1)
    assert "https://medicare.fcso.com/fees/understanding-local-contractor-pricing" in source_urls(db, pricing["id"])
    assert rule(db, "medicare-cms--coding-c9399-opps")["has_official_source"] == 1
    assert rule(db, "medicare-cms--coding-c9399-asc")["has_official_source"] == 1
    assert "https://www.palmettogba.com/palmetto/jjb.nsf/DID/BY6RTU8205" in source_urls(db, "medicare-cms--coding-c9399-asc")
    # the newsletter stays only as an extra, secondary source
    newsletter = source(db, "visante-c9399-2022")
    assert newsletter["kind"] == "secondary"


# 7. archive copies are secondary

def test_web_archive_copies_are_secondary(db):
    archived = list(db.query("select id, kind from sources where url like '%web.archive.org%' "
                             "or url like '%cybercemetery%' or url like '%archive.org/%'"))
    assert archived and all(s["kind"] == "secondary" for s in archived)
    assert source(db, "cms-mac-spotlight-2012-09-17")["kind"] == "secondary"


# 8. invoice rules: a threshold or the words "no dollar threshold"

def test_medicare_and_tricare_invoice_rules_give_a_threshold_or_say_there_is_none(db):
    found = list(db.query("select id, threshold_usd, summary from rules where topic = 'invoice' and origin != 'gap' "
                          "and (payer_id like 'medicare-%' or payer_id = 'tricare')"))
    assert {"medicare-railroad--invoice-professional", "medicare-fcso-jn--invoice-professional",
            "medicare-palmetto-jj--invoice-professional", "medicare-cgs-j15--invoice-on-request",
            "medicare-novitas-jh--invoice-j7999"} <= {r["id"] for r in found}
    for r in found:
        assert r["threshold_usd"] is not None or "no dollar threshold" in r["summary"], r["id"]
