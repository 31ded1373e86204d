"""policies/reference/cms/, defined once: one normalised CSV per CMS file (kind and quarter) and
manifest.yml describing each. `payerkb ingest-cms` writes it (scrapers/cms/store.py), the build
reads it (db/cms_tables.py); both take the formats and the manifest's shape from here.

- FORMATS: every kind of CMS file: its database table, its CSV columns and their types, the period
  columns the build adds (quarter and effective window, or the release year);
- Entry / Manifest: manifest.yml; `load_manifest()` and `load_rows()` read it back, checking each
  CSV against its entry (columns, sha256, row count). Raise ManifestError.
"""
from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from formats.fields import Sha256
from formats.messages import describe

FOLDER = Path("reference") / "cms"  # inside policies/

ASP_PAGE = "https://www.cms.gov/medicare/payment/part-b-drugs/asp-pricing-files"
OPPS_PAGE = (
    "https://www.cms.gov/medicare/payment/prospective-payment-systems/hospital-outpatient-pps/"
    "addendum-addendum-b-updates"
)
HCPCS_PAGE = "https://www.cms.gov/medicare/coding-billing/healthcare-common-procedure-system"

QUARTER_PERIOD = ("quarter", "effective_from", "effective_to")
RELEASE_PERIOD = ("release",)


@dataclass(frozen=True)
class CsvFormat:
    name: str  # the kind: what --kind takes and manifest entries name
    table: str  # the database table its rows go to
    label: str  # what people call the CMS file
    source_url: str  # the CMS page that publishes it
    period: tuple[str, ...]  # period columns the build adds to every row
    fields: dict[str, type]  # the normalised CSV's columns, in order, with their types

    @property
    def annual(self) -> bool:
        return self.period == RELEASE_PERIOD


# In the order files are detected in (the more specific header signatures first) and listed in
# the manifest.
FORMATS: dict[str, CsvFormat] = {f.name: f for f in (
    CsvFormat(
        name="crosswalk", table="ndc_hcpcs_crosswalk", label="ASP NDC-HCPCS crosswalk", source_url=ASP_PAGE,
        period=QUARTER_PERIOD,
        fields={
        "hcpcs": str, "short_descriptor": str, "labeler": str, "ndc": str, "ndc_542": str,
        "alternate_id": str, "drug_name": str, "hcpcs_dosage": str, "pkg_size": float,
        "pkg_qty": float, "bill_units": float, "bill_units_pkg": float,
    },
    ),
    CsvFormat(
        name="noc-crosswalk", table="noc_ndc_crosswalk", label="ASP NOC NDC-HCPCS crosswalk", source_url=ASP_PAGE,
        period=QUARTER_PERIOD,
        fields={
        "drug_generic_name": str, "labeler": str, "ndc": str, "ndc_542": str, "alternate_id": str,
        "drug_name": str, "dosage": str, "pkg_size": float, "pkg_qty": float, "bill_units": float,
        "bill_units_pkg": float,
    },
    ),
    CsvFormat(
        name="noc-pricing", table="noc_pricing", label="ASP NOC pricing file", source_url=ASP_PAGE,
        period=QUARTER_PERIOD,
        fields={"drug_name": str, "dosage": str, "payment_limit": float, "notes": str},
    ),
    CsvFormat(
        name="asp", table="asp_payment_limits", label="ASP payment limit file", source_url=ASP_PAGE,
        period=QUARTER_PERIOD,
        fields={
        "hcpcs": str, "short_descriptor": str, "hcpcs_dosage": str, "payment_limit": float,
        "coinsurance_pct": float, "vaccine_awp_pct": float, "vaccine_limit": float,
        "blood_awp_pct": float, "blood_limit": float, "clotting_factor": str, "notes": str,
    },
    ),
    CsvFormat(
        name="opps", table="opps_status_indicators", label="OPPS Addendum B", source_url=OPPS_PAGE,
        period=QUARTER_PERIOD,
        fields={
        "hcpcs": str, "short_descriptor": str, "status_indicator": str, "apc": str,
        "relative_weight": float, "payment_rate": float, "national_unadjusted_copayment": float,
        "minimum_unadjusted_copayment": float, "pass_through_expires": int, "changed": int,
    },
    ),
    CsvFormat(
        name="hcpcs", table="hcpcs_codes", label="HCPCS alpha-numeric file", source_url=HCPCS_PAGE,
        period=RELEASE_PERIOD,
        fields={
        "hcpcs": str, "long_descriptor": str, "short_descriptor": str, "pricing_indicator": str,
        "multiple_pricing_indicator": str, "coverage_code": str, "statute": str, "asc_group": str,
        "processing_note": str, "betos": str, "add_date": str, "action_effective_date": str,
        "term_date": str, "action_code": str,
    },
    ),
    CsvFormat(
        name="noc-codes", table="hcpcs_noc_codes", label="HCPCS NOC code list", source_url=HCPCS_PAGE,
        period=RELEASE_PERIOD,
        fields={"hcpcs": str, "long_descriptor": str, "add_date": str, "term_date": str},
    ),
)}

