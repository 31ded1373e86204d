"""The claim-line pre-check: what this payer will reject on one NOC drug line, and how to fix it.

`check_claim(line, db)` reads the payer's rules (rules, rule_sources, sources), its drug rules
(drug_rules, payerkb/check_drugs.py) and the reference
tables (codes, modifiers, denial_codes, claim_fields, the CMS crosswalk) and returns

    {"ok": bool, "findings": [{"severity", "topic", "message", "fix", "rule_id", "source_url",
                               "as_of", "likely_denial", ...}], "normalized": {...}}

Every finding names the rule (or reference table) and source behind it. A rule whose sources
disagree, that no source backs, or that a scraper found and nobody reviewed yet only ever gives
warnings, and says so. Bad input raises ClaimInputError naming the field.
"""
from __future__ import annotations

import difflib
import functools
import re
from typing import NamedTuple

from formats.vocabulary import NDC_UNIT_QUALIFIERS, PAYER_TYPE_LABELS
import payerkb.advisor as advisor
import payerkb.ndc as ndclib
from payerkb.check_drugs import check_drug_rules
from payerkb.check_kb import Knowledge, Rule, _number, connect, knowledge
from payerkb.check_reference import reference
from payerkb.claim import ClaimInputError, ClaimLine, parse_claim

SEVERITIES = ("error", "warning", "info")
TOPIC_ORDER = ("coding", "ndc", "narrative", "units", "modifiers", "invoice", "prior_auth",
               "pricing", "documentation", "submission")
CHECKED_TOPICS = ("coding", "ndc", "narrative", "units", "modifiers", "invoice", "prior_auth")
REMINDER_TOPICS = ("pricing", "documentation", "submission")
DENIAL_TOPICS = ("ndc", "narrative", "units")  # a payer silent on these still denies lines that get them wrong
ORDER = {(s, t): (i, j) for i, s in enumerate(SEVERITIES) for j, t in enumerate(TOPIC_ORDER)}  # sort order
STATUS_NOTES = {
    "conflicting": "sources disagree on this rule",
    "unconfirmed": "unconfirmed: no source backs this rule yet",
    "needs_review": "found by a scraper and not reviewed yet",
}
UNIT_RULE_WORDS = {
    "one_unit": "bill one unit",
    "per_payer_billing_unit": "bill units in the payer's own billing unit",
    "ndc_units": "bill units as NDC units",
    "per_container": "bill one unit per container",
    "per_descriptor": "bill units as the code descriptor defines them",
}

TOPIC_WORDS = {"prior_auth": "prior authorization", "ndc": "NDC"}
PRICING_WORDS = {
    "asp": "ASP", "asp_noc_file": "the CMS ASP and NOC pricing files", "wac": "WAC", "awp": "AWP",
    "invoice": "the invoice", "fee_schedule": "a fee schedule", "ndc_fee_schedule": "an NDC fee schedule",
    "billed_charges": "billed charges", "manual_review": "manual review",
}
DOSE = re.compile(
    r"\d+(?:[.,]\d+)?\s*(?:mg|mcg|µg|ug|g|gm|grams?|ml|l|units?|u|iu|meq|mmol|mci|mbq|%|vials?)\b", re.I)
ROUTE = re.compile(
    r"\b(?:iv|ivp|ivpb|im|sc|sq|subq|sub-q|subcut|po|intravenous(?:ly)?|intramuscular(?:ly)?|"
    r"subcutaneous(?:ly)?|intravitreal|intrathecal|intradermal|intra-?articular|intravesical|"
    r"intralesional|intraocular|oral(?:ly)?|inhal\w*|topical|ophthalmic|infusion|injection)\b", re.I)
NDC_IN_TEXT = re.compile(r"(?<!\d)(?:N4)?(\d{5}-?\d{4}-?\d{2}|\d{4}-\d{4}-\d{2}|\d{5}-\d{3}-\d{2}|\d{5}-\d{4}-\d)(?!\d)", re.I)
LEADING_NAME = re.compile(r"\s*([A-Za-z][A-Za-z\- ]*?)(?=\s*\d|\s*$|,)")
PER_ML = re.compile(r"\s*/\s*ml", re.I)
NAME_WORD = re.compile(r"[A-Za-z][A-Za-z\-]{2,}")
NON_NAME_WORDS = {"ndc", "per", "dose", "total", "via", "and", "the", "for", "with", "vial", "vials",
                  "units", "unit", "given", "drug"}
CHECKABLE_ELEMENTS = ("drug_name", "dose", "strength", "route", "ndc", "unit_of_measure")


def check_claim(line, db, strict: bool = False) -> dict:
    """Check one claim line (a dict or ClaimLine) against the payer's rules in `db` (a path,
    sqlite_utils.Database or sqlite3 connection). With `strict`, a topic that often gets lines
    denied (units, NDC, narrative) on which the payer has no sourced rule is an error, not a warning."""
    claim = parse_claim(line)
    conn = connect(db)
    return check_line(claim, knowledge(conn), conn, strict)


CHECKS = ()  # filled in below, once the checks are defined


def check_line(claim: ClaimLine, kb: Knowledge, conn, strict: bool = False) -> dict:
    """check_claim for a parsed line and a loaded knowledge base (an 837 file checks many lines)."""
    ctx = _Line(claim, kb, conn)
    ctx.strict = strict
    for check in CHECKS:
        check(ctx)
    return ctx.result()


def _order(finding: dict) -> tuple[int, int]:
    return ORDER[finding["severity"], finding["topic"]]


def _unknown(field: str, value: str, known, what: str) -> ClaimInputError:
    guess = difflib.get_close_matches(value, list(known), n=3)
    hint = f"; did you mean {', '.join(guess)}?" if guess else ""
    return ClaimInputError(field, f"{field}: unknown {what} {value!r}{hint}")


LIVE = ("required", "conditional")
SCOPES_KEPT = 4096  # (payer, code, setting, date) scopes cached per knowledge base; then it starts over
NDCS_KEPT = 8192


class _Scope:
    """What the payer, code, setting and date of service of a line decide, worked out once: the
    rules that apply, by topic, and findings that follow from those alone (`later`, filled by the
    checks that make them)."""

    __slots__ = ("rules", "by_topic", "live", "later")

    def __init__(self, rules: list[Rule]):
        self.rules = rules
        self.by_topic: dict[str, list[Rule]] = {}
        for rule in rules:
            self.by_topic.setdefault(rule.topic, []).append(rule)
        self.live = {topic: [r for r in here if r.origin != "gap" and r.requirement in LIVE]
                     for topic, here in self.by_topic.items()}
        self.later: dict = {}


def scope(kb: Knowledge, conn, payer_id: str, hcpcs: str, setting: str, dos: str) -> _Scope:
    key = (payer_id, hcpcs, setting, dos)
    found = kb.scopes.get(key)
    if found is None:
        if len(kb.scopes) >= SCOPES_KEPT:
            kb.scopes.clear()
        found = kb.scopes[key] = _Scope([r for r in kb.rules_for(payer_id, conn) if r.applies(hcpcs, setting, dos)])
    return found


def rules_here(kb: Knowledge, conn, payer_id: str, hcpcs: str, setting: str, dos: str) -> list[Rule]:
    """The payer's rules that apply to a line on this code, setting and date of service."""
    return scope(kb, conn, payer_id, hcpcs, setting, dos).rules


