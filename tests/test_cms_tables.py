"""The CMS reference tables in the built database: shipped data, quarters side by side, bad data."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import sqlite_utils

from db.build import BuildError, build as full_build
from db.cms_tables import load_cms_tables
from scrapers.cms import read_file
from scrapers.cms.store import load_manifest, save

ROOT = Path(__file__).resolve().parent.parent
FIX = Path(__file__).parent / "fixtures" / "cms"
SHIPPED = ROOT / "policies" / "reference" / "cms"
CODE_TABLES = ["ndc_hcpcs_crosswalk", "asp_payment_limits", "opps_status_indicators", "hcpcs_noc_codes", "hcpcs_codes"]


@pytest.fixture(scope="module")
def shipped(built_db) -> sqlite_utils.Database:
    return sqlite_utils.Database(built_db)


def test_shipped_reference_data_is_loaded_as_the_manifest_says(shipped):
    manifest = {e.id: e for e in load_manifest(SHIPPED)}
    files = {r["id"]: r for r in shipped["cms_files"].rows}
    assert set(files) == set(manifest)
    for eid, entry in manifest.items():
        table = files[eid]["table_name"]
        column = "release" if table.startswith("hcpcs") else "quarter"
        n = shipped.execute(f"select count(*) from [{table}] where {column} = ?", [entry.quarter]).fetchone()[0]
        assert n == entry.rows == files[eid]["row_count"], eid
    kinds = {(e.kind, e.quarter) for e in manifest.values()}
    assert {("crosswalk", "2026Q1"), ("opps", "2025Q4"), ("asp", "2025Q4"), ("asp", "2026Q1"),
            ("noc-pricing", "2025Q4"), ("noc-crosswalk", "2025Q4"), ("noc-codes", "2019")} <= kinds


def test_shipped_data_answers_billing_questions(shipped):
    si = dict(shipped.execute("select hcpcs, status_indicator from opps_status_indicators where quarter = '2025Q4'"
                              " and hcpcs in ('J3590', 'J3490', 'C9399', 'J9999')").fetchall())
    assert si == {"J3590": "N", "J3490": "N", "C9399": "A", "J9999": "N"}
    noc = {r[0] for r in shipped.execute("select hcpcs from hcpcs_noc_codes")}
    assert {"J3490", "J3590", "J9999", "C9399", "J7999", "J8499"} <= noc
    orencia = shipped.execute(
        "select hcpcs, bill_units, bill_units_pkg from current_ndc_hcpcs_crosswalk where ndc = '00003218811'").fetchall()
    assert orencia == [("J0129", 12.5, 50.0)]
    # CMS never prices the NOC codes in the ASP file; drugs billed under them have no crosswalk row
    assert not shipped.execute("select 1 from asp_payment_limits where hcpcs in ('J3590', 'J3490')").fetchall()


def test_no_cpt_or_dental_code_anywhere(shipped):
    for table in CODE_TABLES:
        codes = {r[0] for r in shipped.execute(f"select distinct hcpcs from [{table}]")}
        bad = {c for c in codes if not re.fullmatch(r"[A-CE-V][0-9]{4}", c)}
        assert not bad, (table, sorted(bad)[:5])


def test_shipped_files_stay_small():
    total = sum(p.stat().st_size for p in SHIPPED.iterdir())
    assert total < 3_000_000, f"policies/reference/cms is {total} bytes"


def test_indexes_and_view(shipped):
    indexed = {tuple(i.columns) for i in shipped["ndc_hcpcs_crosswalk"].indexes}
    assert {("hcpcs",), ("ndc",)} <= indexed
    assert ("hcpcs",) in {tuple(i.columns) for i in shipped["asp_payment_limits"].indexes}
    assert "current_ndc_hcpcs_crosswalk" in shipped.view_names()


def build(policies: Path, out: Path):
    """The core build plus only the CMS step (the other steps have their own tests)."""
    return full_build(policies, out, extra_steps=[load_cms_tables])


@pytest.fixture()
def two_quarters(policies_copy) -> Path:
    folder = policies_copy / "reference" / "cms"
    shutil.rmtree(folder)
    parsed = [p for f in ("asp_payment_limit_2025Q4.csv", "asp_payment_limit_2026Q1.csv",
                          "asp_ndc_hcpcs_crosswalk_2026Q1.csv") for p in read_file(FIX / f).parsed]
    save(folder, parsed, today="2026-11-27")
    return policies_copy


def test_each_quarter_keeps_its_own_dated_rows(two_quarters, tmp_path):
    db = sqlite_utils.Database(build(two_quarters, tmp_path / "kb.db").path)
    rows = db.execute("select quarter, effective_from, effective_to, payment_limit from asp_payment_limits "
                      "where hcpcs = 'J0129' order by quarter").fetchall()
    assert rows == [("2025Q4", "2025-10-01", "2025-12-31", 44.109), ("2026Q1", "2026-01-01", "2026-03-31", 44.769)]
    assert db["cms_files"].count == 3
    assert db["opps_status_indicators"].count == 0  # the table is there, empty, for queries to work


def test_current_crosswalk_is_the_newest_quarter(two_quarters, tmp_path):
    folder = two_quarters / "reference" / "cms"
    newer = read_file(FIX / "asp_ndc_hcpcs_crosswalk_2026Q1.csv").parsed[0]
    newer.quarter, newer.effective_from, newer.effective_to = "2026Q2", "2026-04-01", "2026-06-30"
    newer.rows = newer.rows[:2]
    save(folder, [newer])
    db = sqlite_utils.Database(build(two_quarters, tmp_path / "kb.db").path)
    assert db.execute("select quarter, count(*) from ndc_hcpcs_crosswalk group by quarter").fetchall() == [
        ("2026Q1", 7), ("2026Q2", 2)]
    assert db.execute("select distinct quarter from current_ndc_hcpcs_crosswalk").fetchall() == [("2026Q2",)]
    assert db["current_ndc_hcpcs_crosswalk"].count == 2


@pytest.mark.parametrize("damage, message", [
    (lambda f: f.write_text(f.read_text().replace("44.769", "44.000")), "changed since it was ingested"),
    (lambda f: f.unlink(), "missing"),
])
@pytest.mark.slow
def test_damaged_reference_data_stops_the_build_and_keeps_the_old_database(two_quarters, tmp_path, damage, message):
    out = tmp_path / "kb.db"
    build(two_quarters, out)
    good = out.read_bytes()
    damage(two_quarters / "reference" / "cms" / "asp-2026Q1.csv")
    with pytest.raises(BuildError, match=message) as err:
        build(two_quarters, out)
    assert "asp-2026Q1.csv" in str(err.value)
    assert out.read_bytes() == good


@pytest.mark.asyncio
async def test_hcpcs_for_ndc_canned_query(ds):
    for ndc in ("00003-2188-11", "00003218811"):
        r = await ds.client.get(f"/payerkb/hcpcs_for_ndc.json?_shape=array&ndc={ndc}")
        assert r.status_code == 200
        rows = r.json()
        assert rows and rows[0]["hcpcs"] == "J0129" and rows[0]["bill_units"] == 12.5
        assert rows[0]["quarter"] == "2026Q1" and rows[0]["payment_limit"] == 44.769
    r = await ds.client.get("/payerkb/hcpcs_for_ndc.json?_shape=array&ndc=99999-9999-99")
    assert r.json() == []
