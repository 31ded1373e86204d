"""Check the claim lines of an 837 file (professional or institutional) against the payers' rules.

`check_837(data, db, payer_id=None)` reads the file with payerkb.x12, finds each claim's payer in
the knowledge base (NM1*PR name and id against payer names, aliases and jurisdictions; the billing
provider's state decides between payers of the same name, e.g. the Palmetto GBA jurisdictions),
turns every service line into the ClaimLine the check reads, and checks in depth the lines on NOC
codes and the lines whose NDC has a code of its own in the CMS crosswalk; other lines are listed as
skipped. Each claim and line carries its position in the file (interchange control number,
transaction set control number, CLM01, LX01 and the segment number).
"""
from __future__ import annotations

import contextlib
import gc
import json
import re
import threading

import payerkb.ndc as ndclib
import payerkb.x12 as x12
from payerkb.check import check_line, rules_here
from payerkb.check_kb import connect, knowledge
from payerkb.claim import ClaimInputError, parse_claim

# type of bill (first two digits, from CLM05-1 of an 837I) -> setting
BILL_TYPES = {
    "13": "outpatient_facility", "12": "outpatient_facility", "14": "outpatient_facility",
    "85": "outpatient_facility", "71": "outpatient_facility", "77": "outpatient_facility",
    "74": "outpatient_facility", "75": "outpatient_facility", "76": "outpatient_facility",
    "83": "asc",
}
BILL_TYPE_WORDS = {"13": "hospital outpatient", "12": "hospital inpatient Part B", "14": "hospital non-patient",
                   "85": "critical access hospital outpatient", "71": "rural health clinic",
                   "77": "FQHC", "74": "outpatient rehabilitation facility", "75": "CORF",
                   "76": "community mental health center", "83": "ambulatory surgery center"}
NARRATIVE_FIELDS = {
    "837P": {"description": "837p-2400-sv101-7", "line_note": "837p-2400-nte", "claim_note": "837p-2300-nte"},
    "837I": {"description": "837i-2400-sv202-7", "line_note": None, "claim_note": "837i-2300-nte"},
}
NOT_SENT = "AA"
MEMO_SIZE = 2_000  # results kept for reuse (each is a few KB)  # PWK02: available on request at the provider's site, not sent


def _norm(text: str | None) -> str:
    text = (text or "").upper().replace("&", " AND ")
    return " ".join(re.sub(r"[^A-Z0-9]+", " ", text).split())


class PayerIndex:
    """Payer names, aliases and jurisdictions of one knowledge base, normalised for matching."""

    def __init__(self, conn):
        self.by_name: dict[str, set[str]] = {}
        self.ids: set[str] = set()
        self.states: dict[str, set[str]] = {}
        self.jurisdiction: dict[str, str] = {}
        self.names: dict[str, str] = {}
        for pid, name, aliases, states, jurisdiction in conn.execute(
                "select id, name, aliases, states, jurisdiction from payers"):
            self.ids.add(pid)
            self.names[pid] = name
            try:
                alias_list = json.loads(aliases or "[]")
                state_list = json.loads(states or "[]")
            except ValueError:
                alias_list, state_list = [], []
            short = re.sub(r"\s*\(.*?\)", "", name)
            for n in {name, short, *alias_list}:
                if _norm(n):
                    self.by_name.setdefault(_norm(n), set()).add(pid)
            self.states[pid] = set(state_list or [])
            if jurisdiction:
                self.jurisdiction[pid] = _norm(jurisdiction)

    def match(self, name: str | None, code: str | None, state: str | None,
              whose: str = "the billing provider's") -> dict:
        """{"payer_id": id or None, "how": words, "candidates": [...]} for an NM1*PR / N1*PR."""
        out = {"name": name, "id": code, "payer_id": None, "how": None, "candidates": []}
        if code and code.lower() in self.ids:
            out.update(payer_id=code.lower(), how=f"payer id {code} is a payerkb payer id")
            return out
        key = _norm(name)
        if not key:
            out["how"] = "the file names no payer (NM1*PR / N1*PR): give --payer"
            return out
        found = set(self.by_name.get(key, ()))
        how = f"{name!r} is the name or an alias of"
        if not found:
            words = f" {key} "
            best = 0
            for alias, ids in self.by_name.items():
                if len(alias) >= 3 and f" {alias} " in words and len(alias) >= best:
                    if len(alias) > best:
                        found, best = set(), len(alias)
                    found |= ids
            how = f"{name!r} contains the name or an alias of"
        if not found:
            out["how"] = f"{name!r} (id {code or 'none'}) matches no payer name or alias in payerkb: give --payer"
            return out
        steps = []
        if len(found) > 1:
            tokens = set(key.split()) | set(_norm(code).split())
            narrowed = {p for p in found if self.jurisdiction.get(p) and set(self.jurisdiction[p].split()) <= tokens
                        and self.jurisdiction[p] not in ("", )}
            if len(narrowed) >= 1 and narrowed != found:
                found = narrowed
                steps.append("the jurisdiction named in the payer name")
        if len(found) > 1 and state:
            narrowed = {p for p in found if state.upper() in self.states.get(p, ())}
            if narrowed and narrowed != found:
                found = narrowed
                steps.append(f"{whose} state {state.upper()}")
        out["candidates"] = sorted(found)
        if len(found) == 1:
            pid = next(iter(found))
            out.update(payer_id=pid, how=f"{how} {pid}" + (f", chosen by {' and '.join(steps)}" if steps else ""))
        else:
            out["how"] = (f"{name!r} fits {len(found)} payers ({', '.join(sorted(found))})"
                          + (f" even after {' and '.join(steps)}" if steps else "")
                          + ": give --payer")
        return out