def _lookup_ndc(kb: Knowledge, conn, text: str, dos: str):
    """advisor.lookup_ndc, remembered per (NDC as written, date); a bad NDC raises NdcError each time."""
    key = (text, dos)
    hit = kb.ndc_lookups.get(key)
    if hit is None:
        try:
            hit = advisor.lookup_ndc(kb, conn, text, dos)
        except ndclib.NdcError as exc:
            hit = str(exc)
        if len(kb.ndc_lookups) >= NDCS_KEPT:
            kb.ndc_lookups.clear()
        kb.ndc_lookups[key] = hit
    if isinstance(hit, str):
        raise ndclib.NdcError(hit)
    return hit


class _Line:
    """One claim line being checked: its payer, code, applicable rules, and the findings so far."""

    def __init__(self, claim: ClaimLine, kb: Knowledge, conn):
        self.claim, self.kb, self.conn = claim, kb, conn
        self.payer = kb.payers.get(claim.payer_id)
        if self.payer is None:
            raise _unknown("payer_id", claim.payer_id, kb.payers, "payer")
        self.dos = claim.date_of_service.isoformat()
        self.code = kb.codes.get(claim.hcpcs)
        if self.code is None and claim.hcpcs not in kb.crosswalk_codes(conn):
            noc = ", ".join(sorted(kb.codes))
            raise ClaimInputError("hcpcs", f"hcpcs: {claim.hcpcs} is not a code payerkb knows: it covers the NOC "
                                           f"drug codes ({noc}) and the codes of the CMS NDC-HCPCS crosswalk")
        if claim.narrative_field and claim.narrative_field not in kb.claim_fields:
            raise _unknown("narrative_field", claim.narrative_field, kb.claim_fields, "claim field")
        self.is_noc = bool(self.code and self.code["is_noc"])
        self.scope = scope(kb, conn, self.payer["id"], claim.hcpcs, claim.setting, self.dos)
        self.rules = self.scope.rules
        self.by_topic = self.scope.by_topic
        self.findings: list[dict] = []
        self.normalized = {"payer_id": self.payer["id"], "hcpcs": claim.hcpcs, "setting": claim.setting,
                           "date_of_service": self.dos, "ndc_11": None, "ndc_542": None, "narrative": None,
                           "units": claim.units, "modifiers": list(claim.modifiers), "suggested_code": None}
        self.ndc, self.ndc_rows, self.ndc_error, self.ndc_note = None, [], None, None
        self.recoded = False  # the crosswalk moved the line to a specific code: NOC-line rules no longer fit
        self.drug_prior_auth = False  # a drug rule of the payer said whether the drug needs prior authorization
        self.strict = False  # a missing payer rule on a topic in DENIAL_TOPICS is an error, not a warning
        if claim.ndc:
            try:
                self.ndc, self.ndc_rows, self.ndc_note = _lookup_ndc(kb, conn, claim.ndc, self.dos)
                self.normalized.update(ndc_11=self.ndc.ndc_11, ndc_542=self.ndc.ndc_542)
            except ndclib.NdcError as exc:
                self.ndc_error = str(exc)

    def rules_on(self, topic: str, requirements=LIVE) -> list[Rule]:
        if requirements is LIVE:
            return self.scope.live.get(topic, [])
        return [r for r in self.by_topic.get(topic, []) if r.origin != "gap" and r.requirement in requirements]

    def add_once(self, key, make) -> None:
        """Add the findings `make(self)` adds, worked out once per scope and `key` (they depend on
        nothing else): later lines get the same finding dicts (results are read, never changed)."""
        made = self.scope.later.get(key)
        if made is None:
            mark = len(self.findings)
            make(self)
            self.scope.later[key] = self.findings[mark:]
            return
        self.findings.extend(made)

    def once(self, key, work):
        """`work(self)`, worked out once per scope and `key` (it depends on nothing else)."""
        later = self.scope.later
        if key not in later:
            later[key] = work(self)
        return later[key]

    def add(self, severity: str, topic: str, message: str, fix: str | None = None, rule: Rule | None = None,
            source_url: str | None = None, as_of: str | None = None, basis: str | None = None,
            denials: list[str] | None = None) -> None:
        status = None
        if rule is not None:
            source_url = source_url or rule.source_url
            as_of = as_of or rule.as_of
            status = rule.status
            if not rule.certain and rule.origin != "gap":
                if severity == "error":
                    severity = "warning"
                note = STATUS_NOTES.get(rule.status, rule.status)
                others = [r.id for r in self.by_topic.get(topic, []) if r.status == "conflicting" and r.id != rule.id]
                if rule.status == "conflicting" and others:
                    note += f"; see also {', '.join(others)}"
                message = f"{message} ({note})"
        if denials is None:
            denials = (rule.denial_codes if rule and rule.denial_codes else self.kb.denials_by_topic.get(topic, []))
        self.findings.append({
            "severity": severity, "topic": topic, "message": message, "fix": fix,
            "rule_id": rule.id if rule else None, "source_url": source_url, "as_of": as_of,
            "likely_denial": [] if severity == "info" else list(denials),
            "rule_status": status, "basis": basis or ("rule" if rule else None),
        })

    def result(self) -> dict:
        seen, findings = set(), []
        for f in self.findings:
            key = (f["severity"], f["topic"], f["message"])
            if key not in seen:
                seen.add(key)
                findings.append(f)
        findings.sort(key=_order)  # errors first
        return {"ok": not findings or findings[0]["severity"] != "error", "findings": findings,
                "normalized": self.normalized}

    @property
    def payer_name(self) -> str:
        return self.payer["name"]

    def field_labels(self, rule: Rule) -> str:
        labels = [self.kb.claim_fields.get(f, f) for f in rule.claim_field]
        return " or ".join(labels) if labels else "the payer's narrative field"


def _code_sources(code: dict | None) -> tuple[str | None, str | None]:
    refs = code["source_refs"] if code else []
    return (refs[0].url, refs[0].doc_date) if refs else (None, None)


# --- exceptions: cases a rule's sources leave outside it (rules.exceptions) --------------------

EXCEPTION_WORDS = {
    "compounded": "compounded drugs",
    "packaged_opps": "packaged hospital outpatient (OPPS) drugs",
    "packaged_asc": "packaged ASC drugs",
    "fqhc_rhc": "FQHC and RHC claims",
    "overfill": "overfill (drug beyond the labelled amount)",
    "radiopharmaceutical": "radiopharmaceuticals",
    "imaging_agent": "imaging agents",
    "intravitreal_bevacizumab": "intravitreal bevacizumab (Avastin)",
}
KIND_EXCEPTIONS = {  # exception -> the drug kinds (claim.drug_kind, codes.drug_kind) it covers
    "compounded": {"compounded"},
    "radiopharmaceutical": {"radiopharmaceutical_diagnostic", "radiopharmaceutical_therapeutic"},
    "imaging_agent": {"contrast"},
}
BEVACIZUMAB = re.compile(r"\b(?:bevacizumab|avastin)\b", re.I)
INTRAVITREAL = re.compile(r"\b(?:intravitreal(?:ly)?|ivt)\b", re.I)


