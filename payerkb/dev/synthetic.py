"""Write a synthetic policies/ tree of N payers, for benchmarks and fault tests
(`python -m benchmarks.generate` is its command line).

The tree passes `payerkb validate`: reference/ is copied from the real policies/, so codes,
modifiers, denial codes and claim fields are the real vocabulary; payers, rule groups, sources
and rules are invented, with a mix like the real one (every topic, invoice thresholds, pricing
percentages, unconfirmed and conflicting rules, rules shared through groups). Nothing here is a
fact: every name says "Synthetic", and every URL is under the reserved `.invalid` domain.
"""
from __future__ import annotations

import random
import shutil
from pathlib import Path

import yaml

from db import schema

ROOT = Path(__file__).resolve().parents[2]
REAL_POLICIES = ROOT / "policies"

Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# payer types weighted roughly like the US market: many plans, fewer MACs and Medicaid programs
PAYER_TYPE_WEIGHTS = {
    "commercial": 30, "bcbs": 12, "medicare_advantage": 20, "medicaid_mco": 15,
    "medicaid_ffs": 5, "medicare_mac": 3, "tricare": 1, "other": 4,
}
GROUP_SETTING = "asc"  # group rules use a setting payers' own rules never use, so scopes never clash
OWN_SETTINGS = ("professional", "outpatient_facility", "any")
RETRIEVED = "2026-01-15"


def _date(rng: random.Random, first_year: int = 2015, last_year: int = 2026) -> str:
    return f"{rng.randint(first_year, last_year)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _vocab(reference: Path) -> dict:
    def load(name):
        return yaml.load((reference / name).read_text(encoding="utf-8-sig"), Loader=yaml.SafeLoader)

    codes = [c["code"] for c in load("codes.yml")["codes"] if c.get("is_noc", True)]
    return {
        "codes": codes,
        "modifiers": [m["code"] for m in load("modifiers.yml")["modifiers"]],
        "denial_codes": [d["code"] for d in load("denial_codes.yml")["denial_codes"]],
        "claim_fields": [c["id"] for c in load("claim_fields.yml")["claim_fields"]],
    }


def _source(rng: random.Random, owner: str, n: int) -> dict:
    src = {
        "id": f"{owner}-src-{n}",
        "url": f"https://{owner}.synthetic.invalid/policies/noc-drugs-{n}",
        "title": f"Synthetic NOC drug billing page {n} of {owner}",
        "publisher": f"Synthetic publisher {owner}",
    }
    if rng.random() < 0.2:
        src["undated"] = True
    else:
        src["doc_date"] = _date(rng)
    src["retrieved"] = RETRIEVED
    src["kind"] = "official" if rng.random() < 0.8 else "secondary"
    return src


def _details(rng: random.Random, topic: str, vocab: dict) -> dict:
    """Typed details a rule of this topic carries (the fields the real rules use)."""
    d: dict = {}
    if topic == "invoice":
        if rng.random() < 0.7:
            d["threshold_usd"] = rng.choice([50, 100, 150, 250, 500, 750, 1000, 1500, 2500, 5000])
        if rng.random() < 0.4:
            d["invoice_max_age_days"] = rng.choice([90, 180, 365])
    elif topic == "prior_auth":
        if rng.random() < 0.2:
            d["threshold_usd"] = rng.choice([500, 1000, 2500, 10000])
    elif topic == "pricing":
        basis = rng.choice(schema.PRICING_BASES)
        d["pricing_basis"] = basis
        if basis in ("asp", "wac", "awp", "billed_charges") and rng.random() < 0.8:
            d["percent"] = rng.choice([80, 85, 95, 100, 103, 104, 106, 110, 115, 120])
    elif topic == "ndc":
        d["claim_fields"] = rng.sample([f for f in vocab["claim_fields"] if "lin" in f or "24a" in f or "fl43" in f], 2)
        d["ndc_unit_qualifiers"] = rng.sample(schema.NDC_UNIT_QUALIFIERS, rng.randint(1, 4))
        d["ndc_format"] = rng.choice(schema.NDC_FORMATS)
    elif topic == "narrative":
        d["claim_fields"] = rng.sample([f for f in vocab["claim_fields"] if "nte" in f or "sv" in f or "item19" in f or "fl80" in f], 2)
        d["max_chars"] = rng.choice([80, 80, 80, 71, 255])
        d["narrative_elements"] = rng.sample(schema.NARRATIVE_ELEMENTS, rng.randint(2, 5))
        if rng.random() < 0.3:
            d["narrative_rejects"] = ["mg/mL"]
    elif topic == "units":
        d["unit_rule"] = rng.choice(schema.UNIT_RULES)
    elif topic == "modifiers":
        d["modifiers"] = rng.sample(vocab["modifiers"], rng.randint(1, 3))
    elif topic == "submission":
        d["submission_channel"] = rng.choice(schema.SUBMISSION_CHANNELS)
    if rng.random() < 0.25 and vocab["denial_codes"]:
        d["denial_codes"] = rng.sample(vocab["denial_codes"], 1)
    return d


