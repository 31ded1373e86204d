"""The code advisor: which HCPCS code a drug goes on, and why.

A drug the CMS ASP NDC-HCPCS crosswalk lists under a specific code is billed with that code, not
a NOC code. Otherwise the NOC code follows the kind of drug (payerkb's `codes.drug_kind`), and
in a Medicare hospital outpatient claim a new drug or biological with no code goes on C9399.
"""
from __future__ import annotations

import datetime as dt
import difflib

import payerkb.ndc as ndclib
from payerkb.check_kb import CrosswalkRow, Knowledge, connect, knowledge
from payerkb.claim import DRUG_KINDS, SETTINGS, ClaimInputError

MEDICARE_FFS = ("medicare_national", "medicare_mac")
# kinds of drug a hospital outpatient department bills on C9399 under Medicare OPPS when no code exists yet
OPPS_NEW_DRUG_KINDS = ("biologic", "drug", "antineoplastic")
OPPS_CODE = "C9399"


def lookup_ndc(kb: Knowledge, conn, text: str, dos: str) -> tuple[ndclib.Ndc | None, list[CrosswalkRow], str | None]:
    """(parsed NDC, crosswalk rows of the quarter that fits the date, note).

    A 10-digit NDC without dashes is resolved when exactly one of its three readings is in the
    crosswalk; otherwise the NdcError is raised for the caller to report.
    """
    if ndclib.is_ambiguous(text) and kb.has_crosswalk:
        digits = text.strip()
        found = [c for c in ndclib.candidates(digits) if c in kb.crosswalk(conn)]
        if len(found) == 1:
            parsed = ndclib.Ndc(found[0], "10-digit", digits)
            return parsed, pick_quarter(kb.crosswalk(conn)[found[0]], dos), (
                f"the 10-digit NDC {digits} was read as {parsed.ndc_542}, the only one of its three "
                "possible 11-digit forms that the CMS crosswalk lists")
    parsed = ndclib.normalize(text)
    rows = kb.crosswalk(conn).get(parsed.ndc_11, []) if kb.has_crosswalk else []
    return parsed, pick_quarter(rows, dos), None


def pick_quarter(rows: list[CrosswalkRow], dos: str) -> list[CrosswalkRow]:
    """The rows of the crosswalk quarter in effect on the date of service (else the newest one)."""
    if not rows:
        return []
    covering = [r for r in rows if (r.effective_from or "") <= dos <= (r.effective_to or "9999")]
    if covering:
        quarter = max(r.quarter for r in covering)
    else:
        earlier = [r.quarter for r in rows if (r.effective_from or "") <= dos]
        quarter = max(earlier) if earlier else max(r.quarter for r in rows)
    return [r for r in rows if r.quarter == quarter]


def code_valid_on(code: dict, dos: str) -> bool:
    return (not code.get("add_date") or code["add_date"] <= dos) and (not code.get("term_date") or dos <= code["term_date"])


def kind_code(kb: Knowledge, drug_kind: str, dos: str) -> dict | None:
    """The NOC code for a kind of drug that is not limited to one setting (J3490 for `drug`)."""
    fits = [c for c in kb.codes.values() if c["drug_kind"] == drug_kind and c["is_noc"] and code_valid_on(c, dos)]
    fits.sort(key=lambda c: (c["setting"] != "any", c["code"]))
    return fits[0] if fits else None


def _source(ref) -> dict:
    return {"url": ref.url, "title": ref.title, "as_of": ref.doc_date}


def _check_choice(name: str, value, allowed) -> None:
    if value not in allowed:
        guess = difflib.get_close_matches(str(value), allowed, n=1)
        hint = f"; did you mean {guess[0]!r}?" if guess else ""
        raise ClaimInputError(name, f"{name}: {value!r} is not one of {', '.join(allowed)}{hint}")


