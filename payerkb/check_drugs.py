"""The claim check's drug rules: a NOC line whose drug (by its NDC, or by a name in drug_name or
the narrative) has a rule of the payer in effect on the date of service (drug_rules) gets a finding:
prior authorization needed, with the criteria id, the reviewer and the source.

A name that fits two drugs is reported as ambiguous, never guessed. A line the CMS crosswalk moved
to a specific code keeps that finding alone (its NOC-code drug rules no longer fit); a drug whose
own code (from its drug file) is in effect on the date of service gets the "use the specific code"
error from its drug file's source.
"""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field

MIN_NAME = 4  # shorter names and aliases are too likely to be something else in a narrative
# drug rule topic -> the check's topic (payerkb.check.TOPIC_ORDER) its finding is filed under
FINDING_TOPIC = {"prior_auth": "prior_auth", "step_therapy": "prior_auth", "quantity_limit": "prior_auth",
                 "billing_unit": "units", "rate": "pricing", "ndc_units": "ndc"}
TOPIC_WORDS = {"step_therapy": "step therapy", "quantity_limit": "a quantity limit"}
_lock = threading.Lock()


WORD = re.compile(r"[a-z0-9]+")


def normalize(text: str | None) -> str:
    return " ".join(WORD.findall((text or "").lower()))


@dataclass
class DrugRule:
    id: str
    payer_id: str
    drug_id: str
    topic: str
    setting: str
    requirement: str
    codes: frozenset
    effective_from: str
    effective_to: str | None
    criteria_id: str | None
    program: str | None
    reviewer: str | None
    billing_unit: str | None
    rate_usd: float | None
    ndc_units: float | None
    ndc_unit_qualifier: str | None
    summary: str | None
    status: str
    as_of: str | None
    source_url: str | None = None
    source_date: str | None = None

    def applies(self, code: str, setting: str, dos: str) -> bool:
        return (code in self.codes and self.setting in ("any", setting) and self.effective_from <= dos
                and (self.effective_to is None or dos <= self.effective_to))


@dataclass
class DrugIndex:
    drugs: dict[str, dict] = field(default_factory=dict)
    by_ndc: dict[str, str] = field(default_factory=dict)
    names: list[tuple[str, set[str]]] = field(default_factory=list)  # (normalised name, drug ids), longest first
    by_first_word: dict[str, list[tuple[int, list[str]]]] = field(default_factory=dict)  # -> (place in names, words)
    rules: dict[str, list[DrugRule]] = field(default_factory=dict)
    drug_sources: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    def names_in(self, text: str | None) -> list[set[str]]:
        """For each drug name found in the text (whole words, the longest name winning where names
        overlap: "Vyvgart Hytrulo" is not also "Vyvgart"), the drugs that carry that name."""
        words = normalize(text).split()
        hits = []  # (longest name first, then by name, then by place) as names are tried in that order
        for at, word in enumerate(words):
            for rank, parts in self.by_first_word.get(word, ()):
                if words[at:at + len(parts)] == parts:
                    hits.append((rank, at, len(parts)))
        hits.sort()
        taken: set[int] = set()
        found: list[set[str]] = []
        for rank, at, size in hits:
            span = range(at, at + size)
            if taken.isdisjoint(span):
                taken.update(span)
                found.append(self.names[rank][1])
        return found

    def index_words(self) -> None:
        """by_first_word from names (once they are all in)."""
        self.by_first_word = {}
        for rank, (name, _) in enumerate(self.names):
            parts = name.split()
            self.by_first_word.setdefault(parts[0], []).append((rank, parts))

    def find_by_name(self, *texts: str | None) -> tuple[str | None, set[str]]:
        """(the one drug the first text that names any drug points at, or None; every drug it
        names). "Adatwo (adalimumab)" is Adatwo even though another drug is adalimumab too; a text
        naming two drugs, or only a name two drugs share, points at none: never guessed."""
        for text in texts:
            found = self.names_in(text)
            if found:
                common = set.intersection(*found)
                return (next(iter(common)) if len(common) == 1 else None), set().union(*found)
        return None, set()


