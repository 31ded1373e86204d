"""Drug notices become candidate drug rules, and only `payerkb review` moves them into policies/."""
from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest
import responses
import yaml
from click.testing import CliRunner

from db.validate import load_policies
from payerkb.cli import cli
from scrapers import registry
from scrapers.fetch import Fetcher, ResponseCache
from scrapers.run import make_fetcher, run, run_source
from scrapers.writer import Vocabulary

ROOT = Path(__file__).resolve().parent.parent
TEST_PAGES = Path(__file__).resolve().parent / "fixtures" / "scrapers"
ANTHEM = registry.get("anthem-specialty-pharmacy")
BCBSM = registry.get("bcbsm-record-drug-pa")
NOTICE_PAYERS = ("anthem-georgia", "anthem-ohio", "anthem-wisconsin", "anthem-connecticut", "bcbs-michigan")


QALSODY = "id: qalsody\nbrand_name: Qalsody\ngeneric_name: tofersen\n"
GEORGIA_RULES = """payer_id: anthem-georgia
sources:
  - id: anthem-ga-specialty-pharmacy-2023-08
    url: https://providernews.anthem.com/georgia/articles/specialty-pharmacy-updates-for-august-2023-mac-1-14847
    title: Specialty pharmacy updates, August 2023 (Anthem Georgia provider news)
    publisher: Anthem Blue Cross and Blue Shield
    doc_date: 2023-08-01
    retrieved: 2026-12-02
    kind: official
drug_rules:
  - id: qalsody-prior-auth
    drug: qalsody
    topic: prior_auth
    codes: [J3490, J3590]
    requirement: required
    effective_from: 2023-11-01
    criteria_id: CC-0237
    sources:
      - {ref: anthem-ga-specialty-pharmacy-2023-08, locator: prior authorization updates table}
"""


@pytest.fixture()
def policies(tmp_path) -> Path:
    """A copy of policies/ that has every payer the notices speak for."""
    dest = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", dest)
    shutil.rmtree(dest / "scraped" / "drug-rules", ignore_errors=True)
    # the drug knowledge these tests start from: one drug, one hand-written rule file (the sources
    # the real drug files declare stay, in sources.yml, for the payer files that cite them)
    kept = []
    for folder in ("drugs", "drug-rules"):
        for path in sorted((dest / folder).glob("*.yml")):
            kept.extend((yaml.safe_load(path.read_text()) or {}).get("sources") or [])
        shutil.rmtree(dest / folder)
        (dest / folder).mkdir()
    if kept:
        existing = yaml.safe_load((dest / "sources.yml").read_text())["sources"] if (dest / "sources.yml").exists() else []
        kept = [s for s in kept if s["id"] != "anthem-ga-specialty-pharmacy-2023-08"]
        (dest / "sources.yml").write_text(yaml.safe_dump({"sources": existing + kept}, sort_keys=False))
    (dest / "drugs" / "qalsody.yml").write_text(QALSODY)
    (dest / "drug-rules" / "anthem-georgia.yml").write_text(GEORGIA_RULES)
    for payer in NOTICE_PAYERS:
        path = dest / "payers" / f"{payer}.yml"
        if not path.exists():
            path.write_text(f"id: {payer}\nname: Test payer {payer}\npayer_type: bcbs\n")
    return dest


def scrape(tmp_path, policies: Path, *names) -> dict[str, dict]:
    out = policies / "scraped"
    fetcher = make_fetcher(offline=True, out_dir=out, cache_dir=tmp_path / "cache")
    reports = run(list(names), out_dir=out, policies_dir=policies, fetcher=fetcher)
    assert all(r.ok for r in reports), [r.message for r in reports]
    return {n: yaml.safe_load((out / "drug-rules" / f"{n}.yml").read_text()) for n in names}


def by_key(data: dict) -> dict[tuple, dict]:
    return {(r["payer_id"], r["drug"], r["topic"]): r for r in data["drug_rules"]}


