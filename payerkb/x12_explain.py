"""Explain an 835 remittance: why each NOC drug line was denied or reduced, and what to fix.

`explain_835(data, db, payer_id=None)` reads the claim and service payments (payerkb.x12), finds
the payer (N1*PR) in the knowledge base, and for every NOC-code line that was denied or reduced
explains each adjustment (CAS group and reason) and remark (LQ, MOA/MIA): the code in words (the
`denial_codes` table, policies/reference/denial_codes.yml), the payer's rule most likely behind it
(a rule of that payer for the line's code, setting and date whose `denial_codes` include the code,
else one whose topic is among the code's `topics`), the fix, and the rule's source. The summary
counts denials by cause across the file.
"""
from __future__ import annotations

import json

import payerkb.x12 as x12
from payerkb.check_kb import connect, knowledge
from payerkb.claim import ClaimInputError
from payerkb.x12_check import BILL_TYPES, payer_index

GROUPS = {"CO": "contractual obligation (the provider may not bill the patient)",
          "PR": "patient responsibility", "OA": "other adjustment", "PI": "payer-initiated reduction",
          "CR": "correction or reversal"}
# adjustments that are part of ordinary payment, not a problem with the line (our words)
ROUTINE = {"1": "deductible", "2": "coinsurance", "3": "copayment",
           "45": "the charge is above the payer's allowed amount or fee schedule",
           "253": "the federal sequestration reduction", "59": "multiple-procedure or concurrent-care rules",
           "94": "processed in excess of charges"}
CLAIM_STATUS = {"1": "processed as primary", "2": "processed as secondary", "3": "processed as tertiary",
                "4": "denied", "19": "processed as primary, forwarded", "20": "processed as secondary, forwarded",
                "21": "processed as tertiary, forwarded", "22": "reversal of a previous payment",
                "23": "not our claim, forwarded"}
TOPIC_ORDER = ("coding", "ndc", "narrative", "units", "modifiers", "invoice", "prior_auth", "documentation",
               "submission", "pricing")


class DenialTable:
    def __init__(self, conn):
        self.rows: dict[str, dict] = {}
        for code, kind, meaning, prevention, topics, status in conn.execute(
                "select code, kind, meaning, prevention, topics, status from denial_codes"):
            self.rows[code] = {"code": code, "kind": kind, "meaning": meaning, "prevention": prevention,
                               "topics": json.loads(topics or "[]"), "status": status}

    def find(self, group: str | None, code: str) -> dict | None:
        keys = ([f"{group}-{code}"] if group else []) + [code]
        for key in keys:
            if key in self.rows:
                return self.rows[key]
        if group:
            for key, row in self.rows.items():
                if key.split("-", 1)[-1] == code and "-" in key and key.split("-")[0] in GROUPS:
                    return row
        return None


_tables: dict[int, tuple[object, DenialTable]] = {}


def denial_table(conn) -> DenialTable:
    kb = knowledge(conn)
    hit = _tables.get(id(conn))
    if hit is None or hit[0] is not kb:
        hit = _tables[id(conn)] = (kb, DenialTable(conn))
    return hit[1]


def fix_for(rule, kb) -> str:
    """What to do on the next claim, from the rule's structured columns."""
    topic = rule.topic
    fields = " or ".join(kb.claim_fields.get(f, f) for f in rule.claim_field) or "the narrative field the payer reads"
    if topic == "narrative":
        what = ", ".join(e.replace("_", " ") for e in rule.narrative_elements) or "drug name, dose and route"
        return (f"Write the {what} in {fields}" + (f", within {rule.max_chars} characters" if rule.max_chars else "")
                + ", and send a corrected claim.")
    if topic == "ndc":
        units = f" (unit qualifiers it takes: {', '.join(rule.ndc_unit_qualifiers)})" if rule.ndc_unit_qualifiers else ""
        return ("Send the 11-digit NDC of the package used with the N4 qualifier in 2410 LIN, and its unit and "
                f"quantity in CTP{units}.")
    if topic == "units":
        if rule.unit_rule == "one_unit":
            return "Bill the NOC line as 1 unit and give the total dose in the narrative."
        return f"Bill units as the payer's rule says: {rule.summary}"
    if topic == "modifiers":
        mods = " or ".join(rule.modifiers)
        return f"Add {mods} as the payer's rule says: {rule.summary}" if mods else rule.summary
    if topic == "invoice":
        above = f" (required above ${rule.threshold_usd:,.2f} billed)" if rule.threshold_usd is not None else ""
        return f"Attach the purchase invoice{above} (PWK on the claim, paperwork under the same control number)."
    if topic == "prior_auth":
        return ("Get prior authorization before the date of service and give its number (REF*G1); a retro "
                f"request or an appeal is the only way back for this line. {rule.summary}")
    if topic == "coding":
        return f"Bill the code the payer's rule calls for: {rule.summary}"
    return f"Follow the payer's rule: {rule.summary}"


def _rank(rule, code_key: str, topics: list[str], setting: str):
    named = code_key in rule.denial_codes
    return (0 if named else 1,
            topics.index(rule.topic) if rule.topic in topics else 99,
            0 if rule.requirement == "required" else 1,
            0 if rule.certain else 1,
            0 if rule.setting == setting else 1,
            rule.id)


