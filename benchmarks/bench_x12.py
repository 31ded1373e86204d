"""X12 throughput on one core: `measure(db_path)` for benchmarks/run.py.

An 837P is generated from the database itself: claims to up to 50 of its payers (NM1*PR carries
the payer's own name, so matching runs), five service lines a claim on its NOC codes with NDCs from
the CMS crosswalk (when loaded), descriptions, units and modifiers varied, plus one
administration line (a CPT code, listed as skipped) in every claim. Reported: reading alone
(segments to claims and lines), and reading plus checking every line (`check_837`: one connection
and one knowledge snapshot for the whole file). Target: >= 10,000 service lines a second read and
checked.
"""
from __future__ import annotations

import json
import random
import sqlite3
import time
from pathlib import Path

from payerkb import check_kb, x12
from payerkb.x12_check import check_837

TARGET = 10_000
DESCRIPTIONS = ("BRANDNAMUMAB 300 MG IV", "DRUGNAME 10 MG/ML", "GENERICZOLAM 40 MG", "",
                "INVENTAMAB 1200 MG IV INFUSION OVER NINETY MINUTES")


def make_837(db_path: Path, claims: int, lines_per_claim: int = 5, payers: int = 50, seed: int = 7) -> str:
    conn = sqlite3.connect(f"file:{db_path}?immutable=1", uri=True)
    try:
        rows = conn.execute("select id, name, states from payers order by id").fetchall()
        codes = [r[0] for r in conn.execute("select code from codes where is_noc = 1 and setting = 'any' order by code")]
        has_xwalk = conn.execute("select 1 from sqlite_master where name = 'ndc_hcpcs_crosswalk'").fetchone()
        ndcs = [r[0] for r in conn.execute("select ndc from ndc_hcpcs_crosswalk where ndc is not null limit 200")] \
            if has_xwalk else []
    finally:
        conn.close()
    rng = random.Random(seed)
    chosen = rng.sample(rows, min(payers, len(rows)))
    ndcs = ndcs + ["12345678901"] * 50
    seg = []
    add = seg.append
    add("BHT*0019*00*BENCH*20260115*1200*CH")
    add("NM1*41*2*BENCH SUBMITTER*****46*1")
    add("NM1*40*2*BENCH RECEIVER*****46*2")
    hl = 0
    for i in range(claims):
        pid, name, states = chosen[i % len(chosen)]
        state = (json.loads(states or "[]") or ["ZZ"])[0]
        hl += 1
        add(f"HL*{hl}**20*1")
        add("NM1*85*2*BENCH CLINIC*****XX*1999999984")
        add(f"N4*SPRINGFIELD*{state}*000000000")
        hl += 1
        add(f"HL*{hl}*{hl - 1}*22*0")
        add("SBR*P*18*******MB")
        add(f"NM1*IL*1*SAMPLE*PAT{i}****MI*ZZ{i}")
        add(f"NM1*PR*2*{name}*****PI*{i % 90000:05d}")
        add(f"CLM*BENCH-{i}*1000***11:B:1*Y*A*Y*Y")
        add("HI*ABK:C3490")
        for n in range(1, lines_per_claim + 1):
            add(f"LX*{n}")
            if n == lines_per_claim:
                add("SV1*HC:96413*200*UN*1***1")
                add("DTP*472*D8*20260115")
                continue
            mods = rng.choice([[], ["JZ"], ["JW"], ["JW", "JZ"]])
            desc = rng.choice(DESCRIPTIONS)
            comp = ["HC", rng.choice(codes)] + mods + ([""] * (4 - len(mods)) + [desc] if desc else [])
            add(f"SV1*{':'.join(comp)}*{rng.choice([80, 600, 7000])}*UN*{rng.choice([1, 1, 3])}***1")
            add(f"DTP*472*D8*{rng.choice(['20250610', '20260115'])}")
            if rng.random() < 0.7:
                add(f"LIN**N4*{rng.choice(ndcs)}")
                add(f"CTP****{rng.choice([1, 2.5])}*{rng.choice(['UN', 'ML', 'ME'])}")
    body = ["ST*837*0001*005010X222A1"] + seg
    body.append(f"SE*{len(body) + 1}*0001")
    isa = ("ISA*00*          *00*          *ZZ*BENCH          *ZZ*BENCH          *260115*1200*^*00501*"
           "000000001*0*T*:")
    return "~\n".join([isa, "GS*HC*S*R*20260115*1200*1*X*005010X222A1", *body, "GE*1*1", "IEA*1*000000001"]) + "~\n"


def measure(db_path: Path) -> list[tuple[str, str]]:
    db_path = Path(db_path)
    check_kb.clear_cache()
    text = make_837(db_path, claims=2500).encode("ascii")  # 12,500 service lines, 10,000 on NOC codes
    started = time.perf_counter()
    reader = x12.read(text)
    lines = sum(len(c.lines) for tx in reader.transactions for c in x12.claims_837(tx))
    read_rate = lines / (time.perf_counter() - started)
    assert not reader.errors, reader.errors[:3]
    check_837(text[: len(text) // 10], db_path)  # warm: reference tables, crosswalk, the payers' rules
    rates, report = [], None
    for _ in range(3):
        started = time.perf_counter()
        report = check_837(text, db_path)
        rates.append(report["summary"]["lines"] / (time.perf_counter() - started))
    best = max(rates)
    s = report["summary"]
    verdict = "meets" if best >= TARGET else "MISSES"
    return [
        (f"837P read only ({lines:,} service lines, {len(text) / 1e6:.1f} MB)", f"{read_rate:,.0f} lines/s"),
        (f"837P read and checked ({s['lines']:,} lines: {s['checked']:,} checked, {s['skipped']:,} skipped; "
         f"{len({c['payer']['payer_id'] for c in report['claims']})} payers)",
         f"**{best:,.0f} lines/s** ({verdict} >= {TARGET:,})"),
    ]


if __name__ == "__main__":  # pragma: no cover
    import sys

    for name, value in measure(Path(sys.argv[1] if len(sys.argv) > 1 else "db/payerkb.db")):
        print(f"{name}: {value}")