def test_anthem_notices_become_candidates_with_criteria_dates_and_reviewers(tmp_path, policies):
    data = scrape(tmp_path, policies, "anthem-specialty-pharmacy")["anthem-specialty-pharmacy"]
    rules = by_key(data)
    qalsody = rules[("anthem-georgia", "qalsody", "prior_auth")]
    assert (qalsody["codes"], qalsody["effective_from"], qalsody["criteria_id"]) == (["J3490", "J3590"], "2023-11-01", "CC-0237")
    assert qalsody["status"] == "needs_review" and qalsody["origin"] == "scraped"
    assert "CC-0237 | Qalsody (tofersen) | J3490, J3590" == qalsody["excerpt"]
    # a starred criteria id: oncology use goes to the company the footnote names
    assert "Carelon" in rules[("anthem-georgia", "zynyz", "prior_auth")]["reviewer"]
    assert "AIM Specialty Health" in rules[("anthem-georgia", "xembify", "prior_auth")]["reviewer"]
    assert rules[("anthem-georgia", "eticovo", "prior_auth")]["reviewer"] == "Anthem medical specialty drug review team"
    # only NOC codes are kept; a row on a specific code alone is no candidate
    assert rules[("anthem-wisconsin", "sarclisa", "prior_auth")]["codes"] == ["C9399", "J3490", "J3590", "J9999"]
    assert not any(d == "bevou" or d == "bynfezia" or d == "riabni" for (_, d, _) in rules)
    # the table's heading decides the topic
    assert rules[("anthem-wisconsin", "xembify", "step_therapy")]["effective_from"] == "2020-09-01"
    assert rules[("anthem-connecticut", "skyrizi", "quantity_limit")]["codes"] == ["J3490", "J3590"]
    drugs = {d["id"]: d for d in data["drugs"]}
    assert drugs["briumvi"] == {"id": "briumvi", "brand_name": "Briumvi", "generic_name": "ublituximab"}
    sources = {s["id"]: s for s in data["sources"]}
    assert sources["scraped-anthem-specialty-pharmacy-oh-12815"]["doc_date"] == "2023-03-01"
    assert sources["scraped-anthem-specialty-pharmacy-ga-4392"]["url"] == ANTHEM.pages[0].url


def test_old_and_new_column_orders_read_the_same(tmp_path, policies):
    """2020 notices run criteria | codes | drug, 2023 ones criteria | drug | codes."""
    rules = by_key(scrape(tmp_path, policies, "anthem-specialty-pharmacy")["anthem-specialty-pharmacy"])
    old = rules[("anthem-georgia", "adakveo", "prior_auth")]
    new = rules[("anthem-ohio", "sunlenca", "prior_auth")]
    assert (old["criteria_id"], old["codes"]) == ("ING-CC-0153", ["C9399", "J3490", "J3590"])
    assert (new["criteria_id"], new["codes"]) == ("CC-0229", ["J3490", "C9399"])


def test_a_notice_with_no_noc_code_yields_no_candidate_and_says_so():
    from scrapers.sources import anthem_news
    html = (TEST_PAGES / "anthem_step_therapy_specific_code.html").read_text()
    notice = anthem_news.read(html, "https://example.test/notice")
    assert [(r.drug, r.codes, r.topic, r.effective_from) for r in notice.rows] == [
        ("Tysabri", ["J2323"], "step_therapy", "2021-10-01")]
    from scrapers.fetch import Fetched
    got = Fetched(url="https://example.test/notice", status_code=200, content=html.encode(), sha256="0" * 64,
                  fetched_at="2026-12-02T00:00:00Z")
    spec = registry.SourceSpec(name="t", module="anthem_news", kind="drug_notice", publisher="Anthem", description="",
                               pages=(registry.Page("https://example.test/notice", "x", key="k", payer_ids=("anthem-georgia",)),))
    result = anthem_news.parse(spec, [got])
    assert result.drug_rules == [] and "name no NOC code" in result.warnings[0]


def _anthem_web(mock, replace: dict[str, str] | None = None):
    mock.get("https://providernews.anthem.com/robots.txt", body="User-agent: *\nAllow: /\n")
    for page in ANTHEM.pages:
        body = (replace or {}).get(page.url) or (registry.FIXTURES / page.fixture).read_text()
        mock.get(page.url, body=body, content_type="text/html")