def _index(kb, conn) -> DrugIndex | None:
    """The drugs of the database behind kb, loaded once (None when it has no drug tables)."""
    found = getattr(kb, "_drug_index", False)
    if found is not False:
        return found
    with _lock:
        found = getattr(kb, "_drug_index", False)
        if found is not False:
            return found
        index = None
        if "drug_rules" in kb.tables:
            index = DrugIndex()
            names: dict[str, set[str]] = {}
            for row in _rows(conn, "select * from drugs"):
                index.drugs[row["id"]] = row
                for name in [row["brand_name"], row["generic_name"], *json.loads(row["aliases"] or "[]")]:
                    key = normalize(name)
                    if len(key) >= MIN_NAME:
                        names.setdefault(key, set()).add(row["id"])
            index.names = sorted(names.items(), key=lambda kv: (-len(kv[0]), kv[0]))
            index.index_words()
            index.by_ndc = {r["ndc11"]: r["drug_id"] for r in _rows(conn, "select drug_id, ndc11 from drug_ndcs")}
            for r in _rows(conn, """select ds.drug_id, s.url, s.doc_date from drug_sources ds
                                    join sources s on s.id = ds.source_id
                                    order by s.kind = 'official', s.doc_date"""):
                index.drug_sources[r["drug_id"]] = (r["url"], r["doc_date"])  # best last
        kb._drug_index = index
        return index


def _rows(conn, sql, params=()):
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def _payer_rules(index: DrugIndex, conn, payer_id: str) -> list[DrugRule]:
    rules = index.rules.get(payer_id)
    if rules is None:
        best: dict[str, tuple] = {}
        for r in _rows(conn, """select ds.drug_rule_id, s.url, s.doc_date from drug_rule_sources ds
                                join sources s on s.id = ds.source_id
                                where ds.drug_rule_id in (select id from drug_rules where payer_id = ?)
                                order by s.kind = 'official', s.doc_date""", [payer_id]):
            best[r["drug_rule_id"]] = (r["url"], r["doc_date"])  # official and newest last
        rules = []
        for row in _rows(conn, "select * from drug_rules where payer_id = ? and status != 'superseded'", [payer_id]):
            url, date = best.get(row["id"], (None, None))
            rules.append(DrugRule(
                **{k: row[k] for k in DrugRule.__dataclass_fields__ if k in row and k not in ("codes", "source_url", "source_date")},
                codes=frozenset(json.loads(row["codes"] or "[]")), source_url=url, source_date=date))
        index.rules[payer_id] = rules
    return rules


def _names(index: DrugIndex, ids) -> str:
    names = sorted(index.drugs[i]["brand_name"] for i in ids)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def check_drug_rules(ctx) -> None:
    """Findings from the payer's drug rules for the drug on this line (ctx is payerkb.check._Line)."""
    claim, kb = ctx.claim, ctx.kb
    if not ctx.is_noc or ctx.recoded:
        return  # drug rules name NOC codes; a recoded line keeps its "use the specific code" error
    index = _index(kb, ctx.conn)
    if index is None or not index.drugs:
        return
    drug_id, how = None, None
    if ctx.ndc is not None and ctx.ndc.ndc_11 in index.by_ndc:
        drug_id, how = index.by_ndc[ctx.ndc.ndc_11], f"NDC {ctx.ndc.ndc_542}"
    rules = _payer_rules(index, ctx.conn, ctx.payer["id"])
    if drug_id is None:
        drug_id, named = index.find_by_name(claim.drug_name, claim.narrative)
        if drug_id is None and named:
            if any(r.drug_id in named for r in rules):
                ctx.add("warning", "prior_auth",
                        f"The drug name on the line fits more than one drug payerkb knows ({_names(index, named)}), "
                        f"and {ctx.payer_name} has drug rules for at least one of them: payerkb cannot tell which "
                        "rule applies, so it does not guess.",
                        "Give the line's NDC, or the brand name, so the payer's drug rule can be checked.",
                        basis="drug_rules (ambiguous drug name)")
                ctx.findings[-1]["candidates"] = sorted(named)
            return
        if drug_id is None:
            return
        how = "its name"
    drug = index.drugs[drug_id]
    if _own_code(ctx, index, drug, how):
        return
    mine = [r for r in rules if r.drug_id == drug_id]
    here = [r for r in mine if r.applies(claim.hcpcs, claim.setting, ctx.dos)]
    for rule in here:
        _finding(ctx, index, drug, rule, how)
    if mine and not here:
        spans = "; ".join(f"from {r.effective_from}" + (f" to {r.effective_to}" if r.effective_to else "")
                          + f" on {', '.join(sorted(r.codes))}" for r in mine[:4])
        ctx.add("info", "prior_auth",
                f"{ctx.payer_name} has drug rules for {drug['brand_name']} (found by {how}), none for {claim.hcpcs} "
                f"on {claim.setting.replace('_', ' ')} claims on {ctx.dos}: they apply {spans}.",
                source_url=mine[0].source_url, as_of=mine[0].as_of, basis="drug_rules")
        _mark(ctx, mine[0], drug)


