"""Every web source payerkb scrapes, in one list.

A source names the module that reads it (scrapers/sources/<module>.py, with `fetch` and
`parse`), the pages it reads and, for each page, the payers it speaks for and the fixture page
that stands in for it offline (scrapers/fixtures/: pages we wrote that mirror the real markup;
their content is invented and never lands in policies/, see docs/scrapers.md).

Only URLs seen in the research notes (shared/research/source-formats.md) are listed here.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

FIXTURES = Path(__file__).resolve().parent / "fixtures"
COVERAGE_API = "https://api.coverage.cms.gov"


@dataclass(frozen=True)
class Page:
    url: str
    fixture: str  # path under scrapers/fixtures/
    key: str = ""  # short slug for the ids of the rules and source made from this page
    payer_ids: tuple[str, ...] = ()
    title: str = ""  # our name for the page, used when the page shows none
    setting: str = "professional"  # the setting its facts apply to unless a sentence says otherwise


@dataclass(frozen=True)
class SourceSpec:
    name: str  # slug: `payerkb scrape NAME`, policies/scraped/NAME.yml
    module: str
    kind: str  # mac_page (rules) | policy_index (documents) | coverage_api (articles) | whats_new (documents)
    #          | drug_notice (candidate drug rules)
    publisher: str
    description: str
    pages: tuple[Page, ...] = ()
    payer_id: str | None = None  # for document indexes: the payer the documents belong to
    extra_fixtures: dict = field(default_factory=dict)  # URL -> fixture, for API calls

    def fixtures(self) -> dict[str, Path]:
        out = {p.url: FIXTURES / p.fixture for p in self.pages}
        out.update({url: FIXTURES / path for url, path in self.extra_fixtures.items()})
        return out

    def load(self):
        return importlib.import_module(f"scrapers.sources.{self.module}")


@dataclass
class ScrapeResult:
    """What one source yields: records shaped like policies/ files (plain dicts)."""

    sources: list[dict] = field(default_factory=list)
    rules: list[dict] = field(default_factory=list)
    documents: list[dict] = field(default_factory=list)
    coverage_articles: list[dict] = field(default_factory=list)
    coverage_article_codes: list[dict] = field(default_factory=list)
    drug_sources: list[dict] = field(default_factory=list)
    drugs: list[dict] = field(default_factory=list)
    drug_rules: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.rules or self.documents or self.coverage_articles or self.drug_rules)


def api_url(path: str, **params) -> str:
    url = f"{COVERAGE_API}{path}"
    return f"{url}?{urlencode(params)}" if params else url


# The billing-and-coding articles the API scraper always reads (beside those whose titles match),
# and the offline fixtures standing in for their code lists.
PINNED_ARTICLES = {"A54880", "A52855", "A53049", "A59576", "A55913"}

SOURCES: tuple[SourceSpec, ...] = (
    SourceSpec(
        name="cms-coverage-articles",
        module="coverage_api",
        kind="coverage_api",
        publisher="CMS Medicare Coverage Database",
        description="Local coverage (billing and coding) articles that list NOC drug codes, from the CMS Coverage API.",
        extra_fixtures={
            api_url("/v1/metadata/license-agreement/"): "coverage_api/license_agreement.json",
            api_url("/v1/reports/local-coverage-articles/", status="A"): "coverage_api/local_coverage_articles.json",
            api_url("/v1/data/article/hcpc-code", articleid="54880", ver="10"): "coverage_api/hcpc_code_54880.json",
            api_url("/v1/data/article/hcpc-code", articleid="52855", ver="30"): "coverage_api/hcpc_code_52855.json",
            api_url("/v1/data/article/hcpc-code", articleid="53049", ver="98"): "coverage_api/hcpc_code_53049.json",
        },
    ),
    SourceSpec(
        name="cms-coverage-whats-new",
        module="coverage_whats_new",
        kind="whats_new",
        publisher="CMS Medicare Coverage Database",
        description="The weekly list of local coverage documents (LCDs and articles) published or updated, from the CMS Coverage API.",
        extra_fixtures={api_url("/v1/reports/whats-new/local/"): "coverage_api/whats_new_local.json"},
    ),
    SourceSpec(
        name="noridian-je",
        module="noridian",
        kind="mac_page",
        publisher="Noridian Healthcare Solutions",
        description="Noridian JE Part B page on unlisted procedure and NOC codes.",
        pages=(
            Page("https://med.noridianmedicare.com/web/jeb/topics/claim-submission/submission-errors-solutions/unlisted-procedure-and-noc-codes",
                 "noridian/jeb_unlisted_noc.html", key="jeb-unlisted-noc",
                 payer_ids=("medicare-noridian-je",), title="Unlisted procedure and NOC codes (Noridian JE Part B)"),
        ),
    ),
    SourceSpec(
        name="palmetto-gba",
        module="palmetto",
        kind="mac_page",
        publisher="Palmetto GBA",
        description="Palmetto GBA Part B pages on billing and pricing unlisted drugs (JJ and JM).",
        pages=(
            Page("https://www.palmettogba.com/palmetto/jjb.nsf/DID/AW8MMP6652", "palmetto/jjb_aw8mmp6652.html",
                 key="jjb-aw8mmp6652", payer_ids=("medicare-palmetto-jj",),
                 title="Billing NOC drugs and biologicals (Palmetto GBA JJ Part B)"),
            Page("https://www.palmettogba.com/palmetto/jjb.nsf/DID/BY6RTU8205", "palmetto/jjb_by6rtu8205.html",
                 key="jjb-by6rtu8205", payer_ids=("medicare-palmetto-jj",),
                 title="Unlisted drugs and biologicals pricing (Palmetto GBA JJ Part B)"),
            Page("https://www.palmettogba.com/palmetto/jmb.nsf/DIDC/BY6RTU8205~Specialties~Drugs%20and%20Biologicals",
                 "palmetto/jmb_by6rtu8205.html", key="jmb-by6rtu8205", payer_ids=("medicare-palmetto-jm",),
                 title="Unlisted drugs and biologicals pricing (Palmetto GBA JM Part B)"),
        ),
    ),
    SourceSpec(
        name="novitas-jh",
        module="novitas",
        kind="mac_page",
        publisher="Novitas Solutions",
        description="Novitas JH page on the appropriate use of NOC codes.",
        pages=(
            Page("https://www.novitas-solutions.com/webcenter/portal/MedicareJH/pagebyid?contentId=00166304",
                 "novitas/jh_00166304.html", key="jh-00166304", payer_ids=("medicare-novitas-jh",),
                 title="Appropriate use of NOC codes (Novitas JH)"),
        ),
    ),
    SourceSpec(
        name="fcso-jn",
        module="fcso",
        kind="mac_page",
        publisher="First Coast Service Options",
        description="First Coast JN pages on NOC codes and on pricing new and NOC drug codes.",
        pages=(
            Page("https://medicare.fcso.com/claims/appropriate-use-not-otherwise-classified-codes",
                 "fcso/appropriate_use_noc.html", key="appropriate-use-noc", payer_ids=("medicare-fcso-jn",),
                 title="Appropriate use of NOC codes (First Coast JN)"),
            Page("https://medicare.fcso.com/Fee_news/0518304.asp", "fcso/fee_news_0518304.html",
                 key="fee-news-0518304", payer_ids=("medicare-fcso-jn",),
                 title="Pricing new and NOC drug codes (First Coast JN)"),
        ),
    ),
    SourceSpec(
        name="cgs-j15",
        module="cgs",
        kind="mac_page",
        publisher="CGS Administrators",
        description="CGS J15 Part B article on billing NOC drugs.",
        pages=(
            Page("https://www.cgsmedicare.com/partb/pubs/news/2014/0414/cope25420.html", "cgs/cope25420.html",
                 key="cope25420", payer_ids=("medicare-cgs-j15",), title="Billing NOC drugs (CGS J15 Part B)"),
        ),
    ),
    SourceSpec(
        name="wps-part-b",
        module="wps",
        kind="mac_page",
        publisher="WPS Government Health Administrators",
        description="WPS Part B tips for billing J3490 and other NOC drugs (J5 and J8).",
        pages=(
            Page("http://www.wpsmedicare.com/part_b/publications/j3490_tips.shtml", "wps/j3490_tips.html",
                 key="j3490-tips", payer_ids=("medicare-wps-j5", "medicare-wps-j8"),
                 title="Tips for billing J3490 (WPS Part B)"),
        ),
    ),
    SourceSpec(
        name="uhc-commercial-drug-policies",
        module="uhc",
        kind="policy_index",
        publisher="UnitedHealthcare",
        description="UnitedHealthcare commercial reimbursement policy index (PDF policies).",
        payer_id="unitedhealthcare",
        pages=(
            Page("https://www.uhcprovider.com/en/policies-protocols/commercial-policies/commercial-reimbursement-policies.html",
                 "uhc/commercial_reimbursement_policies.html", key="commercial-reimbursement",
                 title="UnitedHealthcare commercial reimbursement policies"),
            Page("https://www.uhcprovider.com/en/policies-protocols/commercial-policies/commercial-medical-drug-policies.html",
                 "uhc/commercial_medical_drug_policies.html", key="commercial-medical-drug",
                 title="UnitedHealthcare commercial medical benefit drug policies"),
        ),
    ),
    SourceSpec(
        name="cigna-coverage-policies",
        module="cigna",
        kind="policy_index",
        publisher="Cigna Healthcare",
        description="Cigna coverage policy updates listing (PDF policies).",
        payer_id="cigna",
        pages=(
            Page("https://static.cigna.com/assets/chcp/resourceLibrary/coveragePolicies/latestUpdatesListing.html",
                 "cigna/latest_updates_listing.html", key="latest-updates",
                 title="Cigna coverage policy updates"),
        ),
    ),
    SourceSpec(
        name="humana-medical-policies",
        module="humana",
        kind="policy_index",
        publisher="Humana",
        description="Humana medical coverage policy index (PDF policies).",
        payer_id="humana",
        pages=(
            Page("https://mcp.humana.com/tad/tad_new/Search.aspx?docbegin=M&policyType=medical&searchtype=beginswith",
                 "humana/search_medical_m.html", key="medical-m", title="Humana medical coverage policies (M)"),
        ),
    ),
)

ANTHEM_NEWS = "https://providernews.anthem.com"

SOURCES += (
    SourceSpec(
        name="anthem-specialty-pharmacy",
        module="anthem_news",
        kind="drug_notice",
        publisher="Anthem Blue Cross and Blue Shield",
        description="Anthem provider-news notices of specialty drugs (on NOC codes) added to prior authorization, per state.",
        pages=(
            Page(f"{ANTHEM_NEWS}/georgia/articles/anthem-prior-authorization-updates-for-specialty-pharmacy-are-available-4392",
                 "anthem/georgia_2020_04_4392.html", key="ga-4392", payer_ids=("anthem-georgia",),
                 title="Prior authorization updates for specialty pharmacy, April 2020 (Anthem Georgia)"),
            Page(f"{ANTHEM_NEWS}/georgia/articles/specialty-pharmacy-updates-for-august-2023-mac-1-14847",
                 "anthem/georgia_2023_08_14847.html", key="ga-14847", payer_ids=("anthem-georgia",),
                 title="Specialty pharmacy updates, August 2023 (Anthem Georgia)"),
            Page(f"{ANTHEM_NEWS}/connecticut/articles/prior-authorization-updates-for-specialty-pharmacy-effective-december-1-2021-8642",
                 "anthem/connecticut_2021_09_8642.html", key="ct-8642", payer_ids=("anthem-connecticut",),
                 title="Prior authorization updates for specialty pharmacy effective December 1, 2021 (Anthem Connecticut)"),
            Page(f"{ANTHEM_NEWS}/ohio/articles/specialty-pharmacy-updates-for-march-2023-4-12815",
                 "anthem/ohio_2023_03_12815.html", key="oh-12815", payer_ids=("anthem-ohio",),
                 title="Specialty pharmacy updates, March 2023 (Anthem Ohio)"),
            Page(f"{ANTHEM_NEWS}/wisconsin/articles/anthem-prior-authorization-updates-for-specialty-pharmacy-are-available-june-2020-1-4919",
                 "anthem/wisconsin_2020_06_4919.html", key="wi-4919", payer_ids=("anthem-wisconsin",),
                 title="Prior authorization updates for specialty pharmacy, June 2020 (Anthem Wisconsin)"),
        ),
    ),
    SourceSpec(
        name="bcbsm-record-drug-pa",
        module="bcbsm_record",
        kind="drug_notice",
        publisher="Blue Cross Blue Shield of Michigan",
        description="BCBS Michigan's The Record: drugs added to the medical drug prior-authorization program.",
        pages=(
            Page("https://www.bcbsm.com/content/dam/microsites/corpcomm/provider/the_record/2016/record_0616/Record_0616v.shtml",
                 "bcbsm/record_0616v.html", key="record-0616v", payer_ids=("bcbs-michigan",),
                 title="Specialty drug added to the Medical Drug Prior Authorization program, June 2016 (BCBSM The Record)"),
        ),
    ),
)

BY_NAME = {s.name: s for s in SOURCES}


def get(name: str) -> SourceSpec:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r}; known sources: {', '.join(BY_NAME)}") from None