def likely_rules(rules, entry: dict | None, key: str, code: str, setting: str, dos: str | None) -> list:
    topics = entry["topics"] if entry else []
    keys = {key, entry["code"]} if entry else {key}
    hits = []
    for r in rules:
        if r.origin == "gap" or r.requirement not in ("required", "conditional"):
            continue
        if not (code in r.codes and r.setting in ("any", setting)):
            continue
        if dos and not ((r.effective_from is None or r.effective_from <= dos) and (r.effective_to is None or dos <= r.effective_to)):
            continue
        if keys & set(r.denial_codes) or r.topic in topics:
            hits.append(r)
    hits.sort(key=lambda r: _rank(r, entry["code"] if entry else key, topics, setting))
    return hits


def _rule_json(rule, why: str, kb) -> dict:
    return {"rule_id": rule.id, "topic": rule.topic, "requirement": rule.requirement, "status": rule.status,
            "summary": rule.summary, "fix": fix_for(rule, kb), "source_url": rule.source_url, "as_of": rule.as_of,
            "why": why}


class Run835:
    """One pass over an 835: `claims()` yields each claim's explanation as it is read, then
    `report_head()` has the counts, the summary by cause and the problems found."""

    format = "x12-835"

    def __init__(self, data: bytes | str, db, payer_id: str | None = None, reader: x12.Reader | None = None):
        self.conn = connect(db)
        self.kb = knowledge(self.conn)
        self.index, self.table = payer_index(self.conn), denial_table(self.conn)
        self.forced = payer_id.strip().lower() if payer_id else None
        if self.forced and self.forced not in self.kb.payers:
            raise ClaimInputError("payer_id", f"--payer: unknown payer {payer_id!r}")
        self.reader = reader or x12.read(data)
        self.errors = [e.as_json() for e in self.reader.errors]
        self.causes: dict = {}
        self.rules_seen: dict = {}
        self.counts = {"claims": 0, "lines": 0, "noc_lines": 0, "denied": 0, "reduced": 0, "paid": 0, "skipped": 0}

    def claims(self):
        for tx in self.reader.transactions:
            if tx.kind != "835":
                self.errors.append({"segment": tx.start, "error": f"transaction set {tx.control} is an {tx.kind}, "
                                                                   "not an 835: use `payerkb check` for claims"})
                continue
            for cp in x12.iter_payments_835(tx):
                yield _claim(cp, self.kb, self.conn, self.index, self.table, self.forced, self.counts, self.causes,
                             self.rules_seen)

    def report_head(self) -> dict:
        by_cause = sorted(self.causes.values(), key=lambda c: (-c["lines"], c["code"]))
        by_rule = sorted(self.rules_seen.values(), key=lambda r: (-r["lines"], r["rule_id"]))
        return {"format": self.format, "interchanges": self.reader.interchanges, "segments": self.reader.segments,
                "ok": not self.errors, "summary": {**self.counts, "by_cause": by_cause, "by_rule": by_rule},
                "errors": self.errors}


def explain_835(data: bytes | str, db, payer_id: str | None = None, reader: x12.Reader | None = None) -> dict:
    """The explanation of a whole 835: {"claims": [...], "errors": [...], "summary": {...}}."""
    run = Run835(data, db, payer_id, reader)
    claims = list(run.claims())
    return {**run.report_head(), "claims": claims}


def _setting(cp: x12.ClaimPayment, payer_id: str | None, kb) -> str:
    if any(s.revenue_code for s in cp.services):
        return BILL_TYPES.get((cp.facility_code or "")[:2], "outpatient_facility")
    payer = kb.payers.get(payer_id) if payer_id else None
    if payer and (payer.get("jurisdiction") or "").upper().startswith("DME"):
        return "dme"
    return "professional"


