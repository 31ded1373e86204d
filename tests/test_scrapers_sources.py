"""Each registered source on its fixture pages, the Coverage API flow, structure changes, the writer."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import responses
import yaml

from formats import files
from scrapers import registry, writer
from scrapers.fetch import Fetcher, ResponseCache
from scrapers.registry import api_url
from scrapers.run import make_fetcher, run, run_source
from scrapers.writer import Vocabulary

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
TEST_PAGES = Path(__file__).resolve().parent / "fixtures" / "scrapers"
PALMETTO = registry.get("palmetto-gba")


def offline(tmp_path, *names, out=None):
    out = out or tmp_path / "out"
    fetcher = make_fetcher(offline=True, out_dir=out, cache_dir=tmp_path / "cache")
    return run(list(names), out_dir=out, policies_dir=POLICIES, fetcher=fetcher), out


def online_fetcher(tmp_path, out):
    return Fetcher(cache=ResponseCache(tmp_path / "cache"), sleep=lambda s: None, min_interval=0,
                   known_hashes={}, resolve=lambda host: [])


def test_every_source_runs_offline_from_its_fixtures(tmp_path):
    reports, out = offline(tmp_path)
    assert {r.name for r in reports} == {s.name for s in registry.SOURCES}
    bad = [(r.name, r.message) for r in reports if not r.ok]
    assert not bad
    assert all(r.fixture for r in reports)
    for spec in registry.SOURCES:
        if spec.kind == "mac_page":
            data = yaml.safe_load((out / f"{spec.name}.yml").read_text())
            assert data["rules"] and all(r["status"] == "needs_review" and r["origin"] == "scraped" for r in data["rules"])
            for src in data["sources"]:
                assert "offline fixture" in src["note"].lower()  # fixture-made sources say so
                assert src["sha256"] and src["retrieved"]
        elif spec.kind == "drug_notice":
            data = yaml.safe_load((out / "drug-rules" / f"{spec.name}.yml").read_text())
            assert data["drug_rules"] and all(r["status"] == "needs_review" for r in data["drug_rules"])
        else:
            data = yaml.safe_load((out / "records" / f"{spec.name}.yml").read_text())
            assert data["documents"] or data["coverage_articles"]


def test_mac_rules_name_payers_sources_and_dated_pages(tmp_path):
    _, out = offline(tmp_path, "palmetto-gba", "noridian-je")
    data = yaml.safe_load((out / "palmetto-gba.yml").read_text())
    by_payer = {}
    for rule in data["rules"]:
        by_payer.setdefault(rule["payer_id"], set()).add((rule["topic"], rule["setting"]))
    assert ("narrative", "professional") in by_payer["medicare-palmetto-jj"]
    assert ("pricing", "asc") in by_payer["medicare-palmetto-jm"]
    sources = {s["id"]: s for s in data["sources"]}
    assert sources["scraped-palmetto-gba-jjb-by6rtu8205"]["doc_date"] == "2021-02-15"
    assert sources["scraped-palmetto-gba-jjb-by6rtu8205"]["url"] == PALMETTO.pages[1].url
    noridian = yaml.safe_load((out / "noridian-je.yml").read_text())
    assert noridian["sources"][0]["doc_date"] == "2025-03-04"
    assert {r["payer_id"] for r in noridian["rules"]} == {"medicare-noridian-je"}


def test_policy_indexes_become_flagged_documents(tmp_path):
    _, out = offline(tmp_path, "uhc-commercial-drug-policies", "cigna-coverage-policies", "humana-medical-policies")
    docs = {}
    for name in ("uhc-commercial-drug-policies", "cigna-coverage-policies", "humana-medical-policies"):
        for d in yaml.safe_load((out / "records" / f"{name}.yml").read_text())["documents"]:
            docs[d["title"]] = d
    ndc = docs["National Drug Code (NDC) Requirement Policy, Facility and Professional"]
    assert ndc["flags"] == ["ndc"] and ndc["format"] == "pdf" and ndc["doc_date"] == "2026-01-01"
    assert ndc["url"].startswith("https://www.uhcprovider.com/content/dam/")
    assert ndc["payer_id"] == "unitedhealthcare" and ndc["number"] == "2026R0001A"
    assert docs["Drug Wastage Policy, Professional and Facility"]["flags"] == ["wastage"]
    cigna = docs["Unlisted and Not Otherwise Classified Drug Codes (R32)"]
    assert cigna["flags"] == ["unlisted_drugs"] and cigna["effective_date"] == "2026-02-01" and cigna["number"] == "R32"
    humana = docs["Medication Waste and Single-Dose Vials - Medicare Advantage"]
    assert humana["flags"] == ["wastage"] and humana["doc_date"] == "2025-12-09" and humana["format"] == "pdf"
    assert docs["Botulinum Toxins A and B"]["flags"] == []


def coverage_web(mock, articles_report, codes_by_id):
    mock.get(f"{registry.COVERAGE_API}/robots.txt", status=404)
    mock.get(api_url("/v1/metadata/license-agreement/"), json={"meta": {}, "data": [{"token": "tok-123"}]})
    mock.get(api_url("/v1/reports/local-coverage-articles/", status="A"), json={"meta": {}, "data": articles_report})
    for (aid, ver), rows in codes_by_id.items():
        mock.get(api_url("/v1/data/article/hcpc-code", articleid=str(aid), ver=str(ver)),
                 json={"meta": {}, "data": rows})


def _row(aid, ver, title):
    return {"document_id": aid, "document_version": ver, "document_display_id": f"A{aid}",
            "document_type": "Article", "title": title, "contractor_name_type": "Palmetto GBA\n(MAC - Part B)",
            "updated_on": "06/05/2025", "effective_date": "06/12/2025", "retirement_date": "N/A",
            "url": f"https://www.cms.gov/medicare-coverage-database/view/article.aspx?articleid={aid}&ver={ver}"}


def _code(aid, code, group=1):
    return {"article_id": aid, "hcpc_code_id": code, "hcpc_code_group": group, "long_description": f"desc {code}"}


def test_coverage_api_uses_the_license_token_and_keeps_level_ii_noc_articles(tmp_path):
    out = tmp_path / "out"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        coverage_web(mock, [
            _row(54880, 10, "Billing and Coding: NOC drugs"),
            _row(11111, 1, "Billing and Coding: Drugs and Biologicals"),
            _row(22222, 3, "Urine Drug Testing"),  # not about drugs billing: never asked for
        ], {(54880, 10): [_code(54880, "J3590"), _code(54880, "96372", 2)],
            (11111, 1): [_code(11111, "J9035")]})
        fetcher = online_fetcher(tmp_path, out)
        report = run_source(registry.get("cms-coverage-articles"), fetcher, out, Vocabulary.from_policies(POLICIES))
        code_calls = [c for c in mock.calls if "/hcpc-code" in c.request.url]
        assert all(c.request.headers["Authorization"] == "Bearer tok-123" for c in code_calls)
        assert not any("22222" in c.request.url for c in mock.calls)
    assert report.ok, report.message
    data = yaml.safe_load((out / "records" / "cms-coverage-articles.yml").read_text())
    assert [a["id"] for a in data["coverage_articles"]] == ["A54880"]
    assert data["coverage_articles"][0]["payer_ids"] == ["medicare-palmetto-jj", "medicare-palmetto-jm"]
    assert data["coverage_articles"][0]["effective_date"] == "2025-06-12"
    assert [c["code"] for c in data["coverage_article_codes"]] == ["J3590"]  # the CPT row is dropped


def test_coverage_api_with_a_changed_envelope_is_reported(tmp_path):
    out = tmp_path / "out"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{registry.COVERAGE_API}/robots.txt", status=404)
        mock.get(api_url("/v1/metadata/license-agreement/"), json={"token": "flat"})
        report = run_source(registry.get("cms-coverage-articles"), online_fetcher(tmp_path, out), out,
                            Vocabulary.from_policies(POLICIES))
    assert not report.ok and "shape has changed" in report.message
    assert not (out / "records").exists()


def _palmetto_web(mock, second_page: str):
    mock.get("https://www.palmettogba.com/robots.txt", body="User-agent: *\nAllow: /\n")
    pages = [(registry.FIXTURES / p.fixture).read_text() for p in PALMETTO.pages]
    pages[1] = second_page
    for page, body in zip(PALMETTO.pages, pages):
        mock.get(page.url, body=body, content_type="text/html")


def test_a_redesigned_page_is_reported_and_the_last_good_file_stays(tmp_path):
    out = tmp_path / "out"
    vocab = Vocabulary.from_policies(POLICIES)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        _palmetto_web(mock, (registry.FIXTURES / PALMETTO.pages[1].fixture).read_text())
        first = run_source(PALMETTO, online_fetcher(tmp_path, out), out, vocab)
    assert first.ok and not first.fixture
    good = (out / "palmetto-gba.yml").read_bytes()
    assert b"Offline fixture" not in good  # fetched live (mocked), so not marked as a fixture

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        _palmetto_web(mock, (TEST_PAGES / "palmetto_redesigned.html").read_text())
        second = run_source(PALMETTO, online_fetcher(tmp_path, out), out, vocab)
    assert not second.ok
    assert "div#docContent" in second.message and "structure has changed" in second.message
    assert (out / "palmetto-gba.yml").read_bytes() == good
    assert not list(out.glob(".*.tmp"))


def test_malformed_html_is_still_read(tmp_path):
    content = registry.get("palmetto-gba").load().read_page(
        (TEST_PAGES / "palmetto_malformed.html").read_text(), PALMETTO.pages[1].url)
    from scrapers.extract import NOC_CODES, extract
    facts = {(f.topic, f.setting): f for f in extract(content.sections, noc_codes=NOC_CODES, default_setting="professional")}
    assert facts[("pricing", "professional")].values == {"pricing_basis": "wac", "percent": 106}
    assert facts[("invoice", "professional")].values["threshold_usd"] == 1000.0
    assert content.doc_date == "2021-02-15"


def test_a_source_that_parses_to_nothing_fails_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get("https://www.palmettogba.com/robots.txt", status=404)
        for page in PALMETTO.pages:
            mock.get(page.url, body=(TEST_PAGES / "palmetto_no_facts.html").read_text())
        report = run_source(PALMETTO, online_fetcher(tmp_path, out), out, Vocabulary.from_policies(POLICIES))
    assert not report.ok and "parsed to nothing" in report.message
    assert not (out / "palmetto-gba.yml").exists()


def test_rules_for_payers_policies_does_not_know_are_dropped_and_said(tmp_path):
    vocab = Vocabulary.from_policies(POLICIES)
    vocab.payers.discard("medicare-palmetto-jm")
    out = tmp_path / "out"
    fetcher = make_fetcher(offline=True, out_dir=out, cache_dir=tmp_path / "cache")
    report = run_source(PALMETTO, fetcher, out, vocab)
    assert report.ok
    assert any("medicare-palmetto-jm" in w and "dropped" in w for w in report.warnings)
    rules = yaml.safe_load((out / "palmetto-gba.yml").read_text())["rules"]
    assert {r["payer_id"] for r in rules} == {"medicare-palmetto-jj"}


def test_writer_is_atomic_when_the_write_fails(tmp_path, monkeypatch):
    target = tmp_path / "scraped" / "x.yml"
    writer.write_text_atomic(target, "good: 1\n")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", boom)  # the one atomic write, formats/files.py
    with pytest.raises(OSError):
        writer.write_text_atomic(target, "half")
    assert target.read_text() == "good: 1\n"
    assert [p.name for p in target.parent.iterdir()] == ["x.yml"]  # no temp file left behind


def test_fixture_records_are_never_written_into_the_knowledge_base(tmp_path, monkeypatch):
    kb_scraped = tmp_path / "policies" / "scraped"
    kb_scraped.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    reports, _ = offline(tmp_path, "palmetto-gba", out=Path("policies/scraped"))
    assert not reports[0].ok and "never" in reports[0].message
    assert list(kb_scraped.iterdir()) == []  # no rules file, and no fixture lines in the fetch log


def test_fetch_log_records_every_fetch_and_what_changed(tmp_path):
    out = tmp_path / "out"
    for body in ("<div id='docContent'><p>J3490 is paid at 106% of the WAC.</p></div>",
                 "<div id='docContent'><p>J3490 is paid at 103% of the WAC.</p></div>"):
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            _palmetto_web(mock, body)
            fetcher = make_fetcher(offline=False, out_dir=out, cache_dir=tmp_path / "cache",
                                   sleep=lambda s: None, min_interval=0)
            run(["palmetto-gba"], out_dir=out, policies_dir=POLICIES, fetcher=fetcher)
    log = [json.loads(line) for line in (out / "fetch-log.jsonl").read_text().splitlines()]
    assert len(log) == 6 and {r["scraper"] for r in log} == {"palmetto-gba"}
    changed = [r["url"] for r in log if r["changed"]]
    assert changed == [PALMETTO.pages[1].url]