def test_a_notice_that_stops_parsing_fails_loudly_and_keeps_the_last_good_candidates(tmp_path, policies):
    out = tmp_path / "scraped"
    vocab = Vocabulary.from_policies(policies)
    fetcher = lambda: Fetcher(cache=ResponseCache(tmp_path / "cache"), sleep=lambda s: None, min_interval=0, known_hashes={}, resolve=lambda host: [])  # noqa: E731
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        _anthem_web(mock)
        first = run_source(ANTHEM, fetcher(), out, vocab)
    assert first.ok and first.rules >= 14
    good = (out / "drug-rules" / "anthem-specialty-pharmacy.yml").read_bytes()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        _anthem_web(mock, {ANTHEM.pages[1].url: (TEST_PAGES / "anthem_redesigned.html").read_text()})
        second = run_source(ANTHEM, fetcher(), out, vocab)
    assert not second.ok
    assert "no table of drugs and HCPCS codes" in second.message and "last good records were kept" in second.message
    assert (out / "drug-rules" / "anthem-specialty-pharmacy.yml").read_bytes() == good


def test_candidates_from_fixtures_never_land_in_the_real_scraped_folder(tmp_path):
    out = ROOT / "policies" / "scraped"
    fetcher = make_fetcher(offline=True, out_dir=out, cache_dir=tmp_path / "cache")
    before = sorted(p.name for p in out.rglob("*"))
    [report] = run(["anthem-specialty-pharmacy"], out_dir=out, policies_dir=ROOT / "policies", fetcher=fetcher)
    assert not report.ok and "never written" in report.message
    assert sorted(p.name for p in out.rglob("*")) == before


def test_scraped_candidates_are_validated_but_not_knowledge(tmp_path, policies):
    scrape(tmp_path, policies, "anthem-specialty-pharmacy")
    kb, problems = load_policies(policies)
    assert problems == []
    assert len(kb.scraped_drug_rules) == 1
    assert all(f.model.payer_id for f in kb.drug_rules)  # candidates are not among the drug rules
    assert not any("/scraped/" in f.path for f in kb.drug_rules)


# --- payerkb review ------------------------------------------------------------------------------

def review(policies: Path, *args):
    return CliRunner().invoke(cli, ["review", *args, "--policies", str(policies)])


def test_review_lists_each_candidate_with_its_row_and_source(tmp_path, policies):
    scrape(tmp_path, policies, "bcbsm-record-drug-pa")
    result = review(policies, "list")
    assert result.exit_code == 0, result.output
    assert "bcbsm-record-drug-pa:bcbs-michigan--record-0616v-cinqair-prior-auth" in result.output
    assert "row: Cinqair® | J3490/J3590" in result.output
    assert BCBSM.pages[0].url in result.output
    assert "1 candidate(s): 1 can be accepted" in result.output


@pytest.mark.slow
def test_review_accept_moves_a_candidate_into_policies(tmp_path, policies):
    scrape(tmp_path, policies, "bcbsm-record-drug-pa", "anthem-specialty-pharmacy")
    key = "bcbsm-record-drug-pa:bcbs-michigan--record-0616v-cinqair-prior-auth"
    dry = review(policies, "accept", key, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "+++ b/policies/drug-rules/bcbs-michigan.yml" in dry.output and "+  - id: record-0616v-cinqair-prior-auth" not in dry.output
    assert not (policies / "drug-rules" / "bcbs-michigan.yml").exists()  # a dry run writes nothing

    done = review(policies, "accept", key)
    assert done.exit_code == 0, done.output
    kb, problems = load_policies(policies)
    assert problems == []
    [rules_file] = [f for f in kb.drug_rules if f.model.payer_id == "bcbs-michigan"]
    [rule] = [r for r in rules_file.model.drug_rules if r.drug == "cinqair"]
    assert (rule.codes, rule.effective_from, rule.status, rule.origin) == (["J3490", "J3590"], "2016-06-01", "sourced", "manual")
    assert rule.summary.startswith("Cinqair billed on J3490 or J3590 needs prior authorization")
    src = kb.sources[rule.sources[0].ref][0]
    assert src.url == BCBSM.pages[0].url and src.kind == "official"
    assert "cinqair" in kb.drugs
    # the candidate left the scraped file (it was the file's only one), and the log says who did what
    assert not (policies / "scraped" / "drug-rules" / "bcbsm-record-drug-pa.yml").exists()
    assert '"action": "accept"' in (policies / "scraped" / "review-log.jsonl").read_text()
    # accepting it again is refused: it is no longer a candidate
    again = review(policies, "accept", key)
    assert again.exit_code == 2 and "no candidate" in again.output


@pytest.mark.slow
def test_review_accept_by_source_keeps_hand_written_files_tidy(tmp_path, policies):
    scrape(tmp_path, policies, "anthem-specialty-pharmacy")
    before = (policies / "drug-rules" / "anthem-georgia.yml").read_text()
    result = review(policies, "accept", "--source", "anthem-specialty-pharmacy")
    kb, problems = load_policies(policies)
    assert problems == []
    after = (policies / "drug-rules" / "anthem-georgia.yml").read_text()
    # lines are only inserted (a source into sources:, rules at the end): the hand-written part stays
    ops = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines()).get_opcodes()
    assert {op for op, *_ in ops} == {"equal", "insert"}
    georgia = {r.drug for f in kb.drug_rules if f.model.payer_id == "anthem-georgia" for r in f.model.drug_rules}
    assert {"xembify", "adakveo", "givlaari", "zynyz", "qalsody"} <= georgia
    # what policies/ already had (Qalsody from 2023-11-01) is refused as a duplicate, not added twice
    assert "already in" in result.output and result.exit_code == 1
    assert sum(r.drug == "qalsody" for f in kb.drug_rules if f.model.payer_id == "anthem-georgia" for r in f.model.drug_rules) == 1


