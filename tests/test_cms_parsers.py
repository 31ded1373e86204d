"""The CMS file parsers on small real-format fixtures (rows copied from the real files, with their
preambles, CP1252 bytes and CRLF line ends; CPT and CDT descriptors replaced)."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from scrapers.cms import CMSFileError, read_file
from scrapers.cms.common import ndc_parts, number, quarter_in_name
from scrapers.cms.kinds import read_tables
from scrapers.cms.sniff import open_tables

FIX = Path(__file__).parent / "fixtures" / "cms"


def only(path, **kw):
    result = read_file(path, **kw)
    assert len(result.parsed) == 1, result
    return result.parsed[0]


def by_code(parsed):
    return {r["hcpcs"]: r for r in parsed.rows}


def test_fixtures_are_cp1252_with_crlf():
    raw = (FIX / "asp_payment_limit_2026Q1.csv").read_bytes()
    assert b"\r\n" in raw and b"\xa0" in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")


def test_asp_payment_limits_window_counts_and_values():
    p = only(FIX / "asp_payment_limit_2026Q1.csv")
    assert (p.kind, p.quarter, p.effective_from, p.effective_to, p.period_from) == (
        "asp", "2026Q1", "2026-01-01", "2026-03-31", "preamble")
    rows = by_code(p)
    assert p.row_count == 8 and p.dropped == {"cpt": 1}
    assert "90371" not in rows and all(code[0].isalpha() for code in rows)
    assert rows["J9035"]["payment_limit"] == 73.632
    assert rows["J9035"]["coinsurance_pct"] == 20.0
    # N/A is no number; the quoted two-line note survives as one line
    assert rows["A9606"]["payment_limit"] is None
    assert rows["A9606"]["notes"] == "microCurie 100% AWP = $202.82; microCurie 100% WAC = $169.02"
    # 0xA0 (CP1252 no-break space) becomes a plain space
    assert rows["J9325"]["hcpcs_dosage"] == "1 million PFU"
    assert rows["P9041"]["blood_awp_pct"] == 95 and rows["P9041"]["blood_limit"] == 10.615
    assert rows["J7174"]["clotting_factor"] == "1"


def test_asp_older_layout_without_trailing_column():
    p = only(FIX / "asp_payment_limit_2025Q4.csv")
    assert (p.quarter, p.effective_from, p.effective_to) == ("2025Q4", "2025-10-01", "2025-12-31")
    assert by_code(p)["J1745"]["payment_limit"] == 31.09


def test_header_is_found_by_content_when_the_preamble_grows(tmp_path):
    lines = (FIX / "asp_payment_limit_2026Q1.csv").read_bytes().split(b"\r\n")
    longer = lines[:6] + [b"Note 3: one more note line,,,,,,,,,,,", b",,,,,,,,,,,"] * 3 + lines[6:]
    moved = tmp_path / "asp_payment_limit_2026Q1.csv"
    moved.write_bytes(b"\r\n".join(longer))
    shorter = tmp_path / "asp_short.csv"
    shorter.write_bytes(b"\r\n".join(lines[2:3] + lines[8:]))
    assert only(moved).rows == only(FIX / "asp_payment_limit_2026Q1.csv").rows
    assert only(shorter).rows == only(FIX / "asp_payment_limit_2026Q1.csv").rows


def test_crosswalk_ndcs_units_and_trailing_columns():
    p = only(FIX / "asp_ndc_hcpcs_crosswalk_2026Q1.csv")
    assert (p.kind, p.quarter, p.effective_from, p.effective_to) == (
        "crosswalk", "2026Q1", "2026-01-01", "2026-03-31")
    assert p.row_count == 7 and p.dropped == {"cpt": 1}
    assert set(p.rows[0]) == {"hcpcs", "short_descriptor", "labeler", "ndc", "ndc_542", "alternate_id",
                              "drug_name", "hcpcs_dosage", "pkg_size", "pkg_qty", "bill_units",
                              "bill_units_pkg"}
    orencia = next(r for r in p.rows if r["ndc_542"] == "00003-2188-11")
    assert orencia["ndc"] == "00003218811" and orencia["hcpcs"] == "J0129"
    assert (orencia["pkg_size"], orencia["pkg_qty"], orencia["bill_units"], orencia["bill_units_pkg"]) == (1, 4, 12.5, 50)
    assert orencia["labeler"] == "E.R. Squibb & Sons, L.L.C."
    alt = next(r for r in p.rows if r["hcpcs"] == "J7331")
    assert alt["ndc"] is None and alt["alternate_id"] == "888867413689"


def test_other_crosswalks_are_refused(tmp_path):
    awp = tmp_path / "Section 508 version of Jan 2026 AWP NDC-HCPCS Crosswalk.csv"
    awp.write_bytes((FIX / "asp_ndc_hcpcs_crosswalk_2026Q1.csv").read_bytes())
    with pytest.raises(CMSFileError, match="AWP NDC-HCPCS crosswalk"):
        read_file(awp)


def test_opps_status_indicators_money_and_dropped_codes():
    p = only(FIX / "opps_addendum_b_2025Q4.csv")
    # no effective dates inside: the quarter comes from the file name
    assert (p.kind, p.quarter, p.effective_from, p.effective_to, p.period_from) == (
        "opps", "2025Q4", "2025-10-01", "2025-12-31", "file name")
    rows = by_code(p)
    assert p.dropped == {"cpt": 1, "dental": 1} and "D0460" not in rows and "0001F" not in rows
    assert rows["J3590"]["status_indicator"] == "N" and rows["C9399"]["status_indicator"] == "A"
    assert rows["J3590"]["payment_rate"] is None  # a lone space
    assert rows["A9515"]["payment_rate"] == 2062.94  # "$2,062.940"
    assert rows["J0121"]["national_unadjusted_copayment"] is None  # "."
    assert rows["J0121"]["minimum_unadjusted_copayment"] == 0.81 and rows["J0121"]["changed"] == 1
    assert rows["A9596"]["pass_through_expires"] == 1
    assert "A4341" in rows  # the stray 0xFF byte after the code is gone


def test_noc_pricing_and_noc_crosswalk():
    pricing = only(FIX / "asp_noc_pricing_2025Q4.csv")
    assert pricing.kind == "noc-pricing" and pricing.quarter == "2025Q4"
    assert pricing.rows == [{"drug_name": "Vasopressin (Long Grove)", "dosage": "1 UNIT",
                             "payment_limit": 2.462, "notes": None}]
    xwalk = only(FIX / "asp_noc_ndc_hcpcs_crosswalk_2025Q4.csv")
    assert xwalk.kind == "noc-crosswalk"
    assert (xwalk.effective_from, xwalk.effective_to) == ("2025-10-01", "2025-12-31")
    assert [r["ndc"] for r in xwalk.rows] == ["81298855203", "81298855403"]
    assert {r["drug_generic_name"] for r in xwalk.rows} == {"Vasopressin (Long Grove)"}


def test_hcpcs_fixed_width_joins_continuation_lines_and_skips_modifiers():
    p = only(FIX / "HCPC2019_ANWEB_sample.txt")
    assert (p.kind, p.quarter, p.effective_from) == ("hcpcs", "2019", "2019-01-01")
    rows = by_code(p)
    assert set(rows) == {"C9399", "J0129", "J3490", "J3590", "J9999"}  # not the JW modifier
    assert rows["J0129"]["long_descriptor"].endswith("not for use when drug is self administered)")
    assert rows["J3490"]["pricing_indicator"] == "51" and rows["J3490"]["betos"] == "O1E"
    assert rows["C9399"]["statute"] == "621MMA" and rows["C9399"]["add_date"] == "2004-01-01"
    assert rows["J3590"]["coverage_code"] == "C"


def test_noc_code_list_prn():
    p = only(FIX / "NOC_Codes_2019_sample.prn")
    assert (p.kind, p.quarter) == ("noc-codes", "2019")
    rows = by_code(p)
    assert list(rows) == ["A9599", "C9399", "J3490", "J3590", "J9999"]
    assert rows["A9599"]["term_date"] == "2017-12-31" and rows["J3590"]["add_date"] == "2003-01-01"
    assert rows["J3590"]["term_date"] is None


def _workbook(rows, title="Sheet1") -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_hcpcs_workbook(tmp_path):
    header = ["HCPC", "SEQNUM", "RECID", "LONG DESCRIPTION", "SHORT DESCRIPTION", "PRICE1", "COV",
              "BETOS", "ADD DT", "ACT EFF DT", "TERM DT", "ACTION CD"]
    rows = [["***Disclaimers"], [], ["*test fixture\xa0"], [], [], [], [], header,
            ["   JW", "0010", "7", "Drug amount discarded", "Drug amount discarded"],
            ["J3590", "0010", "3", "Unclassified biologics", "Unclassified biologics", "51", "C",
             "O1E", 20030101, 20030101, None, "N"],
            ["J9999", "0010", "3", "Not otherwise classified, antineoplastic drugs",
             "Chemotherapy drug", "51", "D", "O1D", 19860101, 20040101, None, "N"]]
    path = tmp_path / "HCPC2026_APR_ANWEB_v2.xlsx"
    path.write_bytes(_workbook(rows, "A"))
    p = only(path)
    assert (p.kind, p.quarter, p.effective_from, p.effective_to) == ("hcpcs", "2026Q2", "2026-04-01", "2026-06-30")
    assert by_code(p)["J3590"]["add_date"] == "2003-01-01" and set(by_code(p)) == {"J3590", "J9999"}


def test_xls_payment_limit_file_reads_like_its_csv():
    assert only(FIX / "asp_payment_limit_2025Q4.xls").rows == only(FIX / "asp_payment_limit_2025Q4.csv").rows


def test_zip_members_are_detected_and_the_csv_preferred(tmp_path):
    bundle = tmp_path / "october-2025-asp-pricing-file.zip"
    with zipfile.ZipFile(bundle, "w") as z:
        z.write(FIX / "asp_payment_limit_2025Q4.xls", "Oct 2025 ASP Pricing File.xls")
        z.write(FIX / "asp_payment_limit_2025Q4.csv", "section 508 version of Oct 2025 ASP Pricing File.csv")
        z.write(FIX / "asp_noc_pricing_2025Q4.csv", "noc/section 508 version of Oct 2025 NOC Pricing File.csv")
        z.writestr("README.txt", "Read me: nothing to parse here.\r\n")
        z.writestr("__MACOSX/._junk", b"\x00\x05")
    result = read_file(bundle)
    kinds = {(p.kind, p.quarter, p.fmt) for p in result.parsed}
    assert kinds == {("asp", "2025Q4", "csv"), ("noc-pricing", "2025Q4", "csv")}
    skipped = dict(result.skipped)
    assert any(name.endswith("README.txt") for name in skipped)
    assert any("same asp 2025Q4" in why for why in skipped.values())


def test_xlsx_inside_a_zip(tmp_path):
    rows = [["NOC CODES - HCPCS 2026"], [], [], ["HCPCS", "LONG DESCRIPTION", "ADD DATE", "TERM DATE"], [],
            ["J3590", "Unclassified biologics", 20030101, None], ["_x001A_"]]
    bundle = tmp_path / "2026-hcpcs-noc-codes.zip"
    with zipfile.ZipFile(bundle, "w") as z:
        z.writestr("noc codes_APR 2026.xlsx", _workbook(rows))
    p = only(bundle)
    # the title names only the year, the member's name the month: the quarter is April's
    assert (p.kind, p.quarter, p.period_from) == ("noc-codes", "2026Q2", "file name")
    assert [r["hcpcs"] for r in p.rows] == ["J3590"]  # the end-of-file mark is no row


def test_quarter_needed_when_nothing_shows_it(tmp_path):
    nameless = tmp_path / "addendum.csv"
    nameless.write_bytes((FIX / "opps_addendum_b_2025Q4.csv").read_bytes())
    with pytest.raises(CMSFileError, match="give --quarter"):
        read_file(nameless)
    p = only(nameless, quarter="2026Q2")
    assert (p.quarter, p.effective_from, p.effective_to, p.period_from) == (
        "2026Q2", "2026-04-01", "2026-06-30", "--quarter")


def test_quarter_that_disagrees_with_the_file_is_refused():
    with pytest.raises(CMSFileError, match="preamble says 2026Q1 but --quarter says 2026Q2"):
        read_file(FIX / "asp_payment_limit_2026Q1.csv", quarter="2026Q2")


def test_forced_kind_that_does_not_fit_names_the_problem():
    with pytest.raises(CMSFileError, match="header row not found") as err:
        read_file(FIX / "asp_noc_pricing_2025Q4.csv", kind="crosswalk")
    assert "asp_noc_pricing_2025Q4.csv" in str(err.value)


@pytest.mark.parametrize("body, problem", [
    (b"", "the file is empty"),
    (b"Just,some,text\r\nwith,no,header\r\n", "not a CMS file payerkb knows"),
    (b"HCPCS Code,Short Description,HCPCS Code Dosage,Payment Limit\r\n,,,\r\n", "no data rows"),
    (b"HCPCS Code,Short Description,HCPCS Code Dosage,Payment Limit\r\nJ9035,Bev,10 MG,lots\r\n",
     "row 2, column 'payment_limit': 'lots' is not a number"),
    (b"PK\x03\x04broken", "not a readable ZIP"),
])
def test_bad_files_are_rejected_with_a_clear_message(body, problem):
    with pytest.raises(CMSFileError, match=problem) as err:
        read_tables(open_tables(body, "bad_2026Q1.csv"), "bad_2026Q1.csv")
    assert err.value.source.startswith("bad_2026Q1.csv")


@pytest.mark.parametrize("raw, expected", [
    ("00003-2188-11", ("00003218811", "00003-2188-11", None)),
    ("0003-2188-11", ("00003218811", "00003-2188-11", None)),  # 4-4-2
    ("50419-325-11", ("50419032511", "50419-0325-11", None)),  # 5-3-2
    ("50419-0325-1", ("50419032501", "50419-0325-01", None)),  # 5-4-1
    ("50419032511", ("50419032511", "50419-0325-11", None)),
    ("888867413689", (None, None, "888867413689")),
    ("", (None, None, None)),
])
def test_ndc_forms(raw, expected):
    assert ndc_parts(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("$1,662.630", 1662.63), ("20.000", 20.0), (" ", None), (".", None), ("N/A", None),
    ("15.139%", 15.139), ("\xa0$2.462", 2.462),
])
def test_numbers(raw, expected):
    assert number(raw) == expected


@pytest.mark.parametrize("name, expected", [
    ("section 508 version of January 2026 Medicare Part B Payment Limit File 121725.csv", "2026Q1"),
    ("508 version of October 2025 Web Addendum B.10.31.25.csv", "2025Q4"),
    ("section 508 verision of JUL 2025 ASP Pricing File 062325.csv", "2025Q3"),
    ("HCPC2024_APR_ANWEB_v5.xlsx", "2024Q2"),
    ("noc_codes_jul_2024.xlsx", "2024Q3"),
    ("asp_payment_limit_2025Q4.csv", "2025Q4"),
    ("april-2026-medicare-part-b-payment-limit-files-03-19-2026-final-file.zip", "2026Q2"),
    ("asp_pricing.csv", None),
])
def test_quarter_from_file_names(name, expected):
    assert quarter_in_name(name) == expected