_indexes: dict[int, tuple[object, PayerIndex]] = {}


def payer_index(conn) -> PayerIndex:
    kb = knowledge(conn)
    hit = _indexes.get(id(conn))
    if hit is None or hit[0] is not kb:
        hit = _indexes[id(conn)] = (kb, PayerIndex(conn))
    return hit[1]


def setting_of(claim: x12.Claim, payer_id: str | None, kb) -> tuple[str | None, str]:
    """(setting or None when the bill is not one the check covers, how it was derived)."""
    if claim.kind == "837I":
        tob = claim.type_of_bill or "(none)"
        fac = (claim.facility_code or "")[:2]
        if fac in BILL_TYPES:
            return BILL_TYPES[fac], f"type of bill {tob} ({BILL_TYPE_WORDS[fac]})"
        return None, (f"type of bill {tob} is not a hospital outpatient or ASC bill; payerkb checks outpatient "
                      "facility (012x, 013x, 014x, 085x ...) and ASC (083x) bills")
    payer = kb.payers.get(payer_id) if payer_id else None
    if payer and (payer.get("jurisdiction") or "").upper().startswith("DME"):
        return "dme", f"professional claim to the DME MAC {payer_id}"
    return "professional", "professional claim (837P)" + (
        f", place of service {claim.facility_code}" if claim.facility_code else "")


def _narrative(claim: x12.Claim, line: x12.ServiceLine, rules) -> tuple[str | None, str | None]:
    fields = NARRATIVE_FIELDS[claim.kind]
    given = [(fields["description"], line.description),
             (fields["line_note"], " ".join(line.notes) if line.notes else None),
             (fields["claim_note"], " ".join(claim.notes) if claim.notes else None)]
    given = [(f, t) for f, t in given if f and t]
    if not given:
        return None, None
    read = {f for r in rules if r.topic == "narrative" for f in r.claim_field}
    for f, text in given:
        if f in read:
            return text[:2000], f
    return given[0][1][:2000], given[0][0]


def claim_line(claim: x12.Claim, line: x12.ServiceLine, payer_id: str, setting: str, rules) -> dict:
    """The ClaimLine fields (a dict for parse_claim) of one service line."""
    narrative, field = _narrative(claim, line, rules)
    attachments = line.attachments + claim.attachments
    out = {
        "payer_id": payer_id,
        "date_of_service": line.date or claim.date or (line.raw_date or ""),
        "setting": setting,
        "hcpcs": line.code,
        "units": line.units,
        "modifiers": line.modifiers,
        "ndc": line.ndc,
        "ndc_qualifier": line.ndc_qualifier,
        "ndc_unit": line.ndc_unit,
        "ndc_quantity": line.ndc_quantity,
        "narrative": narrative,
        "narrative_field": field,
        "billed_amount": line.charge,
        "invoice_attached": any(t != NOT_SENT for _, t in attachments),
        "prior_auth_number": line.prior_auth or claim.prior_auth,
    }
    return {k: v for k, v in out.items() if v not in (None, "", [])}


def _why_skip(line: x12.ServiceLine, kb, conn) -> str | None:
    """None when the line is checked in depth, else why it is not."""
    if line.qualifier and line.qualifier != "HC":
        return f"procedure qualifier {line.qualifier} is not HC (HCPCS/CPT)"
    if not line.code:
        return "no procedure code (revenue code only)" if line.revenue_code else "no procedure code"
    code = kb.codes.get(line.code)
    if code is not None and code["is_noc"]:
        return None
    if line.ndc and kb.has_crosswalk:
        try:
            parsed = ndclib.normalize(line.ndc)
        except ndclib.NdcError:
            parsed = None
        rows = kb.crosswalk(conn).get(parsed.ndc_11, []) if parsed else []
        listed = {r.hcpcs for r in rows}
        if listed and line.code not in listed and (code is not None or line.code in kb.crosswalk_codes(conn)):
            return None
    return f"{line.code} is not a NOC drug code" + (" and its NDC has no other code" if line.ndc else "")