def _falls_under(ctx: _Line, exception: str) -> bool | None:
    """True when the line is one of the exception's cases, False when it is not, None when the line
    does not say."""
    claim = ctx.claim
    if exception in KIND_EXCEPTIONS:
        kinds = KIND_EXCEPTIONS[exception]
        if (claim.drug_kind in kinds) or (ctx.code is not None and ctx.code["drug_kind"] in kinds):
            return True
        return False if claim.drug_kind else None
    if exception in ("packaged_opps", "packaged_asc"):
        if claim.setting != ("outpatient_facility" if exception == "packaged_opps" else "asc"):
            return False
        # the OPPS status indicator stands in for ASC packaging too (ASC payment indicators are not loaded)
        si, _, _ = ctx.kb.opps_status(ctx.conn, claim.hcpcs, ctx.dos)
        return None if si is None else si == "N"
    if exception == "fqhc_rhc":  # FQHC/RHC bill on institutional claims; the line does not name its bill type
        return None if claim.setting == "outpatient_facility" else False
    if exception == "intravitreal_bevacizumab":
        drug = " ".join(filter(None, (claim.drug_name, claim.narrative)))
        route = " ".join(filter(None, (claim.route, claim.narrative)))
        if drug and not BEVACIZUMAB.search(drug):
            return False
        if claim.route and not INTRAVITREAL.search(route):
            return False
        return True if drug and INTRAVITREAL.search(route) else None
    return None  # overfill: what the discarded amount holds is not on the line


def _exceptions(ctx: _Line, rule: Rule, only=None) -> tuple[str | None, list[str]]:
    """(an exception of `rule` this line falls under, or None; those the line cannot show)."""
    unknown = []
    for exception in rule.exceptions:
        if only is not None and exception not in only:
            continue
        hit = _falls_under(ctx, exception)
        if hit:
            return exception, []
        if hit is None:
            unknown.append(exception)
    return None, unknown


def _unless(unknown: list[str]) -> str:
    """' (the rule leaves out X and Y; this line does not say whether it is one)' or ''."""
    if not unknown:
        return ""
    words = [EXCEPTION_WORDS.get(e, e) for e in unknown]
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return f" (the rule leaves out {listed}; this line does not say whether it is one)"


# --- coding: the right code for this drug, setting and date -----------------------------------

def _coding(ctx: _Line) -> None:
    claim, code, kb = ctx.claim, ctx.code, ctx.kb
    url, as_of = _code_sources(code)
    if code and not advisor.code_valid_on(code, ctx.dos):
        span = f"added {code['add_date']}" + (f", ended {code['term_date']}" if code["term_date"] else "")
        ctx.add("error", "coding", f"{claim.hcpcs} is not a valid code on {ctx.dos} ({span}).",
                "Use the code in effect on the date of service.", source_url=url, as_of=as_of, basis="codes")
    if code and code["setting"] not in ("any", claim.setting) and not (
            code["setting"] == "outpatient_facility" and claim.setting == "asc"):
        kinds = sorted((c["code"], c["long_descriptor"]) for c in kb.codes.values()
                       if c["drug_kind"] in advisor.OPPS_NEW_DRUG_KINDS and c["setting"] == "any" and c["is_noc"])
        ctx.add("error", "coding",
                f"{claim.hcpcs} ({code['long_descriptor']}) is for {code['setting'].replace('_', ' ')} claims; "
                f"this is a {claim.setting.replace('_', ' ')} claim.",
                "Use the NOC code for the kind of drug: " + "; ".join(f"{c} {d}" for c, d in kinds) + ".",
                source_url=url, as_of=as_of, basis="codes")

    crosswalk_flagged = _crosswalk(ctx)
    if crosswalk_flagged or not ctx.is_noc:
        if not ctx.is_noc:
            ctx.add("info", "coding", f"payerkb's payer rules cover the NOC drug codes; for {claim.hcpcs} only the "
                                      "code and NDC checks ran.", basis="codes")
        _opps(ctx)
        return
    if claim.drug_kind:
        _drug_kind(ctx)
    elif (ctx.payer["payer_type"] in advisor.MEDICARE_FFS and claim.setting == "outpatient_facility"
          and code["drug_kind"] in advisor.OPPS_NEW_DRUG_KINDS and claim.hcpcs != advisor.OPPS_CODE):
        _steer_to_c9399(ctx, severity="warning")
    _opps(ctx)
    _noc_pricing(ctx)
    for rule in ctx.rules_on("coding"):
        # payerkb cannot test these conditions; a required one is worth a look before sending
        ctx.add("warning" if rule.requirement == "required" else "info", "coding",
                f"{ctx.payer_name}: {rule.summary}", rule=rule)


def _crosswalk(ctx: _Line) -> bool:
    """Findings from the CMS NDC-HCPCS crosswalk; True when it says the line has the wrong code."""
    claim, kb = ctx.claim, ctx.kb
    if ctx.ndc is None:
        return False
    if not kb.has_crosswalk:
        ctx.add("info", "coding", "The CMS NDC-HCPCS crosswalk is not loaded in this database, so payerkb could "
                                  "not check whether this NDC has a code of its own.",
                "Rebuild the database with the CMS reference files (payerkb build).", basis="ndc_hcpcs_crosswalk")
        return False
    rows = ctx.ndc_rows
    if not rows:
        if not ctx.is_noc:
            ctx.add("info", "coding", f"NDC {ctx.ndc.ndc_542} is not in the CMS NDC-HCPCS crosswalk under any code.",
                    basis="ndc_hcpcs_crosswalk")
        return False
    row = rows[0]
    listed = sorted({r.hcpcs for r in rows})
    url = kb.crosswalk_source(ctx.conn, row.quarter)
    drug = (row.drug_name or "").strip() or "this drug"
    if claim.hcpcs in listed:
        if not ctx.is_noc and row.hcpcs_dosage:
            ctx.add("info", "units", f"The CMS crosswalk ({row.quarter}) lists NDC {ctx.ndc.ndc_542} ({drug}) under "
                                     f"{claim.hcpcs} at {row.hcpcs_dosage} per billing unit"
                    + (f", {row.bill_units_pkg:g} billing units per package." if row.bill_units_pkg else "."),
                    source_url=url, as_of=row.effective_from, basis=f"ndc_hcpcs_crosswalk {row.quarter}")
        return False
    ctx.normalized["suggested_code"] = row.hcpcs
    coding = ctx.rules_on("coding", ("required", "conditional", "not_required"))
    # a payer rule on code choice, when there is one; a disputed one keeps this a warning
    behind = next((r for r in coding if r.status == "conflicting"), None) or next((r for r in coding if r.certain), None)
    why = ("a NOC code is only for a drug that has no code of its own" if ctx.is_noc
           else "the line's code does not match the NDC")
    ctx.recoded = True
    billing = _billing_units(ctx.claim.dose or (_read_text(ctx.claim.narrative).first_dose if ctx.claim.narrative
                                                 else None), row.hcpcs_dosage)
    if billing is not None:
        ctx.normalized["units"] = billing
    ctx.add("error", "coding",
            f"NDC {ctx.ndc.ndc_542} ({drug}) has its own code: the CMS ASP NDC-HCPCS crosswalk for {row.quarter} "
            f"lists it under {' and '.join(listed)}, so {claim.hcpcs} is the wrong code ({why}).",
            f"Bill {row.hcpcs}" + (f" ({row.short_descriptor.strip()})" if row.short_descriptor else "")
            + (f", units counted in {row.hcpcs_dosage}" if row.hcpcs_dosage else "")
            + (f" ({billing:g} units for the dose given)" if billing is not None else "") + ".",
            rule=behind, source_url=url, as_of=row.effective_from, basis=f"ndc_hcpcs_crosswalk {row.quarter}",
            denials=ctx.kb.denials_by_topic.get("coding", []))
    return True


