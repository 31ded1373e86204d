"""The shape of every file in policies/, as pydantic models.

One model per kind of file. Field names here are the column names of the public data contract
(see docs/data-contract.md), so a YAML key, a SQLite column and a JSON API key are the same word.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The vocabulary and the field types live at the bottom of the house (formats/), where scrapers/
# and payerkb/ read them too; imported here so `db.schema.TOPICS` and friends keep working.
from formats.fields import SLUG, HcpcsCode, HttpUrl, IsoDate, Slug, Text  # noqa: F401
from formats.vocabulary import (  # noqa: F401
    DRUG_REQUIREMENTS, DRUG_STATUSES, DRUG_TOPICS, EXCEPTIONS, NARRATIVE_ELEMENTS, NDC_FORMATS,
    NDC_UNIT_QUALIFIERS, ORIGINS, PAYER_TYPES, PRICING_BASES, REQUIREMENTS, SETTINGS, STATUSES,
    SUBMISSION_CHANNELS, TOPICS, UNIT_RULES, US_STATES,
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, str_strip_whitespace=True)


class Source(Strict):
    id: Slug
    url: HttpUrl
    title: Text
    publisher: Text
    document_id: str | None = None
    doc_date: IsoDate | None = Field(None, description="the date the source itself shows")
    undated: bool = Field(False, description="true when the source shows no date at all")
    retrieved: IsoDate
    kind: Literal["official", "secondary"]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _dated_or_marked_undated(self):
        if self.doc_date and self.undated:
            raise ValueError("a source is either dated (doc_date) or undated: true, not both")
        if not self.doc_date and not self.undated:
            raise ValueError(
                "give doc_date (the date the source shows) or say undated: true when it shows none"
            )
        today = dt.datetime.now(dt.timezone.utc).date().isoformat()
        if self.retrieved > today:
            raise ValueError(f"retrieved {self.retrieved} is in the future (today is {today} UTC)")
        return self


class SourceRef(Strict):
    ref: Slug
    locator: str | None = Field(None, description="section heading, table or paragraph")


class Rule(Strict):
    id: Slug
    topic: Literal[TOPICS]
    setting: Literal[SETTINGS] = "any"
    codes: list[HcpcsCode] | Literal["all"] = Field(min_length=1)
    requirement: Literal[REQUIREMENTS]
    summary: Annotated[str, Field(min_length=10, max_length=600)]
    threshold_usd: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    pricing_basis: Literal[PRICING_BASES] | None = None
    percent: Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)] | None = None
    claim_fields: list[Slug] | None = None
    max_chars: Annotated[int, Field(gt=0, le=10000)] | None = None
    unit_rule: Literal[UNIT_RULES] | None = None
    modifiers: list[Annotated[str, Field(pattern=r"^[A-Z0-9]{2}$")]] | None = None
    ndc_unit_qualifiers: list[Literal[NDC_UNIT_QUALIFIERS]] | None = None
    ndc_format: Literal[NDC_FORMATS] | None = None
    narrative_elements: list[Literal[NARRATIVE_ELEMENTS]] | None = None
    narrative_rejects: list[Annotated[str, Field(min_length=1, max_length=40)]] | None = None
    invoice_max_age_days: Annotated[int, Field(gt=0, le=3650)] | None = None
    submission_channel: Literal[SUBMISSION_CHANNELS] | None = None
    denial_codes: list[Annotated[str, Field(pattern=r"^[A-Z0-9-]{1,8}$")]] | None = None
    exceptions: list[Literal[EXCEPTIONS]] | None = Field(
        None, description="cases the rule's sources leave outside it")
    effective_from: IsoDate | None = None
    effective_to: IsoDate | None = None
    as_of: IsoDate | None = None
    status: Literal[STATUSES]
    origin: Literal[ORIGINS] = "manual"
    sources: list[SourceRef] = Field(default_factory=list)
    note: str | None = None

    @model_validator(mode="after")
    def _consistent(self):
        if not self.sources and self.status not in ("unconfirmed",):
            raise ValueError(
                f"rule {self.id!r} has no source, so its status must be 'unconfirmed' "
                f"(it is {self.status!r})"
            )
        if self.status == "needs_review" and self.origin != "scraped":
            raise ValueError("status 'needs_review' is only for scraped rules (origin: scraped)")
        if self.effective_from and self.effective_to and self.effective_to < self.effective_from:
            raise ValueError(
                f"effective_to {self.effective_to} is before effective_from {self.effective_from}"
            )
        if self.percent is not None and self.pricing_basis is None:
            raise ValueError("a percent needs a pricing_basis (the percent of what?)")
        return self


class Payer(Strict):
    id: Slug
    name: Text
    parent_org: str | None = None
    payer_type: Literal[PAYER_TYPES]
    states: list[Literal[tuple(US_STATES)]] = Field(default_factory=list)
    jurisdiction: str | None = None
    website: HttpUrl | None = None
    aliases: list[Text] = Field(default_factory=list)
    includes: list[Slug] = Field(
        default_factory=list, description="rule groups (policies/groups/) this payer applies"
    )
    sources: list[Source] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    note: str | None = None


class RuleGroup(Strict):
    """Rules written once and applied to several payers (a MAC's jurisdictions, CMS national)."""

    id: Slug
    name: Text
    description: str | None = None
    sources: list[Source] = Field(default_factory=list)
    rules: list[Rule] = Field(min_length=1)


class SourcesFile(Strict):
    sources: list[Source]


class Code(Strict):
    code: HcpcsCode
    short_descriptor: Text
    long_descriptor: Text
    category: Text
    drug_kind: Literal[
        "biologic",
        "drug",
        "antineoplastic",
        "oral_chemo",
        "oral_non_chemo",
        "oral_antiemetic",
        "rectal_antiemetic",
        "compounded",
        "immunosuppressive",
        "inhalation_dme",
        "non_inhalation_dme",
        "esrd",
        "clotting_factor",
        "immune_globulin",
        "radiopharmaceutical_diagnostic",
        "radiopharmaceutical_therapeutic",
        "contrast",
    ]
    setting: Literal[SETTINGS] = "any"
    is_noc: bool = True
    opps_status_indicator: str | None = None
    add_date: IsoDate | None = None
    term_date: IsoDate | None = None
    note: str | None = None
    sources: list[SourceRef] = Field(min_length=1)


class CodesFile(Strict):
    sources: list[Source] = Field(default_factory=list)
    codes: list[Code]


class Modifier(Strict):
    code: Annotated[str, Field(pattern=r"^[A-Z0-9]{2}$")]
    meaning: Text
    use: Text
    effective_from: IsoDate | None = None
    required_from: IsoDate | None = None
    effective_to: IsoDate | None = None
    sources: list[SourceRef] = Field(default_factory=list)
    status: Literal[STATUSES] = "sourced"

    @model_validator(mode="after")
    def _sourced(self):
        if not self.sources and self.status != "unconfirmed":
            raise ValueError(f"modifier {self.code} has no source, so its status must be 'unconfirmed'")
        return self


class ModifiersFile(Strict):
    sources: list[Source] = Field(default_factory=list)
    modifiers: list[Modifier]


class DenialCode(Strict):
    code: Annotated[str, Field(pattern=r"^[A-Z0-9-]{1,8}$")]
    kind: Literal["CARC", "RARC", "group", "payer"]
    meaning: Text
    prevention: Text
    topics: list[Literal[TOPICS]] = Field(default_factory=list)
    sources: list[SourceRef] = Field(default_factory=list)
    status: Literal[STATUSES] = "sourced"

    @model_validator(mode="after")
    def _sourced(self):
        if not self.sources and self.status != "unconfirmed":
            raise ValueError(f"denial code {self.code} has no source, so its status must be 'unconfirmed'")
        return self


class DenialCodesFile(Strict):
    sources: list[Source] = Field(default_factory=list)
    denial_codes: list[DenialCode]


class ClaimField(Strict):
    id: Slug
    label: Text
    form: Literal["CMS-1500", "837P", "837I", "UB-04", "NCPDP"]
    note: str | None = None


class ClaimFieldsFile(Strict):
    claim_fields: list[ClaimField]


class SynonymsFile(Strict):
    """Search synonyms: each group is a list of terms a user may type for the same thing."""

    synonyms: list[Annotated[list[Text], Field(min_length=2)]]


class ScrapedRule(Rule):
    """A rule a scraper extracted: it names its payer and waits for review."""

    payer_id: Slug
    origin: Literal["scraped"] = "scraped"
    status: Literal[STATUSES] = "needs_review"


class ScrapedFile(Strict):
    """policies/scraped/<source>.yml, written only by scrapers."""

    scraper: Slug
    retrieved: str
    sources: list[Source] = Field(default_factory=list)
    rules: list[ScrapedRule] = Field(default_factory=list)


# --- Drugs billed on NOC codes, and payers' rules about them (policies/drugs/, policies/drug-rules/) ---

Ndc11 = Annotated[str, Field(pattern=r"^\d{5}-\d{4}-\d{2}$", description="NDC in 5-4-2 form")]
CriteriaId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._/#-]{0,39}$")]


class DrugFile(Strict):
    """policies/drugs/<drug-id>.yml: one drug that has been billed on a NOC code."""

    id: Slug
    brand_name: Text
    generic_name: str | None = Field(None, max_length=200)
    aliases: list[Annotated[str, Field(min_length=2, max_length=100)]] = Field(default_factory=list)
    ndcs: list[Ndc11] = Field(default_factory=list, description="NDCs a source names for the drug")
    hcpcs_code: HcpcsCode | None = Field(None, description="the drug's own HCPCS code, where a source gives it")
    hcpcs_code_from: IsoDate | None = Field(None, description="date from which the own code is billed")
    sources: list[Source] = Field(default_factory=list)
    source_refs: list[SourceRef] = Field(default_factory=list, description="sources for the NDCs and the own code")
    note: str | None = None

    @model_validator(mode="after")
    def _code_needs_source(self):
        if (self.hcpcs_code or self.ndcs) and not (self.sources or self.source_refs):
            raise ValueError(f"drug {self.id!r} names NDCs or an own code, so it needs a source")
        if self.hcpcs_code_from and not self.hcpcs_code:
            raise ValueError("hcpcs_code_from needs hcpcs_code")
        return self


class DrugRule(Strict):
    """One payer's rule about one drug billed on NOC codes."""

    id: Slug
    drug: Slug
    topic: Literal[DRUG_TOPICS]
    codes: list[HcpcsCode] = Field(min_length=1, description="the NOC codes the source names")
    setting: Literal[SETTINGS] = "any"
    requirement: Literal[DRUG_REQUIREMENTS]
    summary: Annotated[str, Field(min_length=10, max_length=600)] | None = None
    effective_from: IsoDate
    effective_to: IsoDate | None = None
    criteria_id: CriteriaId | None = Field(None, description="the payer's clinical-criteria or policy id")
    program: str | None = Field(None, max_length=200)
    reviewer: str | None = Field(None, max_length=200, description="who reviews: the payer or a named company")
    billing_unit: str | None = Field(None, max_length=100)
    rate_usd: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    ndc_units: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    ndc_unit_qualifier: Literal[NDC_UNIT_QUALIFIERS] | None = None
    status: Literal[DRUG_STATUSES] = "sourced"
    origin: Literal[ORIGINS] = "manual"
    sources: list[SourceRef] = Field(min_length=1)
    note: str | None = None

    @model_validator(mode="after")
    def _consistent(self):
        if self.effective_to and self.effective_to < self.effective_from:
            raise ValueError(f"effective_to {self.effective_to} is before effective_from {self.effective_from}")
        if self.status == "needs_review" and self.origin != "scraped":
            raise ValueError("status 'needs_review' is only for scraped drug rules (origin: scraped)")
        return self


class DrugRulesFile(Strict):
    """policies/drug-rules/<payer-id>.yml: one payer's drug rules."""

    payer_id: Slug
    sources: list[Source] = Field(default_factory=list)
    drug_rules: list[DrugRule] = Field(min_length=1)
    note: str | None = Field(None, description="what was searched, where a list was not found")


class ScrapedDrug(Strict):
    """A drug a scraper met that policies/drugs/ may not know yet."""

    id: Slug
    brand_name: Text
    generic_name: str | None = Field(None, max_length=200)


class ScrapedDrugRule(DrugRule):
    """A drug rule a scraper extracted: it names its payer and waits for `payerkb review`."""

    payer_id: Slug
    origin: Literal["scraped"] = "scraped"
    status: Literal[DRUG_STATUSES] = "needs_review"
    excerpt: str | None = Field(None, max_length=500, description="the table row behind the candidate, for review")
    effective_from: IsoDate | None = None  # review refuses a candidate without one
    sources: list[SourceRef] = Field(default_factory=list)  # review refuses a candidate without one


class ScrapedDrugFile(Strict):
    """policies/scraped/drug-rules/<scraper>.yml: candidates written by a scraper, never served."""

    scraper: Slug
    retrieved: str
    sources: list[Source] = Field(default_factory=list)
    drugs: list[ScrapedDrug] = Field(default_factory=list)
    drug_rules: list[ScrapedDrugRule] = Field(default_factory=list)