def which_code(*, db, drug_kind: str | None = None, setting: str = "professional",
               payer_id: str | None = None, date: str | dt.date | None = None, ndc: str | None = None) -> dict:
    """The code to bill, the reasons, the sources behind them, and the alternatives.

    Raises ClaimInputError naming the argument (drug_kind, setting, payer, date, ndc) that is wrong.
    """
    conn = connect(db)
    kb = knowledge(conn)
    _check_choice("setting", setting, SETTINGS)
    if drug_kind is not None:
        _check_choice("drug_kind", drug_kind, DRUG_KINDS)
    if date is None:
        date = dt.date.today()
    if isinstance(date, str):
        try:
            date = dt.date.fromisoformat(date)
        except ValueError:
            raise ClaimInputError("date", f"date: write dates as YYYY-MM-DD (got {date!r})") from None
    dos = date.isoformat()
    payer = None
    if payer_id:
        payer = kb.payers.get(payer_id.lower())
        if payer is None:
            guess = difflib.get_close_matches(payer_id.lower(), list(kb.payers), n=3)
            hint = f"; did you mean {', '.join(guess)}?" if guess else ""
            raise ClaimInputError("payer", f"payer: unknown payer {payer_id!r}{hint}")
    if drug_kind is None and not ndc:
        raise ClaimInputError("drug_kind", "drug_kind: give the kind of drug (or an NDC to look up)")

    answer = {"code": None, "basis": None, "reasons": [], "sources": [], "alternatives": [],
              "payer_rules": [], "ndc_11": None, "crosswalk": None, "notes": [],
              "setting": setting, "date": dos, "payer_id": payer["id"] if payer else None,
              "drug_kind": drug_kind}

    if ndc:
        try:
            parsed, rows, note = lookup_ndc(kb, conn, ndc, dos)
        except ndclib.NdcError as exc:
            raise ClaimInputError("ndc", f"ndc: {exc}") from None
        answer["ndc_11"] = parsed.ndc_11
        if note:
            answer["notes"].append(note)
        if not kb.has_crosswalk:
            answer["notes"].append("the CMS NDC-HCPCS crosswalk is not loaded in this database, "
                                   "so the NDC could not be checked for a specific code")
        elif rows:
            row = rows[0]
            answer.update(code=row.hcpcs, basis="crosswalk", crosswalk={
                "quarter": row.quarter, "hcpcs": row.hcpcs, "drug_name": row.drug_name,
                "labeler": row.labeler, "hcpcs_dosage": row.hcpcs_dosage, "bill_units": row.bill_units,
                "other_codes": sorted({r.hcpcs for r in rows[1:]} - {row.hcpcs})})
            answer["reasons"].append(
                f"the CMS ASP NDC-HCPCS crosswalk ({row.quarter}) lists NDC {parsed.ndc_542} "
                f"({(row.drug_name or '').strip() or 'this drug'}) under {row.hcpcs}"
                + (f", {row.hcpcs_dosage} per billing unit" if row.hcpcs_dosage else "")
                + ": a drug with its own code is billed on that code, not on a NOC code")
            url = kb.crosswalk_source(conn, row.quarter)
            answer["sources"].append({"url": url, "title": f"CMS ASP NDC-HCPCS crosswalk {row.quarter}",
                                      "as_of": row.effective_from})
        else:
            answer["notes"].append(f"NDC {parsed.ndc_542} is not in the CMS ASP NDC-HCPCS crosswalk: "
                                   "no specific code found for it, so a NOC code fits")

    if answer["code"] is None:
        if drug_kind is None:
            answer["notes"].append("give --drug-kind to choose among the NOC codes")
            return answer
        _choose_noc(kb, conn, answer, drug_kind, setting, payer, dos)

    code = kb.codes.get(answer["code"])
    if code:
        answer["short_descriptor"] = code["short_descriptor"]
        answer["long_descriptor"] = code["long_descriptor"]
    elif answer["crosswalk"]:
        short = (rows[0].short_descriptor or "").strip() or None
        answer["short_descriptor"] = answer["long_descriptor"] = short
    si, quarter, si_url = kb.opps_status(conn, answer["code"], dos)
    answer["opps_status_indicator"] = si
    if payer:
        for rule in kb.rules_for(payer["id"], conn):
            if rule.topic == "coding" and rule.origin != "gap" and rule.applies(answer["code"], setting, dos):
                answer["payer_rules"].append({
                    "rule_id": rule.id, "summary": rule.summary, "status": rule.status,
                    "requirement": rule.requirement, "source_url": rule.source_url, "as_of": rule.as_of})
    return answer


def _choose_noc(kb: Knowledge, conn, answer: dict, drug_kind: str, setting: str, payer: dict | None, dos: str) -> None:
    base = kind_code(kb, drug_kind, dos)
    if base is None:
        answer["notes"].append(f"payerkb has no NOC code for drug kind {drug_kind!r} valid on {dos}")
        return
    opps = kb.codes.get(OPPS_CODE)
    medicare = payer is not None and payer["payer_type"] in MEDICARE_FFS
    if (setting == "outpatient_facility" and drug_kind in OPPS_NEW_DRUG_KINDS and opps
            and code_valid_on(opps, dos) and (medicare or payer is None)):
        answer.update(code=OPPS_CODE, basis="medicare_opps")
        who = "a Medicare hospital outpatient claim" if medicare else "a Medicare hospital outpatient claim (no payer given)"
        answer["reasons"].append(
            f"in {who}, a drug or biological that has no HCPCS code of its own yet is billed on "
            f"{OPPS_CODE} ({opps['long_descriptor']}), the code CMS limits to hospital outpatient claims")
        answer["sources"].extend(_source(s) for s in opps["source_refs"])
        answer["alternatives"].append({
            "code": base["code"],
            "why": f"{base['long_descriptor']}: the NOC code for this kind of drug on other claims; "
                   f"its OPPS status indicator is {base['opps_status_indicator'] or 'not recorded'}"})
        return
    answer.update(code=base["code"], basis="drug_kind")
    answer["reasons"].append(f"{base['code']} ({base['long_descriptor']}) is the NOC code for this kind of drug "
                             f"({drug_kind.replace('_', ' ')})")
    answer["sources"].extend(_source(s) for s in base["source_refs"])
    if base["setting"] not in ("any", setting):
        answer["notes"].append(f"{base['code']} is meant for {base['setting']} claims, not {setting}")
    if setting in ("outpatient_facility", "asc") and drug_kind in OPPS_NEW_DRUG_KINDS and opps:
        answer["alternatives"].append({
            "code": OPPS_CODE,
            "why": "Medicare's code for new drugs without a code in hospital outpatient claims; "
                   "whether this payer takes it is not in payerkb"})