MASS = {"mcg": 0.001, "ug": 0.001, "µg": 0.001, "mg": 1.0, "g": 1000.0, "gm": 1000.0, "gram": 1000.0, "grams": 1000.0}
AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*([a-zµ]+)", re.I)


@functools.lru_cache(maxsize=4096)
def _amount(text: str | None) -> tuple[float, str] | None:
    """(quantity, unit family) of a dose like '400 mg' or '1 ML' (mass in mg)."""
    m = AMOUNT.search(text or "")
    if not m:
        return None
    value, unit = float(m.group(1)), m.group(2).lower()
    if unit in MASS:
        return value * MASS[unit], "mg"
    if unit in ("ml", "l"):
        return value * (1000.0 if unit == "l" else 1.0), "ml"
    if unit in ("u", "unit", "units", "iu"):
        return value, "unit"
    return None


def _billing_units(dose: str | None, per_unit: str | None) -> float | None:
    """Billing units for a total dose under a code whose descriptor counts `per_unit` (e.g. 10 MG)."""
    given, per = _amount(dose), _amount(per_unit)
    if not given or not per or given[1] != per[1] or per[0] <= 0:
        return None
    return round(given[0] / per[0], 3)


def _drug_kind(ctx: _Line) -> None:
    claim = ctx.claim
    advice = advisor.which_code(db=ctx.conn, drug_kind=claim.drug_kind, setting=claim.setting,
                                payer_id=ctx.payer["id"], date=ctx.dos)
    best = advice["code"]
    if best is None or best == claim.hcpcs:
        return
    ctx.normalized["suggested_code"] = best
    alternatives = {a["code"] for a in advice["alternatives"]}
    src = advice["sources"][0] if advice["sources"] else {}
    if advice["basis"] == "medicare_opps" and claim.hcpcs in alternatives:
        _steer_to_c9399(ctx, severity="warning")
        return
    ctx.add("error", "coding",
            f"{claim.hcpcs} ({ctx.code['long_descriptor']}) is not the code for this kind of drug "
            f"({claim.drug_kind.replace('_', ' ')}): {advice['reasons'][0]}.",
            f"Bill {best} ({ctx.kb.codes[best]['long_descriptor']}).",
            source_url=src.get("url"), as_of=src.get("as_of"), basis="codes.drug_kind")


def _steer_to_c9399(ctx: _Line, severity: str) -> None:
    opps = ctx.kb.codes.get(advisor.OPPS_CODE)
    if not opps:
        return
    ctx.normalized["suggested_code"] = ctx.normalized["suggested_code"] or advisor.OPPS_CODE
    si_here, _, _ = ctx.kb.opps_status(ctx.conn, ctx.claim.hcpcs, ctx.dos)
    si_opps, _, _ = ctx.kb.opps_status(ctx.conn, advisor.OPPS_CODE, ctx.dos)
    url, as_of = _code_sources(opps)
    behind = next((r for r in ctx.kb.rules_for(ctx.payer["id"], ctx.conn)
                   if r.topic == "coding" and r.origin != "gap" and r.applies(advisor.OPPS_CODE, "outpatient_facility", ctx.dos)),
                  None)
    if behind is not None:
        url, as_of = None, None
    ctx.add(severity, "coding",
            f"This is a Medicare hospital outpatient line: a drug or biological with no code of its own yet goes on "
            f"{advisor.OPPS_CODE} ({opps['long_descriptor']}, OPPS status indicator {si_opps or '?'}), the code CMS "
            f"limits to hospital outpatient claims; {ctx.claim.hcpcs} has status indicator {si_here or '?'} there.",
            f"Bill {advisor.OPPS_CODE} for a new drug with no HCPCS code; keep {ctx.claim.hcpcs} only if the "
            "hospital means it to be packaged.", rule=behind, source_url=url, as_of=as_of, basis="codes.setting")


def _noc_pricing(ctx: _Line) -> None:
    """CMS prices some NOC drugs itself: its NOC NDC-HCPCS crosswalk lists them."""
    kb = ctx.kb
    if ctx.ndc is None or "noc_ndc_crosswalk" not in kb.tables:
        return
    ndc = ctx.ndc.ndc_11
    if ndc not in kb.noc_prices:
        if len(kb.noc_prices) >= NDCS_KEPT:
            kb.noc_prices.clear()
        kb.noc_prices[ndc] = _noc_price(kb, ctx.conn, ndc)
    found = kb.noc_prices[ndc]
    if found is None:
        return
    quarter, effective_from, name, dosage, per_pkg, limit, url = found
    ctx.add("info", "pricing",
            f"CMS's NOC NDC-HCPCS crosswalk ({quarter}) lists NDC {ctx.ndc.ndc_542} as {name}, billed per {dosage}"
            + (f" ({per_pkg:g} billing units a package)" if per_pkg else "")
            + (f"; the NOC pricing file's payment limit is ${limit:g} per {dosage}." if limit is not None else "."),
            source_url=url, as_of=effective_from, basis=f"noc_ndc_crosswalk {quarter}")


def _noc_price(kb: Knowledge, conn, ndc: str) -> tuple | None:
    """(quarter, effective_from, drug name, dosage, billing units a package, payment limit, source URL)
    of an NDC in the newest quarter of CMS's NOC crosswalk, or None when it is not there."""
    row = conn.execute(
        "select quarter, effective_from, drug_generic_name, dosage, bill_units_pkg from noc_ndc_crosswalk "
        "where ndc = ? order by quarter desc limit 1", [ndc]).fetchone()
    if row is None:
        return None
    quarter, effective_from, name, dosage, per_pkg = row
    limit = None
    if "noc_pricing" in kb.tables:
        hit = conn.execute("select payment_limit from noc_pricing where drug_name = ? and quarter = ?",
                           [name, quarter]).fetchone()
        limit = _number(hit[0]) if hit else None
    url = None
    if "cms_files" in kb.tables:
        hit = conn.execute("select source_url from cms_files where kind = 'noc-crosswalk' and quarter = ?",
                           [quarter]).fetchone()
        url = hit[0] if hit else None
    return quarter, effective_from, name, dosage, _number(per_pkg), limit, url


def _opps(ctx: _Line) -> None:
    if ctx.claim.setting not in ("outpatient_facility", "asc"):
        return
    si, quarter, url = ctx.kb.opps_status(ctx.conn, ctx.claim.hcpcs, ctx.dos)
    if si:
        when = f" ({quarter})" if quarter else ""
        ctx.add("info", "coding", f"OPPS status indicator of {ctx.claim.hcpcs}: {si}{when}.",
                source_url=url, basis="opps_status_indicators" if quarter else "codes.opps_status_indicator")


# --- NDC ---------------------------------------------------------------------------------------