MANIFEST = "manifest.yml"
HEADER_COMMENT = (
    "# CMS reference files shipped with payerkb, one entry per normalised CSV in this folder.\n"
    "# Written by `payerkb ingest-cms FILE...`; loaded by `payerkb build` (db/cms_tables.py).\n"
    "# original_file / original_sha256 name the CMS file the CSV was made from; source_url is the\n"
    "# CMS page that publishes it. Only HCPCS Level II rows are kept (dropped counts the others).\n"
)


class ManifestError(ValueError):
    def __init__(self, path: Path | str, problem: str):
        self.path, self.problem = str(path), problem
        super().__init__(f"{path}: {problem}")


# The manifest is written by payerkb itself: its dates are checked for their form only.
WrittenDate = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    kind: Literal[tuple(FORMATS)]
    quarter: Annotated[str, Field(pattern=r"^\d{4}(Q[1-4])?$")]
    effective_from: WrittenDate | None = None
    effective_to: WrittenDate | None = None
    period_from: Literal["preamble", "title", "file name", "--quarter"]
    source_url: Annotated[str, Field(pattern=r"^https?://\S+$")]
    original_file: str
    original_sha256: Sha256
    rows: Annotated[int, Field(ge=0)]
    dropped: dict[str, int] = Field(default_factory=dict)
    file: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+\.csv$")]
    sha256: Sha256
    ingested: WrittenDate
    note: str | None = None


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: list[Entry] = Field(default_factory=list)


def load_manifest(folder: Path | str) -> list[Entry]:
    """The manifest's entries; [] when the folder has no manifest. Raises ManifestError."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        return []
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ManifestError(path, f"not valid YAML ({exc})") from None
    try:
        entries = Manifest.model_validate(raw).files
    except ValidationError as exc:
        raise ManifestError(path, describe(exc.errors()[0])) from None
    seen: set[str] = set()
    for e in entries:
        if e.id in seen:
            raise ManifestError(path, f"duplicate entry id {e.id!r}")
        seen.add(e.id)
    return entries


def load_rows(folder: Path | str, entry: Entry) -> list[dict]:
    """The typed rows of one entry's CSV, after checking it is the file the manifest describes."""
    path = Path(folder) / entry.file
    if not path.exists():
        raise ManifestError(path, f"missing: the manifest entry {entry.id!r} names it")
    body = path.read_bytes()
    if hashlib.sha256(body).hexdigest() != entry.sha256:
        raise ManifestError(path, f"changed since it was ingested (sha256 differs from manifest entry "
                                  f"{entry.id!r}); re-run payerkb ingest-cms on the CMS file")
    fields = FORMATS[entry.kind].fields
    reader = csv.reader(io.StringIO(body.decode("utf-8")))
    header = next(reader, [])
    if header != list(fields):
        raise ManifestError(path, f"columns are {header}, expected {list(fields)}")
    rows = []
    for n, values in enumerate(reader, start=2):
        if len(values) != len(fields):
            raise ManifestError(path, f"line {n}: {len(values)} values for {len(fields)} columns")
        row = {}
        for (name, typ), value in zip(fields.items(), values):
            try:
                row[name] = None if value == "" else typ(value)
            except ValueError:
                raise ManifestError(path, f"line {n}, column {name!r}: {value!r} is not a {typ.__name__}") from None
        rows.append(row)
    if len(rows) != entry.rows:
        raise ManifestError(path, f"has {len(rows)} rows, the manifest says {entry.rows}")
    return rows
