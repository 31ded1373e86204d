"""`payerkb scrape` end to end: offline into a temp policies copy, then validate and build."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlite_utils
import yaml
from click.testing import CliRunner

from payerkb.cli import cli
from scrapers import registry
from scrapers.fetch import ResponseCache

TEST_PAGES = Path(__file__).resolve().parent / "fixtures" / "scrapers"


def scrape(*args):
    return CliRunner().invoke(cli, ["scrape", *args], catch_exceptions=False)


def test_list_names_every_source():
    result = scrape("--list")
    assert result.exit_code == 0
    for spec in registry.SOURCES:
        assert spec.name in result.output


def test_unknown_source_is_refused_with_the_known_names():
    result = CliRunner().invoke(cli, ["scrape", "--offline", "no-such-source"])
    assert result.exit_code == 2 and "no-such-source" in result.output and "palmetto-gba" in result.output


@pytest.mark.slow
def test_offline_scrape_into_a_policies_copy_then_validate_and_build(policies_copy, tmp_path):
    out = policies_copy / "scraped"
    result = scrape("--offline", "--out", str(out), "--policies", str(policies_copy), "--cache", str(tmp_path / "cache"))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()  # progress bars and warnings go to stderr
    start = next(i for i, line in enumerate(lines) if line.startswith("source "))
    table = lines[start:]
    assert table[0].split() == ["source", "fetched", "changed", "rules", "documents", "status"]
    palmetto = next(line for line in table if line.startswith("palmetto-gba"))
    assert re.search(r"palmetto-gba\s+3\s+0\s+\d+\s+0\s+ok \(fixture\)", palmetto)

    validated = CliRunner().invoke(cli, ["validate", "--policies", str(policies_copy)])
    assert validated.exit_code == 0, validated.output

    from db.build import build
    db = sqlite_utils.Database(build(policies_copy, tmp_path / "kb.db").path)
    scraped = list(db.query("select * from rules where origin = 'scraped'"))
    assert scraped and all(r["status"] == "needs_review" for r in scraped)
    jj = [r for r in scraped if r["payer_id"] == "medicare-palmetto-jj" and r["topic"] == "narrative"]
    assert jj and jj[0]["shadowed_by"] == "medicare-palmetto-jj--narrative-professional"
    assert db["fetches"].count == sum(int(line.split()[1]) for line in table[2:] if len(line.split()) > 1 and line.split()[1].isdigit())
    assert db["documents"].count >= 10 and db["coverage_articles"].count >= 1
    flagged = {r["title"] for r in db.query("select title from documents where flag_ndc = 1")}
    assert "National Drug Code (NDC) Requirement Policy, Facility and Professional" in flagged

    # scraped_disagreements: each row names the values that differ, and they do differ
    rows = list(db.query("select * from scraped_disagreements"))
    shadowed = db.execute("select count(*) from rules where origin = 'scraped' and shadowed_by is not null").fetchone()[0]
    assert len(rows) <= shadowed
    for row in rows:
        for col in row["differs_on"].split():
            assert row[f"scraped_{col}"] != row[f"manual_{col}"], (row["scraped_rule_id"], col)


def test_a_damaged_fetch_log_is_reported_with_its_line(tmp_path):
    (tmp_path / "fetch-log.jsonl").write_text('{"url": "https://a.example/x"}\nnot json\n')
    result = CliRunner().invoke(cli, ["scrape", "--offline", "--out", str(tmp_path), "cgs-j15"])
    assert result.exit_code == 1 and "fetch-log.jsonl:2" in result.output


def test_offline_default_output_is_a_fresh_temp_folder(tmp_path):
    result = CliRunner().invoke(cli, ["scrape", "--offline", "humana-medical-policies", "--cache", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    out = Path(re.search(r"written into (\S+)", result.output).group(1))
    assert out.name.startswith("payerkb-scrape-") and (out / "records" / "humana-medical-policies.yml").exists()


def test_a_broken_page_keeps_the_last_good_data_and_exits_non_zero(tmp_path):
    out, cache = tmp_path / "scraped", tmp_path / "cache"
    first = scrape("--offline", "--out", str(out), "--cache", str(cache), "palmetto-gba", "cgs-j15")
    assert first.exit_code == 0, first.output
    good = (out / "palmetto-gba.yml").read_text()
    cgs_before = (out / "cgs-j15.yml").read_text()

    # offline answers from the cache before the fixtures: put a redesigned page there
    page = registry.get("palmetto-gba").pages[0]
    ResponseCache(cache).put(page.url, 200, {"content-type": "text/html"},
                             (TEST_PAGES / "palmetto_redesigned.html").read_bytes(), "2026-01-01T00:00:00Z")
    second = scrape("--offline", "--out", str(out), "--cache", str(cache), "palmetto-gba", "cgs-j15")
    assert second.exit_code == 1
    assert "palmetto-gba FAILED" in second.output and "last good records were kept" in second.output
    assert re.search(r"cgs-j15\s+1\s+0\s+\d+\s+0\s+ok", second.output)
    assert (out / "palmetto-gba.yml").read_text() == good
    assert yaml.safe_load((out / "cgs-j15.yml").read_text())["rules"] == yaml.safe_load(cgs_before)["rules"]