def _ndc(ctx: _Line) -> None:
    claim = ctx.claim
    rules = ctx.rules_on("ndc")
    required = [r for r in rules if r.requirement == "required"]
    lead = (required or rules or [None])[0]
    strict = "error" if required else "warning"
    if not claim.ndc:
        if rules:
            ctx.add(strict, "ndc", f"No NDC on the line; {ctx.payer_name} asks for it on {claim.hcpcs} lines.",
                    "Give the 11-digit NDC of the package used, with the N4 qualifier, unit qualifier and quantity.",
                    rule=lead)
        return
    if ctx.ndc_error:
        ctx.add("error", "ndc", ctx.ndc_error, "Copy the NDC from the package, with its dashes.", rule=lead,
                basis=None if lead else "NDC format")
        return
    n = ctx.ndc
    if ctx.ndc_note:
        ctx.add("info", "ndc", ctx.ndc_note[0].upper() + ctx.ndc_note[1:] + ".", basis="ndc_hcpcs_crosswalk")
    fmt_rule = next((r for r in rules if r.ndc_format), None)
    wants = fmt_rule.ndc_format if fmt_rule else "11_digit_no_separators"
    shown = n.ndc_542 if wants == "5-4-2_with_dashes" else n.ndc_11
    if n.converted:
        ctx.add("error" if (fmt_rule or required) else "warning", "ndc",
                f"NDC {n.written} is a 10-digit NDC as printed on the package; "
                f"claims carry 11 digits (5-4-2): {n.ndc_542}.",
                f"Send {shown}.", rule=fmt_rule or lead, basis=None if (fmt_rule or lead) else "NDC format")
    elif fmt_rule and wants == "11_digit_no_separators" and "-" in n.written:
        ctx.add("info", "ndc", f"{ctx.payer_name} wants the NDC as 11 digits without dashes.", f"Send {n.ndc_11}.",
                rule=fmt_rule)
    if fmt_rule and wants == "5-4-2_with_dashes":
        ctx.add("info", "ndc", f"{ctx.payer_name} wants the NDC written 5-4-2 with dashes.", f"Write {n.ndc_542}.",
                rule=fmt_rule)

    lin = "claim_fields 837p-2410-lin-ctp"
    if claim.ndc_qualifier and claim.ndc_qualifier != "N4":
        ctx.add("error", "ndc", f"NDC qualifier {claim.ndc_qualifier!r} is wrong: an NDC is sent with the qualifier N4.",
                f"Send N4{n.ndc_11}.", rule=lead, basis=None if lead else lin)
    elif not claim.ndc_qualifier:
        ctx.add("info", "ndc", "No NDC qualifier given: the NDC goes after the qualifier N4.",
                f"Send N4{n.ndc_11} (loop 2410 LIN, or the shaded part of item 24A).", rule=lead,
                basis=None if lead else lin)

    if not claim.ndc_unit:
        ctx.add(strict, "ndc", "No NDC unit qualifier (UN, ML, GR, F2 or ME) given.",
                "Give the unit the NDC quantity is counted in (e.g. ML for a liquid, UN for vials or tablets).",
                rule=lead, basis=None if lead else lin)
    elif claim.ndc_unit not in NDC_UNIT_QUALIFIERS:
        ctx.add("error", "ndc", f"{claim.ndc_unit!r} is not an NDC unit qualifier (UN, ML, GR, F2 or ME).",
                "Use UN (unit), ML (millilitre), GR (gram), F2 (international unit) or ME (milligram).",
                rule=lead, basis=None if lead else lin)
    else:
        for rule in rules:
            if rule.ndc_unit_qualifiers and claim.ndc_unit not in rule.ndc_unit_qualifiers:
                ctx.add("error", "ndc",
                        f"{ctx.payer_name} does not take the NDC unit qualifier {claim.ndc_unit}; it takes "
                        f"{', '.join(rule.ndc_unit_qualifiers)}.",
                        f"Express the NDC quantity in {' or '.join(rule.ndc_unit_qualifiers)}.", rule=rule)
    if claim.ndc_quantity is None:
        ctx.add(strict, "ndc", "No NDC quantity given.", "Give the quantity of the package used, in the unit qualifier's unit.",
                rule=lead, basis=None if lead else lin)


# --- narrative ---------------------------------------------------------------------------------

def _elements_found(ctx: _Line, text: str) -> dict[str, bool]:
    claim = ctx.claim
    facts = _read_text(text)
    if claim.drug_name:
        first = NAME_WORD.search(claim.drug_name)
        name_ok = bool(first) and first.group(0).lower() in text.lower()
    else:
        name_ok = facts.names_a_drug
    return {"drug_name": name_ok, "dose": facts.has_dose, "strength": facts.has_dose,
            "unit_of_measure": facts.has_dose, "route": facts.route is not None, "ndc": facts.has_ndc}


class _TextFacts(NamedTuple):
    lead_name: str | None  # the words before the first number, unless they are not a name ("NDC ...")
    dose: str | None  # the first amount that is not a concentration (150 mg, not 25 mg/mL)
    first_dose: str | None  # the first amount of any kind
    route: str | None
    has_dose: bool
    has_ndc: bool
    names_a_drug: bool  # some word is neither a route, an amount nor a common non-name word


@functools.lru_cache(maxsize=8192)
def _read_text(text: str) -> _TextFacts:
    """What a narrative says, read once per distinct text (lines of a file repeat their descriptions)."""
    m = LEADING_NAME.match(text)
    lead = m.group(1).strip() if m and m.group(1).strip().lower() not in NON_NAME_WORDS else None
    d = DOSE.search(text)
    dose = d.group(0) if d and not PER_ML.match(text, d.end()) else None  # a concentration is not a dose
    r = ROUTE.search(text)
    named = any(w.lower() not in NON_NAME_WORDS and not ROUTE.fullmatch(w) and not DOSE.fullmatch(w)
                for w in NAME_WORD.findall(text))
    return _TextFacts(lead, dose, d.group(0) if d else None, r.group(0) if r else None, d is not None,
                      NDC_IN_TEXT.search(text) is not None, named)


def _rejected(text: str, wording: str) -> bool:
    return _wording(wording).search(text) is not None


@functools.lru_cache(maxsize=1024)
def _wording(wording: str) -> re.Pattern:
    return re.compile(r"\s*".join(re.escape(part) for part in wording.split()), re.I)


NARRATIVE_ORDER = ("drug_name", "dose", "strength", "unit_of_measure", "route", "ndc", "frequency", "date",
                   "manufacturer", "units_to_dose", "vial_type")


def _words(elements) -> str:
    return ", ".join("NDC" if e == "ndc" else e.replace("_", " ") for e in elements)


