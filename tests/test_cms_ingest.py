"""`payerkb ingest-cms`: files in, normalised CSV + manifest out, atomically, with clear errors."""
from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from payerkb.cli import cli
from scrapers.cms.store import load_manifest, load_rows

FIX = Path(__file__).parent / "fixtures" / "cms"


@pytest.fixture()
def policies(tmp_path) -> Path:
    root = tmp_path / "policies"
    root.mkdir()
    return root


def ingest(policies: Path, *args: str):
    return CliRunner().invoke(cli, ["ingest-cms", "--policies", str(policies), *args])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


def test_ingest_writes_csv_and_manifest_and_prints_a_summary(policies):
    src = FIX / "asp_ndc_hcpcs_crosswalk_2026Q1.csv"
    result = ingest(policies, str(src))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["file", "kind", "quarter", "effective", "rows", "dropped"]
    assert "crosswalk" in lines[1] and "2026Q1" in lines[1] and " 7 " in lines[1] and "1 cpt" in lines[1]

    folder = policies / "reference" / "cms"
    (entry,) = load_manifest(folder)
    assert (entry.id, entry.kind, entry.quarter) == ("crosswalk-2026Q1", "crosswalk", "2026Q1")
    assert (entry.effective_from, entry.effective_to) == ("2026-01-01", "2026-03-31")
    assert entry.source_url == "https://www.cms.gov/medicare/payment/part-b-drugs/asp-pricing-files"
    assert entry.original_file == src.name
    assert entry.original_sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    assert entry.rows == 7 and entry.dropped == {"cpt": 1}
    text = (folder / entry.file).read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("hcpcs,short_descriptor,labeler,ndc,ndc_542")
    assert "90371" not in text and "CPT" not in text  # the CPT row never reaches the repository
    rows = load_rows(folder, entry)
    assert {r["ndc"] for r in rows if r["hcpcs"] == "J1745"} == {"57894003001", "57894016001"}


def test_a_second_quarter_is_added_beside_the_first_and_a_repeat_replaces(policies):
    assert ingest(policies, str(FIX / "asp_payment_limit_2025Q4.csv")).exit_code == 0
    assert ingest(policies, str(FIX / "asp_payment_limit_2026Q1.csv"), "--note", "first try").exit_code == 0
    folder = policies / "reference" / "cms"
    assert [e.id for e in load_manifest(folder)] == ["asp-2025Q4", "asp-2026Q1"]
    before = (folder / "asp-2025Q4.csv").read_bytes()
    again = ingest(policies, str(FIX / "asp_payment_limit_2026Q1.csv"), "--note", "second try")
    assert again.exit_code == 0
    entries = {e.id: e for e in load_manifest(folder)}
    assert list(entries) == ["asp-2025Q4", "asp-2026Q1"] and entries["asp-2026Q1"].note == "second try"
    assert (folder / "asp-2025Q4.csv").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["asp-2025Q4.csv", "asp-2026Q1.csv", "manifest.yml"]


def test_a_zip_of_several_kinds_is_ingested_in_one_go(policies, tmp_path):
    bundle = tmp_path / "october-2025-asp-ndc-hcpcs-crosswalk.zip"
    with zipfile.ZipFile(bundle, "w") as z:
        z.write(FIX / "asp_noc_pricing_2025Q4.csv", "section 508 version of October 2025 NOC Pricing File.csv")
        z.write(FIX / "asp_noc_ndc_hcpcs_crosswalk_2025Q4.csv", "section 508 version of October 2025 NOC NDC-HCPCS Crosswalk.csv")
        z.write(FIX / "asp_ndc_hcpcs_crosswalk_2026Q1.csv", "Section 508 version of Oct 2025 AWP NDC-HCPCS Crosswalk.csv")
    result = ingest(policies, str(bundle))
    assert result.exit_code == 0, result.output
    assert "AWP NDC-HCPCS crosswalk" in result.output  # said why it was skipped
    ids = [e.id for e in load_manifest(policies / "reference" / "cms")]
    assert sorted(ids) == ["noc-crosswalk-2025Q4", "noc-pricing-2025Q4"]


@pytest.mark.parametrize("body, kind, problem", [
    (b"HCPCS,Something\r\nJ3590,x\r\n", "asp", "header row not found"),
    (b"_2026_CODE,Short Description,LABELER NAME,NDC2,Drug Name,HCPCS dosage,PKG SIZE,PKG QTY,BILLUNITS,BILLUNITSPKG\r\n",
     "auto", "no data rows"),
])
def test_a_bad_file_changes_nothing_and_says_why(policies, tmp_path, body, kind, problem):
    assert ingest(policies, str(FIX / "asp_payment_limit_2025Q4.csv")).exit_code == 0
    folder = policies / "reference" / "cms"
    before = snapshot(folder)
    bad = tmp_path / "january-2026-file.csv"
    bad.write_bytes(body)
    result = ingest(policies, str(FIX / "asp_payment_limit_2026Q1.csv"), str(bad), "--kind", kind)
    assert result.exit_code == 2  # malformed input
    assert "january-2026-file.csv" in result.output and problem in result.output
    assert "nothing was written" in result.output
    assert snapshot(folder) == before  # the good file given with it was not written either


def test_quarter_option_is_checked_and_used(policies, tmp_path):
    nameless = tmp_path / "addendum.csv"
    shutil.copy(FIX / "opps_addendum_b_2025Q4.csv", nameless)
    missing = ingest(policies, str(nameless))
    assert missing.exit_code == 2 and "give --quarter" in missing.output
    typo = ingest(policies, str(nameless), "--quarter", "2026-Q2")
    assert typo.exit_code == 2 and "2026Q2" in typo.output
    ok = ingest(policies, str(nameless), "--quarter", "2026Q2")
    assert ok.exit_code == 0, ok.output
    (entry,) = load_manifest(policies / "reference" / "cms")
    assert (entry.id, entry.period_from, entry.effective_to) == ("opps-2026Q2", "--quarter", "2026-06-30")


def test_dry_run_writes_nothing(policies):
    result = ingest(policies, "--dry-run", str(FIX / "NOC_Codes_2019_sample.prn"))
    assert result.exit_code == 0 and "noc-codes" in result.output and "dry run" in result.output
    assert not (policies / "reference").exists()


def test_two_files_for_the_same_kind_and_quarter_are_refused(policies):
    result = ingest(policies, str(FIX / "asp_payment_limit_2025Q4.csv"), str(FIX / "asp_payment_limit_2025Q4.xls"))
    assert result.exit_code == 1 and "both the asp file for 2025Q4" in result.output


def test_a_broken_manifest_is_reported_not_overwritten(policies):
    folder = policies / "reference" / "cms"
    folder.mkdir(parents=True)
    (folder / "manifest.yml").write_text("files:\n- id: x\n  kind: nonsense\n")
    result = ingest(policies, str(FIX / "asp_payment_limit_2025Q4.csv"))
    assert result.exit_code == 1 and "manifest.yml" in result.output and "kind" in result.output
    assert yaml.safe_load((folder / "manifest.yml").read_text())["files"][0]["kind"] == "nonsense"
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.yml"]