class Run837:
    """One pass over an 837: `claims()` yields each claim's report as it is checked (a large file is
    never held as one report), then `report_head()` has the counts and the problems found."""

    format = "x12-837"

    def __init__(self, data: bytes | str, db, payer_id: str | None = None, reader: x12.Reader | None = None,
                 strict: bool = False):
        self.strict = strict  # see payerkb.check.check_claim
        self.conn = connect(db)
        self.kb = knowledge(self.conn)
        self.index = payer_index(self.conn)
        self.forced = None
        if payer_id:
            self.forced = payer_id.strip().lower()
            if self.forced not in self.kb.payers:
                raise ClaimInputError("payer_id", f"--payer: unknown payer {payer_id!r}")
        self.reader = reader or x12.read(data)
        self.errors = [e.as_json() for e in self.reader.errors]
        self.memo: dict = {}  # identical lines (same payer, code, date, NDC, narrative ...) are checked once
        self.counts = {"claims": 0, "lines": 0, "checked": 0, "reject_likely": 0, "skipped": 0, "not_checked": 0}

    def claims(self):
        for tx in self.reader.transactions:
            if tx.kind not in ("837P", "837I"):
                self.errors.append({"segment": tx.start, "error": f"transaction set {tx.control} is an {tx.kind}, "
                                                                   "not an 837: use `payerkb explain` for remittances"})
                continue
            for claim in x12.iter_claims_837(tx):
                yield _claim(claim, self.kb, self.conn, self.index, self.forced, self.counts, self.memo, self.strict)

    def report_head(self) -> dict:
        c = self.counts
        return {"format": self.format, "interchanges": self.reader.interchanges, "segments": self.reader.segments,
                "ok": not self.errors and c["reject_likely"] == 0 and c["not_checked"] == 0,
                "summary": c, "errors": self.errors}


def check_837(data: bytes | str, db, payer_id: str | None = None, reader: x12.Reader | None = None,
              strict: bool = False) -> dict:
    """The report for a whole 837 file: {"claims": [...], "errors": [...], "summary": {...}}."""
    run = Run837(data, db, payer_id, reader, strict)
    with gc_paused():
        claims = list(run.claims())
    return {**run.report_head(), "claims": claims}


_pause = {"depth": 0, "resume": False}
_pause_lock = threading.Lock()


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector while a whole report is built in memory.

    A report is many small dicts and lists with no cycles among them; as it grows, every full
    collection walks all of it again (about 40% of the time of check_837 on a 12,500-line file,
    benchmarks/bench_x12.py). Reference counting frees memory as usual meanwhile. Uses may nest or
    overlap across threads: the collector comes back when the last one ends, if it was on before.
    """
    with _pause_lock:
        if _pause["depth"] == 0:
            _pause["resume"] = gc.isenabled()
            gc.disable()
        _pause["depth"] += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pause["depth"] -= 1
            if _pause["depth"] == 0 and _pause["resume"]:
                gc.enable()


def _claim(claim: x12.Claim, kb, conn, index: PayerIndex, forced: str | None, counts: dict, memo: dict,
           strict: bool = False) -> dict:
    counts["claims"] += 1
    if forced:
        payer = {"name": claim.payer_name, "id": claim.payer_code, "payer_id": forced, "how": "--payer",
                 "candidates": []}
    else:
        payer = index.match(claim.payer_name, claim.payer_code, claim.billing_state)
    pid = payer["payer_id"]
    setting, setting_how = setting_of(claim, pid, kb)
    out = {"interchange": claim.interchange, "group": claim.group, "transaction_set": claim.transaction,
           "transaction": claim.kind, "claim_id": claim.claim_id, "segment": claim.segment, "payer": payer,
           "setting": setting, "setting_from": setting_how, "type_of_bill": claim.type_of_bill,
           "place_of_service": claim.facility_code if claim.kind == "837P" else None,
           "billed_amount": claim.charge, "ok": True, "lines": []}
    for line in claim.lines:
        counts["lines"] += 1
        entry = {"lx": line.lx, "segment": line.segment, "hcpcs": line.code or None, "revenue_code": line.revenue_code,
                 "units": line.units, "status": None}
        why = _why_skip(line, kb, conn)
        if why is not None:
            entry.update(status="skipped", reason=why)
            counts["skipped"] += 1
        elif pid is None:
            entry.update(status="not_checked", reason=f"payer: {payer['how']}")
            counts["not_checked"] += 1
            out["ok"] = False
        elif setting is None:
            entry.update(status="not_checked", reason=setting_how)
            counts["not_checked"] += 1
            out["ok"] = False
        else:
            fields = claim_line(claim, line, pid, setting,
                                rules_here(kb, conn, pid, line.code, setting, line.date or claim.date or ""))
            entry["line"] = fields
            try:
                parsed = parse_claim(fields)
                result = memo.get(parsed)
                if result is None:
                    result = check_line(parsed, kb, conn, strict)
                    if len(memo) < MEMO_SIZE:
                        memo[parsed] = result
            except ClaimInputError as exc:
                entry.update(status="not_checked", reason=exc.message, field=exc.field)
                counts["not_checked"] += 1
                out["ok"] = False
            else:
                entry.update(status="checked", result=result)
                counts["checked"] += 1
                if not result["ok"]:
                    counts["reject_likely"] += 1
                    out["ok"] = False
        out["lines"].append(entry)
    return out