def _narrative(ctx: _Line) -> None:
    """One finding per problem, citing the most specific of the payer's narrative rules that asks for it."""
    claim = ctx.claim
    rules = ctx.once("narrative rules", lambda c: sorted(c.rules_on("narrative"), key=lambda r: (
        r.setting == "any", not r.claim_field, r.max_chars is None, r.requirement != "required", r.id)))
    proposed = _propose_narrative(ctx, rules)
    troubles = 0

    def sev(rule):
        return "error" if rule.requirement == "required" else "warning"

    def problem(rule, message, fix=None):
        nonlocal troubles
        troubles += 1
        ctx.add(sev(rule), "narrative", message, fix or fix_text, rule=rule)

    if not rules:
        ctx.normalized["narrative"] = claim.narrative or proposed
        return
    field_rule = next((r for r in rules if r.claim_field), rules[0])
    where = ctx.field_labels(field_rule)
    asked = {e for r in rules for e in (r.narrative_elements or ["drug_name", "dose"])}
    wanted = [e for e in NARRATIVE_ORDER if e in asked]
    fix_text = f"Put \u201c{proposed}\u201d in {where}." if proposed else f"Write the {_words(wanted)} in {where}."
    text = claim.narrative
    if not text:
        problem(rules[0], f"No narrative: {ctx.payer_name} needs the {_words(wanted)} on {claim.hcpcs} lines.")
        ctx.normalized["narrative"] = proposed
        return
    if claim.narrative_field and field_rule.claim_field and claim.narrative_field not in field_rule.claim_field:
        problem(field_rule, f"The narrative is in {ctx.kb.claim_fields[claim.narrative_field]}; "
                            f"{ctx.payer_name} reads it from {where}.", f"Move it to {where}.")
    limited = [r for r in rules if r.max_chars]
    if limited:
        tight = min(limited, key=lambda r: r.max_chars)
        if len(text) > tight.max_chars:
            problem(tight, f"The narrative has {len(text)} characters; {ctx.field_labels(tight)} holds {tight.max_chars}.")
    found = _elements_found(ctx, text)
    reported: set[str] = set()
    for rule in rules:
        missing = [e for e in (rule.narrative_elements or ["drug_name", "dose"])
                   if e in CHECKABLE_ELEMENTS and not found[e] and e not in reported]
        if missing:
            reported.update(missing)
            problem(rule, f"The narrative does not give the {_words(missing)}, which {ctx.payer_name} asks for.")
    unchecked = [e for e in wanted if e not in CHECKABLE_ELEMENTS]
    if unchecked:
        asker = next(r for r in rules if set(unchecked) & set(r.narrative_elements))
        ctx.add("info", "narrative", f"{ctx.payer_name} also asks for the {_words(unchecked)} in the narrative "
                                     "(payerkb cannot check these).", rule=asker)
    for rule in rules:
        hit = next((w for w in rule.narrative_rejects if _rejected(text, w)), None)
        if hit and "rejects" not in reported:
            reported.add("rejects")
            excepted, unknown = _exceptions(ctx, rule)
            if excepted:
                ctx.add("info", "narrative", f"The narrative writes the dose as {hit!r}; {ctx.payer_name} rejects that "
                                             f"wording except for {EXCEPTION_WORDS[excepted]}, which this line is.",
                        rule=rule)
                continue
            troubles += 1
            fix = ("Give the total dose given (e.g. 150 mg), not a concentration."
                           + (f" For example: \u201c{proposed}\u201d." if proposed else ""))
            ctx.add(sev(rule), "narrative",
                    f"The narrative writes the dose as {hit!r}, which {ctx.payer_name} rejects{_unless(unknown)}.",
                    fix, rule=rule)
    ndc_rule = next((r for r in rules if "ndc" in r.narrative_elements), None)
    if ndc_rule and ctx.ndc is not None:
        in_text = [m.group(1) for m in NDC_IN_TEXT.finditer(text)]
        readable = set()
        for t in in_text:
            try:
                readable.add(ndclib.normalize(t).ndc_11)
            except ndclib.NdcError:
                pass
        if readable and ctx.ndc.ndc_11 not in readable:
            problem(ndc_rule, f"The NDC in the narrative ({', '.join(in_text)}) is not the NDC of the line "
                              f"({ctx.ndc.ndc_542}); conflicting information gets lines rejected.")
    ctx.normalized["narrative"] = text if not troubles else proposed


def _propose_narrative(ctx: _Line, rules: list[Rule]) -> str | None:
    """A narrative that carries what the payer's rules ask for, within their length limit."""
    claim = ctx.claim
    text = claim.narrative or ""
    facts = _read_text(text) if text else None
    name = claim.drug_name or (facts.lead_name if facts else None)
    dose = claim.dose or (facts.dose if facts else None)
    if not name or not dose:
        return None
    route = claim.route or (facts.route if facts else None)
    elements = set().union(*(r.narrative_elements for r in rules)) if rules else {"drug_name", "dose", "route"}
    ndc_rule = next((r for r in ctx.rules_on("ndc") if r.ndc_format), None)
    ndc_text = None
    if ctx.ndc is not None and ("ndc" in elements):
        ndc_text = ctx.ndc.ndc_542 if ndc_rule and ndc_rule.ndc_format == "5-4-2_with_dashes" else ctx.ndc.ndc_11
    parts = [name, dose] + ([route] if route else [])  # a route the biller gave is kept
    limit = min((r.max_chars for r in rules if r.max_chars), default=None)
    tail = [f"NDC {ndc_text}"] if ndc_text else []
    out = " ".join(parts + tail)
    if limit and len(out) > limit:
        tail = [ndc_text] if ndc_text else []
        spare = limit - len(" ".join([dose] + parts[2:] + tail)) - 1
        if spare < 3:
            return None
        out = " ".join([name[:spare].rstrip()] + parts[1:] + tail)
    return out


# --- units -------------------------------------------------------------------------------------

def _units(ctx: _Line) -> None:
    claim = ctx.claim
    if ctx.recoded:
        return
    for rule in ctx.rules_on("units"):
        if rule.unit_rule == "one_unit":
            if claim.units is None:
                ctx.add("warning", "units", f"No units given; {ctx.payer_name} wants {claim.hcpcs} billed as 1 unit.",
                        "Bill 1 unit and give the total dose in the narrative.", rule=rule)
            elif claim.units != 1:
                ctx.add("error", "units", f"{claim.units:g} units billed; {ctx.payer_name} wants {claim.hcpcs} lines "
                                          "billed as 1 unit, with the total dose in the narrative.",
                        "Bill 1 unit" + (f" and write the total dose ({claim.dose}) in the narrative." if claim.dose
                                         else " and write the total dose in the narrative."), rule=rule)
                ctx.normalized["units"] = 1
        else:
            how = f"{UNIT_RULE_WORDS[rule.unit_rule]}. " if rule.unit_rule in UNIT_RULE_WORDS else ""
            ctx.add("info", "units", f"{ctx.payer_name}: {how}{rule.summary}", rule=rule)


# --- modifiers ---------------------------------------------------------------------------------

def _wastage_rules(ctx: _Line) -> tuple[Rule | None, Rule | None, Rule | None]:
    return ctx.once("wastage", _wastage_rules_here)