def _mark(ctx, rule: DrugRule, drug: dict) -> None:
    f = ctx.findings[-1]
    f.update(rule_id=rule.id, rule_table="drug_rules", rule_status=rule.status, drug_id=drug["id"],
             criteria_id=rule.criteria_id, reviewer=rule.reviewer, basis="drug_rules")


def _finding(ctx, index: DrugIndex, drug: dict, rule: DrugRule, how: str) -> None:
    claim = ctx.claim
    name = drug["brand_name"]
    when = f"for dates of service from {rule.effective_from}" + (f" to {rule.effective_to}" if rule.effective_to else "")
    criteria = f" under criteria {rule.criteria_id}" if rule.criteria_id else ""
    reviewer = f", reviewed by {rule.reviewer}" if rule.reviewer else ""
    note = "" if rule.status == "sourced" else " (sources disagree on this rule)" if rule.status == "conflicting" else f" ({rule.status})"
    topic = FINDING_TOPIC.get(rule.topic, "prior_auth")
    if rule.topic == "prior_auth":
        if claim.prior_auth_number:
            ctx.add("info", topic, f"{ctx.payer_name} requires prior authorization for {name} on {claim.hcpcs} {when}"
                                   f"{criteria}{reviewer}; a prior authorization number is given{note}.",
                    source_url=rule.source_url, as_of=rule.as_of, basis="drug_rules")
        else:
            severity = "error" if rule.requirement == "required" and rule.status == "sourced" else "warning"
            some = "" if rule.requirement == "required" else " in some cases"
            ctx.add(severity, topic,
                    f"{ctx.payer_name} requires prior authorization{some} for {name} (found by {how}) on "
                    f"{claim.hcpcs} {when}{criteria}{reviewer}; no prior authorization number given{note}.",
                    f"Get prior authorization before the date of service{criteria}{reviewer.replace(', reviewed', ' (reviewed')}"
                    + (")" if reviewer else "") + " and give its number.",
                    source_url=rule.source_url, as_of=rule.as_of, basis="drug_rules",
                    denials=ctx.kb.denials_by_topic.get("prior_auth", []))
        ctx.drug_prior_auth = True
    elif rule.topic in ("step_therapy", "quantity_limit"):
        ctx.add("warning" if rule.requirement == "required" else "info", topic,
                f"{ctx.payer_name} holds {name} on {claim.hcpcs} to {TOPIC_WORDS[rule.topic]} {when}{criteria}{note}"
                + (f": {rule.summary}" if rule.summary else "."),
                source_url=rule.source_url, as_of=rule.as_of, basis="drug_rules")
    else:
        parts = []
        if rule.billing_unit:
            parts.append(f"one unit of {claim.hcpcs} is {rule.billing_unit} of {name}")
        if rule.rate_usd is not None:
            parts.append(f"rate ${rule.rate_usd:,.2f} per billing unit")
        if rule.ndc_units is not None:
            parts.append(f"report {rule.ndc_units:g} NDC units" + (f" ({rule.ndc_unit_qualifier})" if rule.ndc_unit_qualifier else ""))
        text = "; ".join(parts) or (rule.summary or rule.topic.replace("_", " "))
        ctx.add("info", topic, f"{ctx.payer_name}, {name} on {claim.hcpcs} {when}: {text}{note}.",
                source_url=rule.source_url, as_of=rule.as_of, basis="drug_rules")
    _mark(ctx, rule, drug)


def _own_code(ctx, index: DrugIndex, drug: dict, how: str) -> bool:
    """The drug's own code from its drug file, in effect on the date of service: the line is on the
    wrong code (True: its NOC-code drug rules no longer fit)."""
    code, since = drug["hcpcs_code"], drug["hcpcs_code_from"]
    if not code or not since or since > ctx.dos or code == ctx.claim.hcpcs:
        return False
    url, date = index.drug_sources.get(drug["id"], (None, None))
    ctx.normalized["suggested_code"] = ctx.normalized.get("suggested_code") or code
    ctx.add("error", "coding",
            f"{drug['brand_name']} (found by {how}) has its own code {code} for dates of service from {since}, "
            f"so {ctx.claim.hcpcs} is the wrong code (a NOC code is only for a drug that has no code of its own).",
            f"Bill {code}.", source_url=url, as_of=date, basis=f"drugs {drug['id']}",
            denials=ctx.kb.denials_by_topic.get("coding", []))
    ctx.findings[-1]["drug_id"] = drug["id"]
    return True