def _edit_candidates(policies: Path, name: str, change):
    path = policies / "scraped" / "drug-rules" / f"{name}.yml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize("change, message", [
    (lambda d: d["drug_rules"][0].pop("effective_from"), "no effective date"),
    (lambda d: d["drug_rules"][0].update(sources=[]), "no source"),
    (lambda d: d["drug_rules"][0].update(codes=["J3595"]), "unknown code(s) J3595"),
])
@pytest.mark.slow
def test_review_refuses_a_candidate_without_date_source_or_known_code(tmp_path, policies, change, message):
    scrape(tmp_path, policies, "bcbsm-record-drug-pa")
    _edit_candidates(policies, "bcbsm-record-drug-pa", change)
    result = review(policies, "accept", "--source", "bcbsm-record-drug-pa")
    assert result.exit_code == 1 and message in result.output
    assert not (policies / "drug-rules" / "bcbs-michigan.yml").exists()


@pytest.mark.slow
def test_review_reports_a_drug_name_that_matches_two_drugs(tmp_path, policies):
    scrape(tmp_path, policies, "bcbsm-record-drug-pa")
    for ident in ("cinqair-vial", "cinqair-kit"):
        (policies / "drugs" / f"{ident}.yml").write_text(f"id: {ident}\nbrand_name: {ident}\naliases: [Cinqair]\n")
    result = review(policies, "accept", "--source", "bcbsm-record-drug-pa")
    assert result.exit_code == 1
    assert "matches 2 drugs (cinqair-kit, cinqair-vial)" in result.output


@pytest.mark.slow
def test_review_reject_drops_a_candidate_and_the_next_scrape_does_not_offer_it_again(tmp_path, policies):
    scrape(tmp_path, policies, "bcbsm-record-drug-pa", "anthem-specialty-pharmacy")
    result = review(policies, "reject", "--source", "bcbsm-record-drug-pa", "--why", "kept by hand instead")
    assert result.exit_code == 0, result.output
    assert not (policies / "scraped" / "drug-rules" / "bcbsm-record-drug-pa.yml").exists()
    out = policies / "scraped"
    fetcher = make_fetcher(offline=True, out_dir=out, cache_dir=tmp_path / "cache2")
    [report] = run(["bcbsm-record-drug-pa"], out_dir=out, policies_dir=policies, fetcher=fetcher)
    assert report.ok and not (out / "drug-rules" / "bcbsm-record-drug-pa.yml").exists()


@pytest.mark.slow
def test_review_needs_ids_or_a_source(tmp_path, policies):
    result = review(policies, "accept")
    assert result.exit_code == 2 and "--source" in result.output
    result = review(policies, "list", "--source", "nope")
    assert result.exit_code == 2 and "no candidates from source 'nope'" in result.output