def _wastage_rules_here(ctx: _Line) -> tuple[Rule | None, Rule | None, Rule | None]:
    """(JZ rule, JW rule, exemption rule) that govern JW/JZ on this line.

    A sourced not_required rule naming JW and JZ (e.g. radiopharmaceuticals) lifts the duty. Where
    any rule about JW on this line is conflicting, JW advice cites it, so it stays a warning.
    """
    mine = [r for r in ctx.by_topic.get("modifiers", []) if r.origin != "gap"]
    live = [r for r in mine if r.requirement in ("required", "conditional")]
    exempt = next((r for r in mine if r.requirement == "not_required" and r.certain
                   and {"JW", "JZ"} <= set(r.modifiers)), None)
    if exempt:
        return None, None, exempt

    def pick(rules):
        return sorted(rules, key=lambda r: (r.requirement != "required", not r.certain, r.setting == "any", r.id))[0] if rules else None

    jz = pick([r for r in live if "JZ" in r.modifiers])
    jw_any = [r for r in mine if "JW" in r.modifiers]
    disputed = [r for r in jw_any if r.status == "conflicting"]
    jw = disputed[0] if disputed else pick([r for r in live if "JW" in r.modifiers])
    return jz, jw, None


WASTAGE_CASES = ("compounded", "packaged_opps", "packaged_asc", "fqhc_rhc", "radiopharmaceutical", "imaging_agent")


def _outside_note(ctx: _Line, exception: str) -> str:
    """Why the line is one of the JW/JZ rule's exceptions, in words."""
    code = ctx.claim.hcpcs
    if exception in ("packaged_opps", "packaged_asc"):
        return (f"{code} is packaged in OPPS (status indicator N), and the JW/JZ rule leaves "
                f"{EXCEPTION_WORDS[exception]} out")
    return f"This line is one of the {EXCEPTION_WORDS[exception]} the JW/JZ rule leaves out"


def _modifiers(ctx: _Line) -> None:
    claim = ctx.claim
    mods = set(claim.modifiers)
    jz_rule, jw_rule, exempt = _wastage_rules(ctx)
    jw_ref, jz_ref = ctx.kb.modifiers.get("JW"), ctx.kb.modifiers.get("JZ")

    def cite(rule, mod):  # the payer's rule, else the modifiers table's own sources
        if rule is not None:
            return {"rule": rule}
        refs = mod["source_refs"] if mod else []
        return dict(source_url=refs[0].url if refs else None, as_of=refs[0].doc_date if refs else None,
                    basis=f"modifiers {mod['code']}" if mod else None)

    sdc, discarded = claim.single_dose_container, claim.discarded_amount
    if exempt is not None:
        if mods & {"JW", "JZ"}:
            ctx.add("info", "modifiers", f"{ctx.payer_name} does not require JW/JZ on {claim.hcpcs}: {exempt.summary}",
                    rule=exempt)
    elif "JW" in mods and "JZ" in mods:
        ctx.add("error", "modifiers", "JW (amount discarded) and JZ (nothing discarded) contradict each other on one line.",
                "Keep JZ on the administered line when nothing was discarded; report any discarded amount on its own "
                "line with JW.", **cite(jz_rule or jw_rule, jz_ref))
    elif sdc is False:
        if mods & {"JW", "JZ"}:
            ctx.add("warning", "modifiers", "JW and JZ are for drugs from single-dose containers; this line says the "
                                            "container is not single-dose.", "Drop JW/JZ for a multi-dose container.",
                    **cite(jz_rule or jw_rule, jz_ref))
    elif sdc is True:
        if "JZ" in mods and discarded:
            ctx.add("error", "modifiers", f"JZ says nothing was discarded, but {discarded:g} was discarded.",
                    "Drop JZ; bill the discarded amount on its own line with JW.", **cite(jz_rule, jz_ref))
        elif "JW" in mods and discarded == 0:
            ctx.add("error", "modifiers", "JW says drug was discarded, but the discarded amount is 0.",
                    "Use JZ when nothing from the single-dose container was discarded.", **cite(jw_rule, jw_ref))
        elif not mods & {"JW", "JZ"}:
            jw_due = jw_rule is not None or (jw_ref and jw_ref["required_from"] and jw_ref["required_from"] <= ctx.dos)
            governing = jw_rule if discarded and jw_due else jz_rule
            outside, unknown = _exceptions(ctx, governing, only=WASTAGE_CASES) if governing else (None, [])
            if outside:
                ctx.add("info", "modifiers", f"{_outside_note(ctx, outside)}, so no JW/JZ is needed here.",
                        rule=governing)
            elif discarded and jw_due:
                overfill = jw_rule is not None and "overfill" in jw_rule.exceptions
                ctx.add("warning", "modifiers", f"{discarded:g} was discarded from the single-dose container"
                                                f"{_unless(unknown)}.",
                        "Bill the discarded amount on its own line with JW (this line keeps the amount given)"
                        + ("; overfill is not billed as discarded drug." if overfill else "."),
                        **cite(jw_rule, jw_ref))
            elif jz_rule is not None:
                since = jz_rule.effective_from or (jz_ref or {}).get("required_from")
                ctx.add("error", "modifiers",
                        "A drug from a single-dose container needs JZ (nothing discarded) or JW (amount discarded)"
                        + (f" for dates of service from {since}" if since else "") + f"{_unless(unknown)}.",
                        "Add JZ" + (" (nothing was discarded)." if discarded == 0 else
                                    ", or report the discarded amount on its own line with JW."), rule=jz_rule)
    elif (jz_rule or jw_rule) and not mods & {"JW", "JZ"}:
        ctx.add("info", "modifiers", "If this drug came from a single-dose container, add JZ (nothing discarded) or "
                                     "report the discarded amount on its own line with JW.",
                "Say single_dose_container true or false to have this checked.", rule=jz_rule or jw_rule)

    for other in ctx.rules_on("modifiers"):
        wanted = [m for m in other.modifiers if m not in ("JW", "JZ")]
        if not wanted or mods & set(wanted):
            continue
        if other.requirement == "required":
            ctx.add("error", "modifiers", f"{ctx.payer_name} requires {' or '.join(wanted)} on {claim.hcpcs} lines.",
                    f"Add {wanted[0]}. {other.summary}", rule=other)
        else:
            ctx.add("info", "modifiers", f"{ctx.payer_name} asks for {' or '.join(wanted)} in some cases: {other.summary}",
                    rule=other)


# --- invoice and prior authorization -----------------------------------------------------------

def _over_threshold(ctx: _Line, rule: Rule, topic: str, what: str, present: bool, fix: str,
                    unknown_condition: str) -> None:
    """Required -> error when absent; above a threshold -> error when the billed amount is over it;
    a condition payerkb cannot evaluate -> `unknown_condition` severity with the rule's summary.
    A line that is one of the rule's exceptions gets a note instead."""
    claim = ctx.claim
    if present:
        return
    outside, unknown = _exceptions(ctx, rule)
    if outside:
        ctx.add("info", topic, f"{ctx.payer_name} does not ask for {what} for {EXCEPTION_WORDS[outside]}, which this "
                               "line is.", rule=rule)
        return
    unless = _unless(unknown)
    if rule.requirement == "required":
        ctx.add("error", topic, f"{ctx.payer_name} requires {what} for {claim.hcpcs}; none given{unless}.", fix,
                rule=rule)
    elif rule.threshold_usd is not None:
        limit = f"${rule.threshold_usd:,.2f}"
        if claim.billed_amount is None:
            ctx.add("warning", topic, f"{ctx.payer_name} requires {what} above {limit}; no billed amount given to "
                                      f"compare{unless}.", f"Give billed_amount, or {fix[0].lower()}{fix[1:]}", rule=rule)
        elif claim.billed_amount > rule.threshold_usd:
            ctx.add("error", topic, f"Billed ${claim.billed_amount:,.2f} is above {limit}, from which {ctx.payer_name} "
                                    f"requires {what}; none given{unless}.", fix, rule=rule)
        elif claim.billed_amount == rule.threshold_usd:
            ctx.add("warning", topic, f"Billed ${claim.billed_amount:,.2f} is exactly {ctx.payer_name}'s {limit} "
                                      f"threshold for {what}{unless}: {rule.summary}", fix, rule=rule)
    else:
        ctx.add(unknown_condition, topic, f"{ctx.payer_name} requires {what} in some cases: {rule.summary}", fix, rule=rule)