def _claim(cp, kb, conn, index, table, forced, counts, causes, rules_seen) -> dict:
    counts["claims"] += 1
    payer = ({"name": cp.payer_name, "id": cp.payer_code, "payer_id": forced, "how": "--payer", "candidates": []}
             if forced else index.match(cp.payer_name, cp.payer_code, cp.payee_state, whose="the payee's"))
    pid = payer["payer_id"]
    setting = _setting(cp, pid, kb)
    rules = kb.rules_for(pid, conn) if pid else []
    out = {"interchange": cp.interchange, "group": cp.group, "transaction_set": cp.transaction, "claim_id": cp.claim_id,
           "segment": cp.segment, "status": cp.status, "status_words": CLAIM_STATUS.get(cp.status),
           "charge": cp.charge, "paid": cp.paid, "payer_claim_number": cp.payer_claim_number, "payer": payer,
           "setting": setting, "lines": []}
    claim_adjustments = [_explain(a.group, a.reason, a.amount, a.segment, table) for a in cp.adjustments]
    claim_remarks = [_explain(None, code, None, seg, table) for code, seg in cp.remarks]
    out["adjustments"] = claim_adjustments
    out["remarks"] = claim_remarks
    for n, svc in enumerate(cp.services, 1):
        counts["lines"] += 1
        code = svc.original_code or svc.code
        info = kb.codes.get(code) or kb.codes.get(svc.code)
        entry = {"line": n, "segment": svc.segment, "hcpcs": svc.code or None, "original_hcpcs": svc.original_code,
                 "modifiers": svc.modifiers, "revenue_code": svc.revenue_code, "units": svc.units, "charge": svc.charge,
                 "paid": svc.paid, "date_of_service": svc.date or cp.date, "control_number": svc.control_number}
        if not info or not info["is_noc"]:
            entry.update(status="skipped", reason=f"{code or 'no code'} is not a NOC drug code")
            counts["skipped"] += 1
            out["lines"].append(entry)
            continue
        counts["noc_lines"] += 1
        adjustments = [_explain(a.group, a.reason, a.amount, a.segment, table) for a in svc.adjustments]
        remarks = [_explain(None, c, None, seg, table) for c, seg in svc.remarks]
        problems = [a for a in adjustments if not a["routine"]]
        denied = (svc.paid or 0) == 0 and (svc.charge or 0) > 0 or cp.status == "4"
        reduced = not denied and bool(problems)
        if not denied and not reduced:
            entry.update(status="paid", adjustments=adjustments, remarks=remarks)
            counts["paid"] += 1
            out["lines"].append(entry)
            continue
        status = "denied" if denied else "reduced"
        counts[status] += 1
        # a denied line with no line-level reason takes the claim's
        from_claim = not (problems or remarks)
        if from_claim:
            adjustments = [dict(a, level="claim") for a in claim_adjustments]
            remarks = [dict(r, level="claim") for r in claim_remarks]
        explained = adjustments + remarks
        remark_topics = list(dict.fromkeys(t for r in remarks for t in r["topics"]))
        dos = svc.date or cp.date
        for item in explained:
            if item["routine"]:
                continue
            entry_row = table.find(item.get("group"), item["reason"])
            if entry_row and item["kind"] == "CARC" and remark_topics:
                # a reason code is read through the remark codes that come with it (CO-16 + M119: the NDC)
                ordered = [t for t in remark_topics if t in entry_row["topics"]] or remark_topics
                entry_row = dict(entry_row, topics=list(dict.fromkeys(ordered + entry_row["topics"])))
            found = likely_rules(rules, entry_row, item["code"], code, setting, dos)
            if found:
                best = found[0]
                why = (f"its denial codes name {item['code']}" if item["code"] in best.denial_codes
                       or (item["entry_code"] and item["entry_code"] in best.denial_codes)
                       else f"it is a {best.topic.replace('_', ' ')} rule, a topic {item['code']} is about")
                item["rule"] = _rule_json(best, why, kb)
                item["other_rules"] = [r.id for r in found[1:4]]
                seen = rules_seen.setdefault(best.id, {"rule_id": best.id, "topic": best.topic, "lines": 0,
                                                        "source_url": best.source_url})
                seen["lines"] += 1
            else:
                item["rule"] = None
                item["note"] = _no_rule_note(pid, payer, item, code, setting, rules, kb)
            cause = causes.setdefault(item["code"], {"code": item["code"], "meaning": item["meaning"], "lines": 0,
                                                      "amount": 0.0, "rules": []})
            cause["lines"] += 1
            cause["amount"] = round(cause["amount"] + (item["amount"] or 0), 2)
            if item.get("rule") and item["rule"]["rule_id"] not in cause["rules"]:
                cause["rules"].append(item["rule"]["rule_id"])
        entry.update(status=status, adjustments=adjustments, remarks=remarks, explained_by_claim_level=from_claim)
        out["lines"].append(entry)
    return out


def _no_rule_note(pid, payer, item, code, setting, rules, kb) -> str:
    if pid is None:
        return f"payer not matched ({payer['how']}), so no payer rule can be named"
    if item["meaning"] is None:
        return f"{item['code']} is not in payerkb's denial code list, so no rule is linked to it"
    topics = item["topics"]
    gaps = [r for r in rules if r.origin == "gap" and r.topic in topics]
    if gaps:
        return (f"payerkb has no public source for {kb.payers[pid]['name']}'s "
                + " or ".join(sorted({g.topic.replace('_', ' ') for g in gaps})) + " rules")
    return (f"no rule of {kb.payers[pid]['name']} for {code} on {setting.replace('_', ' ')} claims names "
            f"{item['code']} or its topics ({', '.join(topics) or 'none'})")


def _explain(group: str | None, reason: str, amount, segment: int, table: DenialTable) -> dict:
    code = f"{group}-{reason}" if group else reason
    entry = table.find(group, reason)
    routine = bool(group) and reason in ROUTINE
    out = {"code": code, "group": group, "reason": reason, "kind": "CARC" if group else "RARC",
           "amount": amount, "segment": segment, "routine": routine,
           "group_words": GROUPS.get(group) if group else None,
           "meaning": entry["meaning"] if entry else (ROUTINE[reason] if routine else None),
           "prevention": entry["prevention"] if entry else None,
           "topics": entry["topics"] if entry else [], "entry_code": entry["code"] if entry else None}
    return out
