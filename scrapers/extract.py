"""Find candidate billing facts in a page's clean sections, and write them up as scraped rules.

The extractor reads sentences for a handful of facts a NOC drug claim depends on: NDC required
(and its format, unit qualifiers, claim fields), one unit of service, the narrative (which claim
field, how long, what it must carry, "mg/mL" rejected), invoices (and a dollar threshold), the
pricing basis with its percentage (WAC, AWP, ASP, the ASP NOC file), and the JW/JZ modifiers.

Only values leave this module. Summaries are generated from those values by templates, so no
sentence of the page is ever copied into policies/.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from formats.reference import noc_codes
from formats.vocabulary import NDC_UNIT_QUALIFIERS, SETTINGS
from scrapers.html import Section

HCPCS = re.compile(r"\b([A-V]\d{4})\b")
# Codes a rule may cover: the NOC codes of policies/reference/codes.yml. Denial codes it may cite:
# the writer keeps only those policies/reference/ knows, so the validator never meets an unknown one.
NOC_CODES = noc_codes()
DENIAL_CODES = ("CO-16", "M123", "N350", "M119", "N657", "MA130")

FIELD_PATTERNS = (
    (re.compile(r"\b(item|box|block)\s*19\b", re.I), "cms1500-item19"),
    (re.compile(r"\bSV1(?:01)?\s*-\s*7\b|\bSV101-7\b", re.I), "837p-2400-sv101-7"),
    (re.compile(r"\bSV2(?:02)?\s*-\s*7\b", re.I), "837i-2400-sv202-7"),
    (re.compile(r"\b(loop\s*)?2400\b[^.]{0,30}\bNTE|\bNTE\s*0?2?\b[^.]{0,30}\b2400\b", re.I), "837p-2400-nte"),
    (re.compile(r"\b(loop\s*)?2300\b[^.]{0,30}\bNTE|\bNTE\b[^.]{0,30}\b2300\b", re.I), "837p-2300-nte"),
    (re.compile(r"\b(FL|form locator)\s*80\b", re.I), "ub04-fl80"),
    (re.compile(r"\b(FL|form locator)\s*43\b", re.I), "ub04-fl43"),
    (re.compile(r"\b2410\b|\bLIN\s*0?3\b|\bCTP\b", re.I), "837p-2410-lin-ctp"),
    (re.compile(r"\b24\s*A\b[^.]{0,30}shaded|shaded[^.]{0,30}\b24\s*A\b", re.I), "cms1500-24a-shaded"),
)
FIELD_WORDS = {
    "cms1500-item19": "item 19 (CMS-1500)",
    "837p-2400-sv101-7": "SV101-7 (837P loop 2400)",
    "837i-2400-sv202-7": "SV202-7 (837I loop 2400)",
    "837p-2400-nte": "NTE (837P loop 2400)",
    "837p-2300-nte": "NTE (837P loop 2300)",
    "ub04-fl80": "FL 80 (UB-04)",
    "ub04-fl43": "FL 43 (UB-04)",
    "837p-2410-lin-ctp": "LIN/CTP (837P loop 2410)",
    "cms1500-24a-shaded": "the shaded part of item 24A (CMS-1500)",
}
NARRATIVE_FIELDS = {"cms1500-item19", "837p-2400-sv101-7", "837i-2400-sv202-7", "837p-2400-nte",
                    "837p-2300-nte", "ub04-fl80"}
NDC_FIELDS = {"837p-2410-lin-ctp", "cms1500-24a-shaded", "ub04-fl43"}

ELEMENT_PATTERNS = (
    (re.compile(r"\b(drug|product|medication)('s)?\s+name\b|\bname of the (drug|medication)\b", re.I), "drug_name"),
    (re.compile(r"\bdos(e|age|ing)\b", re.I), "dose"),
    (re.compile(r"\bstrength\b", re.I), "strength"),
    (re.compile(r"\broute\b|\bmethod of administration\b", re.I), "route"),
    (re.compile(r"\bNDC\b|national drug code", re.I), "ndc"),
    (re.compile(r"\bunit of measure\b", re.I), "unit_of_measure"),
    (re.compile(r"\bmanufacturer\b", re.I), "manufacturer"),
)
BASIS_PATTERNS = (
    (re.compile(r"\bASP\s+NOC\b|\bNOC\s+pricing\s+file\b|\bNOC\s+(drug\s+)?pricing\b", re.I), "asp_noc_file"),
    (re.compile(r"\bWAC\b|wholesale acquisition cost", re.I), "wac"),
    (re.compile(r"\bAWP\b|average wholesale price", re.I), "awp"),
    (re.compile(r"\bASP\b|average sales? price", re.I), "asp"),
    (re.compile(r"\binvoice", re.I), "invoice"),
)
BASIS_WORDS = {
    "asp_noc_file": "the CMS ASP NOC pricing file", "wac": "the wholesale acquisition cost (WAC)",
    "awp": "the average wholesale price (AWP)", "asp": "the average sales price (ASP)",
    "invoice": "the invoice",
}
PERCENT_OF = re.compile(
    r"(\d{1,3}(?:\.\d+)?)\s*(?:%|percent)\s+(?:of\s+)?(?:the\s+)?"
    r"(AWP|WAC|ASP|average wholesale price|wholesale acquisition cost|average sales? price)", re.I)
MONEY = re.compile(r"\$\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{2}))?")
THRESHOLD_WORDS = re.compile(r"\b(over|exceed\w*|more than|greater than|above|at least|or more|or greater)\b", re.I)
REQUIRE = re.compile(r"\b(requir\w*|must|mandatory|need(ed|s)?|include[sd]?|report(ed)?|enter(ed)?|"
                     r"submit(ted)?|attach(ed)?|provide[sd]?|send|list(ed)?|indicate[sd]?|complete[sd]?)\b", re.I)
NEGATED = re.compile(r"\b(not|no longer|never)\s+(be\s+)?(requir\w*|needed|necessary|mandatory)\b", re.I)
ON_REQUEST = re.compile(r"\b(upon|on|at)\s+request\b|\bmay (be )?request|\bif requested\b|\bwhen requested\b", re.I)
REJECT = re.compile(r"\b(reject\w*|den(y|ied|ial)|not (be )?accept\w*|invalid|unacceptable|not allowed|return\w*)\b", re.I)
ONE_UNIT = re.compile(r"\b(1|one|a single)\s+(billing\s+)?units?\b(\s+of\s+service)?|\bunits?\s+(of\s+service\s+)?(of|as|to)\s+(1|one)\b", re.I)
MAX_CHARS = re.compile(r"\b(\d{2,3})\s*(characters|character|bytes|positions|spaces)\b", re.I)
INVOICE_AGE = re.compile(r"\b(\d{2,4})\s*days\b", re.I)
SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[A-Z(\"'])")


@dataclass
class Fact:
    """A candidate fact: one topic and setting, with the values found and where."""

    topic: str
    setting: str
    requirement: str = "required"
    codes: list[str] = field(default_factory=list)
    values: dict = field(default_factory=dict)
    locators: list[str] = field(default_factory=list)

    def add_list(self, key: str, items) -> None:
        have = self.values.setdefault(key, [])
        for item in items:
            if item not in have:
                have.append(item)

    def add_codes(self, codes) -> None:
        for code in codes:
            if code not in self.codes:
                self.codes.append(code)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


def _setting(sentence: str, default: str) -> str:
    if re.search(r"\bASCs?\b|ambulatory surgical", sentence, re.I):
        return "asc"
    if re.search(r"\bOPPS\b|hospital outpatient|outpatient (hospital|facility|department)|\bUB-?04\b|\b837I\b", sentence, re.I):
        return "outpatient_facility"
    return default


def _fields(sentence: str) -> list[str]:
    return [fid for pattern, fid in FIELD_PATTERNS if pattern.search(sentence)]


NEGATION_BEFORE = re.compile(r"\b(no|not|without|absent|unless|lacks?)\b[^.;,]{0,30}$", re.I)


def _first_basis(sentence: str) -> str | None:
    """The first pricing basis the sentence names that is not negated ("without a WAC ...")."""
    hits = []
    for rank, (pattern, basis) in enumerate(BASIS_PATTERNS):  # at one position, "ASP NOC" beats "ASP"
        for m in pattern.finditer(sentence):
            if not NEGATION_BEFORE.search(sentence[:m.start()]):
                hits.append((m.start(), rank, basis))
    return min(hits)[2] if hits else None


def _money(sentence: str) -> float | None:
    m = MONEY.search(sentence)
    if not m:
        return None
    return float(m.group(1).replace(",", "") + "." + (m.group(2) or "00"))


class _Collector:
    def __init__(self, default_setting: str, noc_codes: set[str]):
        self.default_setting = default_setting
        self.noc_codes = noc_codes
        self.facts: dict[tuple[str, str], Fact] = {}

    def fact(self, topic: str, setting: str, locator: str, codes: list[str]) -> Fact:
        f = self.facts.setdefault((topic, setting), Fact(topic, setting))
        if locator not in f.locators:
            f.locators.append(locator)
        f.add_codes(codes)
        return f


def extract(page_sections: list[Section], *, noc_codes, default_setting: str = "any",
            denial_codes=()) -> list[Fact]:
    """Candidate facts found in the sections of one page."""
    noc = set(noc_codes)
    page_codes = _codes_by_setting([s.text for s in page_sections], noc, default_setting)
    col = _Collector(default_setting, noc)
    for section in page_sections:
        section_codes = _codes_by_setting([section.text], noc, default_setting)
        for sentence in sentences(section.text):
            own = [c for c in HCPCS.findall(sentence) if c in noc]
            setting = _setting(sentence, default_setting)
            # a sentence naming no code covers the codes named for its setting nearby
            codes = own or section_codes.get(setting) or page_codes.get(setting) or []
            denials = [d for d in denial_codes if re.search(rf"\b{re.escape(d)}\b", sentence)]
            touched = _read_sentence(col, sentence, section.locator, codes, setting)
            for f in touched:
                if denials:
                    f.add_list("denial_codes", denials)
    return [f for f in col.facts.values() if f.codes]


def _codes_by_setting(texts: list[str], noc: set[str], default_setting: str) -> dict[str, list[str]]:
    """Codes named in sentences of each setting; codes named with no setting go to every setting
    that has none of its own, so a code tied to ASCs does not leak into the professional rules."""
    by: dict[str, list[str]] = {}
    for text in texts:
        for sentence in sentences(text):
            setting = _setting(sentence, default_setting)
            for code in HCPCS.findall(sentence):
                if code in noc and code not in by.setdefault(setting, []):
                    by[setting].append(code)
    tied = {c for s, codes in by.items() if s != default_setting for c in codes}
    fallback = [c for c in by.get(default_setting, [])] or [
        c for codes in by.values() for c in codes if c not in tied]
    for setting in SETTINGS:
        by.setdefault(setting, fallback)
    return by


def _read_sentence(col: _Collector, s: str, locator: str, codes: list[str], setting: str) -> list[Fact]:
    touched: list[Fact] = []
    fields = _fields(s)
    mentions_ndc = bool(re.search(r"\bNDCs?\b|national drug code", s, re.I))
    requires = bool(REQUIRE.search(s))
    negated = bool(NEGATED.search(s))

    # NDC on the line (a narrative sentence that merely lists the NDC among its contents counts too)
    if mentions_ndc and (requires or fields):
        f = col.fact("ndc", setting, locator, codes)
        if negated:
            f.requirement = "not_required"
        if re.search(r"\b5-4-2\b", s):
            f.values["ndc_format"] = "5-4-2_with_dashes"
        elif re.search(r"\b11[- ]digit|\beleven[- ]digit", s, re.I):
            f.values["ndc_format"] = "11_digit_no_separators"
        if re.search(r"qualifier|unit of measure|\bCTP\b", s, re.I):
            f.add_list("ndc_unit_qualifiers", [q for q in NDC_UNIT_QUALIFIERS if re.search(rf"\b{q}\b", s)])
        f.add_list("claim_fields", [x for x in fields if x in NDC_FIELDS])
        touched.append(f)

    # the narrative: where the drug's name and dose go
    narrative_fields = [x for x in fields if x in NARRATIVE_FIELDS]
    elements = [e for pattern, e in ELEMENT_PATTERNS if pattern.search(s)]
    names_drug = "drug_name" in elements
    rejects_mg_ml = bool(re.search(r"\bmg\s*/\s*ml\b", s, re.I)) and bool(REJECT.search(s))
    if narrative_fields or (names_drug and requires) or rejects_mg_ml:
        f = col.fact("narrative", setting, locator, codes)
        f.add_list("claim_fields", narrative_fields)
        if names_drug:
            f.add_list("narrative_elements", elements)
        m = MAX_CHARS.search(s)
        if m:
            f.values["max_chars"] = int(m.group(1))
        if rejects_mg_ml:
            f.add_list("narrative_rejects", ["mg/mL"])
        touched.append(f)

    # one unit of service, whatever the dose
    if ONE_UNIT.search(s) and (re.search(r"\b(bill|report|enter|submit|use|code|units? of service)\w*", s, re.I)
                               or REJECT.search(s)):
        f = col.fact("units", setting, locator, codes)
        f.values["unit_rule"] = "one_unit"
        touched.append(f)

    # pricing: a percentage of a basis, or a basis alone
    pct = PERCENT_OF.search(s)
    prices = re.search(r"\b(pric\w*|pay\w*|reimburs\w*|allow\w*|based on|uses?|determin\w*)\b", s, re.I)
    if pct or prices:
        basis = None
        percent = None
        if pct:
            percent = float(pct.group(1))
            basis = next(b for pattern, b in BASIS_PATTERNS if pattern.search(pct.group(2)))
        elif prices:
            basis = _first_basis(s)
        if basis:
            f = col.fact("pricing", setting, locator, codes)
            if "pricing_basis" not in f.values or (percent and "percent" not in f.values):
                f.values["pricing_basis"] = basis
                if percent:
                    f.values["percent"] = int(percent) if percent.is_integer() else percent
            touched.append(f)

    # invoices (as a document to send, not as a pricing basis)
    if re.search(r"\binvoices?\b", s, re.I) and (requires or ON_REQUEST.search(s)) and not (prices and not re.search(r"\b(submit|attach|send|provide|include)", s, re.I)):
        f = col.fact("invoice", setting, locator, codes)
        amount = _money(s)
        if amount is not None and THRESHOLD_WORDS.search(s):
            f.values["threshold_usd"] = amount
            f.requirement = "conditional"
        elif ON_REQUEST.search(s):
            f.requirement = "conditional"
        age = INVOICE_AGE.search(s)
        if age:
            f.values["invoice_max_age_days"] = int(age.group(1))
        touched.append(f)

    # JW / JZ
    mods = [m for m in ("JW", "JZ") if re.search(rf"\b{m}\b", s)]
    if mods:
        f = col.fact("modifiers", setting, locator, codes)
        f.add_list("modifiers", mods)
        touched.append(f)
    return touched


# -- writing facts up as rules ---------------------------------------------------------------

def _codes_words(codes: list[str]) -> str:
    return ", ".join(codes[:-1]) + (" and " if len(codes) > 1 else "") + codes[-1]


def _fields_words(ids: list[str]) -> str:
    words = [FIELD_WORDS.get(i, i) for i in ids]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


ELEMENT_WORDS = {
    "drug_name": "the drug name", "dose": "the dose", "strength": "the strength",
    "route": "the route", "ndc": "the NDC", "unit_of_measure": "the unit of measure",
    "manufacturer": "the manufacturer",
}


def summary(fact: Fact) -> str:
    """A plain-English sentence built from the fact's values only."""
    codes = _codes_words(fact.codes)
    v = fact.values
    where = {"asc": " in an ASC", "outpatient_facility": " on outpatient facility claims"}.get(fact.setting, "")
    if fact.topic == "ndc":
        if fact.requirement == "not_required":
            return f"The NDC is not required on {codes} lines{where}."
        text = f"Report the NDC on {codes} lines{where}"
        if v.get("ndc_format") == "11_digit_no_separators":
            text += ", as 11 digits without separators"
        elif v.get("ndc_format") == "5-4-2_with_dashes":
            text += ", in 5-4-2 form with dashes"
        if v.get("claim_fields"):
            text += f", in {_fields_words(v['claim_fields'])}"
        if v.get("ndc_unit_qualifiers"):
            text += f" (unit qualifiers {', '.join(v['ndc_unit_qualifiers'])})"
        return text + "."
    if fact.topic == "narrative":
        parts = [ELEMENT_WORDS[e] for e in v.get("narrative_elements", [])]
        carry = (", ".join(parts[:-1]) + " and " + parts[-1]) if len(parts) > 1 else (parts[0] if parts else "a description of the drug")
        text = f"{codes} lines{where} need a narrative giving {carry}"
        if v.get("claim_fields"):
            text += f", in {_fields_words(v['claim_fields'])}"
        if v.get("max_chars"):
            text += f" (at most {v['max_chars']} characters)"
        text += "."
        if v.get("narrative_rejects"):
            text += " Doses written as mg/mL are rejected."
        return text
    if fact.topic == "units":
        return f"Bill {codes}{where} as one unit of service, whatever the dose given."
    if fact.topic == "pricing":
        basis = BASIS_WORDS.get(v.get("pricing_basis"), v.get("pricing_basis"))
        if v.get("percent"):
            return f"{codes}{where} are priced at {v['percent']}% of {basis}."
        return f"{codes}{where} are priced from {basis}."
    if fact.topic == "invoice":
        if v.get("threshold_usd") is not None:
            text = f"An invoice is needed for {codes}{where} when the line is over ${v['threshold_usd']:,.2f}"
        elif fact.requirement == "conditional":
            text = f"An invoice may be asked for on {codes} lines{where}"
        else:
            text = f"Send an invoice with {codes} lines{where}"
        if v.get("invoice_max_age_days"):
            text += f"; the page gives {v['invoice_max_age_days']} days as the invoice age limit"
        return text + "."
    if fact.topic == "modifiers":
        mods = " and ".join(v.get("modifiers", []))
        return f"Use the {mods} modifier{'s' if len(v.get('modifiers', [])) > 1 else ''} on {codes} lines{where} to report discarded (JW) or no discarded (JZ) drug from single-dose containers."
    return f"{fact.topic.replace('_', ' ').capitalize()} rule for {codes}{where}."


RULE_KEYS = ("claim_fields", "max_chars", "unit_rule", "modifiers", "ndc_unit_qualifiers",
             "ndc_format", "narrative_elements", "narrative_rejects", "invoice_max_age_days",
             "threshold_usd", "pricing_basis", "percent", "denial_codes")


def to_rule(fact: Fact, *, rule_id: str, payer_id: str, source_id: str, note: str) -> dict:
    """A ScrapedRule (db/schema.py) as a plain dict, ready for YAML."""
    rule = {
        "id": rule_id,
        "payer_id": payer_id,
        "topic": fact.topic,
        "setting": fact.setting,
        "codes": list(fact.codes),
        "requirement": fact.requirement,
        "summary": summary(fact),
    }
    for key in RULE_KEYS:
        value = fact.values.get(key)
        if value not in (None, [], ""):
            rule[key] = value
    rule.update({
        "origin": "scraped",
        "status": "needs_review",
        "sources": [{"ref": source_id, "locator": "; ".join(fact.locators)[:200]}],
        "note": note,
    })
    return rule