def _invoice(ctx: _Line) -> None:
    claim = ctx.claim
    for rule in ctx.rules_on("invoice"):
        _over_threshold(ctx, rule, "invoice", "an invoice", bool(claim.invoice_attached),
                        "Attach the purchase invoice (net of discounts) to the claim.", unknown_condition="info")
        if rule.invoice_max_age_days:
            if claim.invoice_date is None:
                ctx.add("info", "invoice", f"{ctx.payer_name} takes invoices up to {rule.invoice_max_age_days} days "
                                           "old; give invoice_date to have it checked.", rule=rule)
            else:
                age = (claim.date_of_service - claim.invoice_date).days
                if age > rule.invoice_max_age_days:
                    ctx.add("error", "invoice", f"The invoice is {age} days older than the date of service; "
                                                f"{ctx.payer_name} takes invoices up to {rule.invoice_max_age_days} days old.",
                            "Attach a more recent invoice for the drug.", rule=rule)


def _prior_auth(ctx: _Line) -> None:
    for rule in ctx.rules_on("prior_auth"):
        # a missed prior authorization cannot be fixed after the fact, so an unclear condition warns
        _over_threshold(ctx, rule, "prior_auth", "prior authorization", bool(ctx.claim.prior_auth_number),
                        "Get prior authorization before the date of service and give its number.",
                        unknown_condition="warning")


# --- what the payer says that a line cannot show, and what payerkb does not know ------------------

def _reminders(ctx: _Line) -> None:
    ctx.add_once("reminders", _remind)


def _remind(ctx: _Line) -> None:
    for topic in REMINDER_TOPICS:
        for rule in ctx.rules_on(topic):
            lead = ""
            if topic == "pricing" and rule.pricing_basis:
                basis = PRICING_WORDS.get(rule.pricing_basis, rule.pricing_basis)
                lead = f"priced from {basis}" + (f" at {rule.percent:g}%" if rule.percent else "") + ": "
            ctx.add("info", topic, f"{ctx.payer_name}: {lead}{rule.summary}", rule=rule)


NEEDS = {  # (topic, requirement) -> what payers that ask it do, in words
    ("ndc", "required"): "require the NDC", ("ndc", "conditional"): "ask for the NDC in some cases",
    ("ndc", "not_required"): "do not require the NDC",
    ("narrative", "required"): "require a narrative", ("narrative", "conditional"): "ask for a narrative in some cases",
    ("narrative", "not_required"): "do not require a narrative",
    ("units", "required"): "have a units rule", ("units", "conditional"): "have a units rule for some cases",
    ("units", "not_required"): "have no units requirement",
}


def _unruled(ctx: _Line) -> None:
    """Where the payer has no sourced rule of its own on units, NDC or narrative for this line: a
    warning that says so and cites the national rule, else the most common one among payers of the
    same type (payerkb/check_reference.py); an error with `strict`."""
    if not ctx.is_noc or ctx.recoded:
        return
    by_drug_rule = frozenset(f["topic"] for f in ctx.findings if f.get("rule_table") == "drug_rules")
    ctx.add_once(("unruled", ctx.strict, by_drug_rule), lambda c: _unruled_here(c, by_drug_rule))


def _unruled_here(ctx: _Line, by_drug_rule: frozenset) -> None:
    claim = ctx.claim
    where = f"for {claim.hcpcs} on {claim.setting.replace('_', ' ')} claims on {ctx.dos}"
    for topic in DENIAL_TOPICS:
        if topic in by_drug_rule or any(r.origin != "gap" and r.certain for r in ctx.by_topic.get(topic, ())):
            continue
        ref = reference(ctx.kb, ctx.conn, ctx.payer, topic, claim.hcpcs, claim.setting, ctx.dos)
        if ref is None:
            continue
        words = TOPIC_WORDS.get(topic, topic)
        cited = ref.rule
        lead = f"{ctx.payer_name} has no sourced {words} rule in payerkb {where}; {words} mistakes often get lines denied."
        if ref.how == "national":
            said = f" What the national payer, {ctx.kb.payers[cited.payer_id]['name']}, says: {cited.summary}"
        else:
            kind = PAYER_TYPE_LABELS.get(ctx.payer["payer_type"], ctx.payer["payer_type"])
            requirement = ref.asks[0]
            what = (f"say: {UNIT_RULE_WORDS[ref.asks[1]]}" if topic == "units" and len(ref.asks) > 1
                    and ref.asks[1] in UNIT_RULE_WORDS else NEEDS.get((topic, requirement), requirement))
            said = (f" Most payers of the same type ({kind}) with such a rule ({ref.payers} of {ref.of}) {what}; for example "
                    f"{ctx.kb.payers[cited.payer_id]['name']}: {cited.summary}")
        ctx.add("error" if ctx.strict else "warning", topic, lead + said,
                f"Confirm {ctx.payer_name}'s own {words} requirement before sending; until then, bill as the "
                "cited rule asks.", source_url=cited.source_url, as_of=cited.as_of,
                basis="national rule" if ref.how == "national" else "most common rule")
        ctx.findings[-1].update(
            rule_id=cited.id, rule_status=cited.status,
            reference={"how": ref.how, "payers": ref.payers, "of": ref.of,
                       "rules": [{"rule_id": r.id, "payer_id": r.payer_id, "source_url": r.source_url,
                                  "as_of": r.as_of} for r in ref.examples]})


def _gaps(ctx: _Line) -> None:
    if ctx.is_noc:
        ctx.add_once(("gaps", ctx.drug_prior_auth), _gaps_here)


def _gaps_here(ctx: _Line) -> None:
    known = ctx.kb.topics_of(ctx.payer["id"], ctx.conn)
    for topic in CHECKED_TOPICS + REMINDER_TOPICS:
        here = ctx.by_topic.get(topic, [])
        gap = next((r for r in here if r.origin == "gap"), None)
        words = TOPIC_WORDS.get(topic, topic)
        if topic == "prior_auth" and ctx.drug_prior_auth:
            continue  # the payer's drug rule answered it (payerkb/check_drugs.py)
        if gap is not None:
            ctx.add("info", topic, f"No public source for {ctx.payer_name}'s {words} rules: payerkb does not know them yet.",
                    rule=gap, basis="gap")
        elif not here and topic in known:
            ctx.add("info", topic, f"payerkb has no {words} rule of {ctx.payer_name} for {ctx.claim.hcpcs} on "
                                   f"{ctx.claim.setting.replace('_', ' ')} claims on {ctx.dos}.", basis="gap")


CHECKS = (_coding, _ndc, _narrative, _units, _modifiers, _invoice, _prior_auth, check_drug_rules, _unruled,
          _reminders, _gaps)
