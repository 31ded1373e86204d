"""What scrapers write under policies/scraped/ besides rules, defined once: the fetcher logs
FetchRecord lines, the writer writes records files in RecordsFile's shape, and the build
(db/scraped_tables.py) reads both back with these models and refuses what does not fit.

- fetch-log.jsonl: one FetchRecord a line (every fetch, oldest first);
- records/<source>.yml: a RecordsFile (documents, coverage articles and their codes);
- review-log.jsonl: what `payerkb review` accepted or rejected.

(The scraped rules themselves, <source>.yml and drug-rules/<source>.yml, are db/schema.py's
ScrapedFile and ScrapedDrugFile.)
"""
from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from formats.fields import HcpcsCode, HttpUrl, IsoDate, Sha256

FETCH_LOG = "fetch-log.jsonl"
RECORDS = "records"
REVIEW_LOG = "review-log.jsonl"
FLAG_NAMES = ("unlisted_drugs", "ndc", "wastage")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class FetchRecord(_Strict):
    """One line of the fetch log."""

    scraper: str
    url: HttpUrl
    fetched_at: str
    status_code: int | None = None
    sha256: Sha256 | None = None
    changed: bool = False
    from_cache: bool = False
    fixture: bool = False
    error: str | None = None

    def to_json(self) -> str:
        return json.dumps(self.model_dump(), sort_keys=True)


class Document(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=120)]
    scraper: str
    payer_id: str | None = None
    publisher: str
    title: Annotated[str, Field(min_length=1, max_length=400)]
    number: str | None = None
    url: HttpUrl
    format: Literal["html", "pdf"]
    doc_date: IsoDate | None = None
    effective_date: IsoDate | None = None
    status: str | None = None
    flags: list[Literal[FLAG_NAMES]] = Field(default_factory=list)
    index_url: HttpUrl | None = None
    retrieved: IsoDate
    sha256: Sha256 | None = None
    fixture: bool = False


class CoverageArticle(_Strict):
    id: Annotated[str, Field(pattern=r"^A\d{5}$")]
    article_id: int
    version: int
    title: str
    contractor: str
    contract_type: str | None = None
    payer_ids: list[str] = Field(default_factory=list)
    effective_date: IsoDate | None = None
    updated_on: IsoDate | None = None
    retirement_date: IsoDate | None = None
    url: HttpUrl | None = None
    noc_codes: list[HcpcsCode] = Field(default_factory=list)
    retrieved: IsoDate
    sha256: Sha256 | None = None
    fixture: bool = False


class CoverageArticleCode(_Strict):
    article_id: str
    code: HcpcsCode  # HCPCS Level II only: CPT rows (and the AMA's descriptors) never get here
    group_num: int = 0
    description: str | None = None
    is_noc: bool = False


class RecordsFile(_Strict):
    scraper: str
    retrieved: str
    documents: list[Document] = Field(default_factory=list)
    coverage_articles: list[CoverageArticle] = Field(default_factory=list)
    coverage_article_codes: list[CoverageArticleCode] = Field(default_factory=list)