def _rule(rng: random.Random, rule_id: str, topic: str, setting: str, codes, sources: list[str],
          vocab: dict, status: str = "sourced") -> dict:
    rule = {
        "id": rule_id,
        "topic": topic,
        "setting": setting,
        "codes": codes,
        "requirement": rng.choice(("required", "required", "conditional", "not_required")),
        "summary": f"Synthetic {topic.replace('_', ' ')} rule for benchmarks ({setting} setting); not a real payer requirement.",
    }
    rule.update(_details(rng, topic, vocab))
    if rng.random() < 0.3:
        rule["effective_from"] = _date(rng, 2018, 2025)
    if status == "unconfirmed" or not sources:
        rule["status"] = "unconfirmed"
    else:
        rule["status"] = status
        rule["sources"] = [{"ref": s, "locator": f"section {rng.randint(1, 9)}"} for s in sources]
    return rule


def _codes(rng: random.Random, vocab: dict):
    if rng.random() < 0.3:
        return "all"
    return sorted(rng.sample(vocab["codes"], rng.randint(1, min(6, len(vocab["codes"])))))


def make_group(rng: random.Random, n: int, vocab: dict) -> dict:
    gid = f"syn-group-{n:04d}"
    sources = [_source(rng, gid, i) for i in range(1, 3)]
    rules = [
        _rule(rng, f"grp-{topic.replace('_', '-')}", topic, GROUP_SETTING, _codes(rng, vocab),
              [rng.choice(sources)["id"]], vocab)
        for topic in rng.sample(schema.TOPICS, rng.randint(2, 4))
    ]
    return {"id": gid, "name": f"Synthetic rule group {n}", "sources": sources, "rules": rules}


def make_payer(rng: random.Random, n: int, vocab: dict, groups: list[str]) -> dict:
    payer_type = rng.choices(list(PAYER_TYPE_WEIGHTS), weights=list(PAYER_TYPE_WEIGHTS.values()))[0]
    pid = f"syn-{payer_type.replace('_', '-')}-{n:05d}"
    payer: dict = {
        "id": pid,
        "name": f"Synthetic {payer_type.replace('_', ' ')} plan {n}",
        "parent_org": f"Synthetic parent {n % 97}",
        "payer_type": payer_type,
        "states": sorted(rng.sample(schema.US_STATES, rng.randint(1, 3))),
        "website": f"https://{pid}.synthetic.invalid/",
        "aliases": [f"Synth {n}"],
    }
    if payer_type == "medicare_mac":
        payer["jurisdiction"] = rng.choice(["J5", "J6", "J8", "J15", "JE", "JF", "JH", "JJ", "JK", "JL", "JM", "JN"])
    if groups and rng.random() < 0.5:
        payer["includes"] = sorted(rng.sample(groups, rng.randint(1, min(2, len(groups)))))
    sources = [_source(rng, pid, i) for i in range(1, rng.randint(2, 4))]
    payer["sources"] = sources
    source_ids = [s["id"] for s in sources]

    rules = []
    for topic in rng.sample(schema.TOPICS, rng.randint(5, len(schema.TOPICS))):
        setting = rng.choice(OWN_SETTINGS)
        codes = _codes(rng, vocab)
        key = topic.replace("_", "-")
        roll = rng.random()
        if roll < 0.1:
            rules.append(_rule(rng, key, topic, setting, codes, [], vocab, "unconfirmed"))
        elif roll < 0.15 and len(source_ids) > 1:
            # two sources disagree: both sides kept, each with its own source
            for side, src in enumerate(source_ids[:2], 1):
                rules.append(_rule(rng, f"{key}-side-{side}", topic, setting, codes, [src], vocab, "conflicting"))
        elif roll < 0.2:
            old = _rule(rng, f"{key}-old", topic, setting, codes, [source_ids[0]], vocab, "superseded")
            old.pop("effective_from", None)
            old["effective_to"] = "2019-12-31"
            new = _rule(rng, key, topic, setting, codes, [source_ids[-1]], vocab)
            new["effective_from"] = "2020-01-01"
            rules += [old, new]
        else:
            rules.append(_rule(rng, key, topic, setting, codes, rng.sample(source_ids, 1), vocab))
    payer["rules"] = rules
    return payer


def _dump(data: dict, path: Path) -> None:
    path.write_text(yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=120),
                    encoding="utf-8")


def generate(payers: int, out: Path, seed: int = 0, real: Path = REAL_POLICIES) -> Path:
    """Write a synthetic tree of `payers` payers to `out` (replaced if it exists); return `out`."""
    if payers < 1:
        raise ValueError("--payers must be at least 1")
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copytree(real / "reference", out / "reference")
    (out / "groups").mkdir()
    (out / "payers").mkdir()
    rng = random.Random(seed)
    vocab = _vocab(out / "reference")
    group_ids = []
    for n in range(1, max(1, payers // 50) + 1):
        group = make_group(rng, n, vocab)
        _dump(group, out / "groups" / f"{group['id']}.yml")
        group_ids.append(group["id"])
    for n in range(1, payers + 1):
        payer = make_payer(rng, n, vocab, group_ids)
        _dump(payer, out / "payers" / f"{payer['id']}.yml")
    return out
