"""The candidate-fact extractor, on the shipped fixture pages and on single sentences."""
from __future__ import annotations

import re

import pytest

from scrapers import registry
from scrapers.extract import NOC_CODES, extract, summary
from scrapers.html import Section, clean, parse_date, soup
from scrapers.sources import palmetto, wps


def facts_of(text: str, setting: str = "professional"):
    found = extract([Section("Billing", text)], noc_codes=NOC_CODES, default_setting=setting,
                    denial_codes=("M123",))
    return {(f.topic, f.setting): f for f in found}


def fixture_sections(module, name):
    spec = registry.get(name)
    return [module.read_page((registry.FIXTURES / p.fixture).read_text(), p.url) for p in spec.pages]


def test_palmetto_fixture_pages_yield_their_facts():
    billing, pricing, _ = fixture_sections(palmetto, "palmetto-gba")
    facts = {(f.topic, f.setting): f for f in extract(billing.sections, noc_codes=NOC_CODES, default_setting="professional")}
    narrative = facts[("narrative", "professional")]
    assert narrative.values["claim_fields"] == ["837p-2400-sv101-7", "837p-2400-nte", "cms1500-item19"]
    assert narrative.values["narrative_rejects"] == ["mg/mL"]
    assert {"drug_name", "dose", "ndc"} <= set(narrative.values["narrative_elements"])
    assert facts[("ndc", "professional")].requirement == "required"
    assert billing.doc_date == "2024-08-12"

    facts = {(f.topic, f.setting): f for f in extract(pricing.sections, noc_codes=NOC_CODES, default_setting="professional")}
    assert facts[("pricing", "professional")].values == {"pricing_basis": "wac"}
    asc = facts[("pricing", "asc")]
    assert asc.values == {"pricing_basis": "awp", "percent": 95} and asc.codes == ["C9399"]
    assert "C9399" not in facts[("pricing", "professional")].codes  # tied to the ASC sentence only
    invoice = facts[("invoice", "professional")]
    assert invoice.requirement == "conditional" and invoice.values["threshold_usd"] == 500.0


def test_wps_fixture_gives_one_unit_80_characters_and_the_noc_file():
    (page,) = fixture_sections(wps, "wps-part-b")
    facts = {(f.topic, f.setting): f for f in extract(page.sections, noc_codes=NOC_CODES,
                                                        default_setting="professional", denial_codes=("M123",))}
    assert facts[("narrative", "professional")].values["max_chars"] == 80
    assert facts[("units", "professional")].values["unit_rule"] == "one_unit"
    assert facts[("pricing", "professional")].values["pricing_basis"] == "asp_noc_file"
    assert "M123" in facts[("units", "professional")].values["denial_codes"]
    assert page.doc_date == "2022-09-30"


@pytest.mark.parametrize("sentence, topic, expected", [
    ("J3590 is paid at 106% of the WAC.", "pricing", {"pricing_basis": "wac", "percent": 106}),
    ("J3490 pays 95 percent of the average wholesale price.", "pricing", {"pricing_basis": "awp", "percent": 95}),
    ("Without a WAC, J3490 is priced from the invoice.", "pricing", {"pricing_basis": "invoice"}),
    ("Attach an invoice for J3590 when the charge exceeds $2,500.", "invoice", {"threshold_usd": 2500.0}),
    ("The NDC for J3590 must be sent as 11 digits with the unit qualifier UN or ML in loop 2410.", "ndc",
     {"ndc_format": "11_digit_no_separators", "ndc_unit_qualifiers": ["UN", "ML"], "claim_fields": ["837p-2410-lin-ctp"]}),
    ("Report J3590 with the JZ modifier when nothing was discarded.", "modifiers", {"modifiers": ["JZ"]}),
    ("J3490 must be billed as one unit.", "units", {"unit_rule": "one_unit"}),
])
def test_single_sentences(sentence, topic, expected):
    fact = next(f for (t, _), f in facts_of(sentence).items() if t == topic)
    for key, value in expected.items():
        assert fact.values[key] == value, (sentence, fact.values)


def test_invoice_on_request_is_conditional_and_not_required_ndc_is_kept():
    facts = facts_of("An invoice may be requested for J3590. The NDC is not required for J7999.")
    assert facts[("invoice", "professional")].requirement == "conditional"
    ndc = facts[("ndc", "professional")]
    assert ndc.requirement == "not_required" and ndc.codes == ["J7999"]


def test_a_page_with_no_noc_code_or_no_fact_gives_nothing():
    assert facts_of("Bill 99213 with the NDC in item 19.") == {}
    assert facts_of("J3590 is the code for unclassified biologics.") == {}


def test_summaries_are_generated_not_copied():
    """No run of eight words from a fixture page appears in a generated summary."""
    for spec in registry.SOURCES:
        if spec.kind != "mac_page":
            continue
        module = spec.load()
        for page in spec.pages:
            html = (registry.FIXTURES / page.fixture).read_text()
            words = clean(soup(html).get_text(" ")).lower().split()
            shingles = {" ".join(words[i:i + 8]) for i in range(len(words) - 7)}
            content = module.read_page(html, page.url)
            for fact in extract(content.sections, noc_codes=NOC_CODES, default_setting=page.setting):
                text = summary(fact).lower()
                assert 10 <= len(text) <= 600
                assert not any(s in text for s in shingles), (page.url, text)


def test_dates_in_the_forms_pages_use():
    assert parse_date("Last Updated Mar 04, 2025") == "2025-03-04"
    assert parse_date("Published 02/15/2021") == "2021-02-15"
    assert parse_date("Last Published 10.01.2025") == "2025-10-01"
    assert parse_date("4 June 2024") == "2024-06-04"
    assert parse_date("02/30/2021") is None  # not a real date
    assert parse_date("no date here") is None
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", parse_date("2026-01-15T10:00"))
