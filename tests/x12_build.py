"""Build X12 837P, 837I and 835 files for tests, fixtures and the benchmark.

The layouts follow the implementation guides' published examples (005010X222A1, 005010X223A2,
005010X221A1); every patient, provider, id and amount is invented. `python tests/x12_build.py`
rewrites tests/fixtures/x12/ from the definitions at the bottom.
"""
from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "x12"


class Seps:
    def __init__(self, element="*", component=":", repetition="^", segment="~", newline="\n"):
        self.e, self.c, self.r, self.s, self.nl = element, component, repetition, segment, newline


def isa(control: str, seps: Seps, date="260115", time="1200") -> str:
    e = seps.e
    return e.join(["ISA", "00", " " * 10, "00", " " * 10, "ZZ", "SUBMITTER01".ljust(15), "ZZ", "RECEIVER01".ljust(15),
                   date, time, seps.r, "00501", control.rjust(9, "0"), "0", "T", seps.c])


def envelope(sets: list[list[list[str]]], control="1", seps: Seps | None = None, kind="HC",
             version="005010X222A1", st_id="837", se_count_fix: int = 0) -> str:
    """An interchange with one functional group holding `sets` (each a list of segments, each a
    list of elements without the ST/SE, which are added with the right counts)."""
    seps = seps or Seps()
    segs = [isa(control, seps)]
    segs.append(seps.e.join(["GS", kind, "SENDER", "RECEIVER", "20260115", "1200", control, "X", version]))
    for n, body in enumerate(sets, 1):
        st = f"{n:04d}"
        segs.append(seps.e.join([st_id, st, version]).join(["ST" + seps.e, ""]))
        for el in body:
            segs.append(seps.e.join(el))
        segs.append(seps.e.join(["SE", str(len(body) + 2 + se_count_fix), st]))
    segs.append(seps.e.join(["GE", str(len(sets)), control]))
    segs.append(seps.e.join(["IEA", "1", control.rjust(9, "0")]))
    return (seps.s + seps.nl).join(segs) + seps.s + seps.nl


def c(seps: Seps | None, *parts) -> str:
    """A composite element."""
    return (seps or Seps()).c.join(parts).rstrip((seps or Seps()).c)


def header_837(billing_state="GA", payer=("PALMETTO GBA", "10211"), institutional=False) -> list[list[str]]:
    return [
        ["BHT", "0019", "00", "BATCH0001", "20260115", "1200", "CH"],
        ["NM1", "41", "2", "INVENTED BILLING SERVICE", "", "", "", "", "46", "TGJ23"],
        ["PER", "IC", "ALEX EXAMPLE", "TE", "5555550100"],
        ["NM1", "40", "2", "EXAMPLE CLEARINGHOUSE", "", "", "", "", "46", "66783JJT"],
        ["HL", "1", "", "20", "1"],
        ["NM1", "85", "2", "INVENTED ONCOLOGY CLINIC" if not institutional else "INVENTED COMMUNITY HOSPITAL",
         "", "", "", "", "XX", "1999999984"],
        ["N3", "100 EXAMPLE AVENUE"],
        ["N4", "SPRINGFIELD", billing_state, "300010000"],
        ["REF", "EI", "999999999"],
    ] + subscriber(payer)


def subscriber(payer=("PALMETTO GBA", "10211"), hl="2", member="9ZZ9ZZ9ZZ99", last="SAMPLE", first="PAT") -> list[list[str]]:
    return [
        ["HL", hl, "1", "22", "0"],
        ["SBR", "P", "18", "", "", "", "", "", "", "MB"],
        ["NM1", "IL", "1", last, first, "", "", "", "MI", member],
        ["N3", "1 INVENTED LANE"],
        ["N4", "SPRINGFIELD", "GA", "300010000"],
        ["DMG", "D8", "19500101", "F"],
        ["NM1", "PR", "2", payer[0], "", "", "", "", "PI", payer[1]],
    ]


def claim_837p(claim_id: str, lines: list[dict], pos="11", prior_auth=None, notes=None, pwk=None,
               seps: Seps | None = None) -> list[list[str]]:
    total = sum(l.get("charge", 100) for l in lines)
    out = [["CLM", claim_id, f"{total:g}", "", "", c(seps, pos, "B", "1"), "Y", "A", "Y", "Y"],
           ["HI", c(seps, "ABK", "C3490")]]
    if prior_auth:
        out.append(["REF", "G1", prior_auth])
    if pwk:
        out.append(["PWK", pwk[0], pwk[1], "", "", "AC", "INV0001"])
    if notes:
        out.append(["NTE", "ADD", notes])
    out.append(["NM1", "82", "1", "EXAMPLE", "DREW", "", "", "", "XX", "1999999976"])
    for n, line in enumerate(lines, 1):
        out.append(["LX", str(n)])
        proc = c(seps, "HC", line["code"], *(line.get("modifiers", []) + [""] * (4 - len(line.get("modifiers", [])))),
                 line.get("description", ""))
        out.append(["SV1", proc, f"{line.get('charge', 100):g}", "UN", f"{line.get('units', 1):g}", "", "", "1"])
        out.append(["DTP", "472", "D8", line.get("date", "20260115")])
        if line.get("prior_auth"):
            out.append(["REF", "G1", line["prior_auth"]])
        if line.get("note"):
            out.append(["NTE", "ADD", line["note"]])
        if line.get("ndc"):
            out.append(["LIN", "", "N4", line["ndc"]])
            out.append(["CTP", "", "", "", f"{line.get('ndc_quantity', 1):g}", line.get("ndc_unit", "UN")])
    return out


def claim_837i(claim_id: str, lines: list[dict], tob="13", freq="1", prior_auth=None, pwk=None,
               seps: Seps | None = None) -> list[list[str]]:
    total = sum(l.get("charge", 100) for l in lines)
    out = [["CLM", claim_id, f"{total:g}", "", "", c(seps, tob, "A", freq), "", "A", "Y", "Y"],
           ["DTP", "434", "RD8", "20260115-20260115"],
           ["CL1", "1", "1", "01"]]
    if prior_auth:
        out.append(["REF", "G1", prior_auth])
    if pwk:
        out.append(["PWK", pwk[0], pwk[1], "", "", "AC", "INV0002"])
    out += [["HI", c(seps, "ABK", "C3490")], ["NM1", "71", "1", "EXAMPLE", "DREW", "", "", "", "XX", "1999999976"]]
    for n, line in enumerate(lines, 1):
        out.append(["LX", str(n)])
        if line.get("code"):
            proc = c(seps, "HC", line["code"], *(line.get("modifiers", []) + [""] * (4 - len(line.get("modifiers", [])))),
                     line.get("description", ""))
        else:
            proc = ""
        out.append(["SV2", line.get("revenue", "0636"), proc, f"{line.get('charge', 100):g}", "UN",
                    f"{line.get('units', 1):g}"])
        out.append(["DTP", "472", "D8", line.get("date", "20260115")])
        if line.get("ndc"):
            out.append(["LIN", "", "N4", line["ndc"]])
            out.append(["CTP", "", "", "", f"{line.get('ndc_quantity', 1):g}", line.get("ndc_unit", "UN")])
    return out


def remit_835(payer=("PALMETTO GBA", "10211"), payee_state="GA", claims: list[dict] = (),
              seps: Seps | None = None) -> list[list[str]]:
    paid = sum(s.get("paid", 0) for cl in claims for s in cl["services"])
    out = [["BPR", "I", f"{paid:.2f}", "C", "ACH", "CCP", "01", "999999992", "DA", "123456", "1512345678", "",
            "01", "999988880", "DA", "98765", "20260201"],
           ["TRN", "1", "12345", "1512345678"],
           ["DTM", "405", "20260130"],
           ["N1", "PR", payer[0], "XV", payer[1]],
           ["N3", "1 INVENTED PLAZA"], ["N4", "CAPITAL CITY", "SC", "292000000"],
           ["PER", "BL", "", "TE", "5555550199"],
           ["N1", "PE", "INVENTED ONCOLOGY CLINIC", "XX", "1999999984"],
           ["N3", "100 EXAMPLE AVENUE"], ["N4", "SPRINGFIELD", payee_state, "300010000"],
           ["LX", "1"]]
    for cl in claims:
        charge = sum(s["charge"] for s in cl["services"])
        cpaid = sum(s.get("paid", 0) for s in cl["services"])
        out.append(["CLP", cl["id"], cl.get("status", "1"), f"{charge:g}", f"{cpaid:g}", "0", "MB",
                    cl.get("icn", "2226015000001"), cl.get("facility", "11"), "1"])
        for grp, reason, amt in cl.get("cas", []):
            out.append(["CAS", grp, reason, f"{amt:g}"])
        out.append(["NM1", "QC", "1", "SAMPLE", "PAT", "", "", "", "HN", "9ZZ9ZZ9ZZ99"])
        if cl.get("moa"):
            out.append(["MOA", "", "", *cl["moa"]])
        out.append(["DTM", "232", "20260115"])
        for s in cl["services"]:
            proc = c(seps, "HC", s["code"], *s.get("modifiers", []))
            out.append(["SVC", proc, f"{s['charge']:g}", f"{s.get('paid', 0):g}", s.get("revenue", ""),
                        f"{s.get('units', 1):g}"])
            out.append(["DTM", "472", "20260115"])
            for grp, reason, amt in s.get("cas", []):
                out.append(["CAS", grp, reason, f"{amt:g}"])
            out.append(["REF", "6R", s.get("control", "LINE1")])
            if s.get("allowed") is not None:
                out.append(["AMT", "B6", f"{s['allowed']:g}"])
            for remark in s.get("remarks", []):
                out.append(["LQ", "HE", remark])
    return out


# --- the fixtures -------------------------------------------------------------------------------

AVASTIN_NDC = "50242006001"  # CMS crosswalk 2026Q1: J9035 (bevacizumab), 10 mg per unit
INVENTED_NDC = "12345678901"  # not in the crosswalk

PROFESSIONAL_CLAIMS = [
    ("PAT1-0001", [
        {"code": "J3590", "modifiers": ["JZ"], "description": "BRANDNAMUMAB 300 MG IV NDC 12345678901",
         "units": 1, "charge": 500, "ndc": INVENTED_NDC, "ndc_unit": "ML", "ndc_quantity": 3},
        {"code": "96413", "charge": 200},
        {"code": "J3590", "modifiers": ["JZ"], "description": "AVASTIN 400 MG IV", "units": 1, "charge": 2400,
         "ndc": AVASTIN_NDC, "ndc_unit": "ML", "ndc_quantity": 16},
    ]),
    ("PAT2-0001", [
        {"code": "J3490", "units": 3, "charge": 900},  # three units, no description, no NDC
    ]),
    ("PAT3-0001", [
        {"code": "J9999", "modifiers": ["JZ"], "description": "INVENTAMAB 200 MG IV", "units": 1, "charge": 7000,
         "ndc": INVENTED_NDC, "ndc_unit": "ML", "ndc_quantity": 10, "prior_auth": "PA20260001"},
    ]),
]


def professional() -> str:
    body = header_837()
    for claim_id, lines in PROFESSIONAL_CLAIMS:
        body += claim_837p(claim_id, lines)
    first = envelope([body], control="101")
    # a second interchange with other separators: to WPS, billing provider in Missouri
    seps = Seps(element="|", component=">", repetition="^", segment="~", newline="\r\n")
    body2 = header_837(billing_state="MO", payer=("WPS", "05302"))
    body2 += claim_837p("PAT4-0001", [{"code": "J3590", "units": 3, "charge": 450,
                                        "description": "BRANDNAMUMAB 300 MG IV"}], seps=seps)
    second = envelope([body2], control="102", seps=seps)
    return first + second


def institutional() -> str:
    body = header_837(institutional=True)
    body += claim_837i("HOSP1-0001", [
        {"code": "C9399", "modifiers": ["JZ"], "description": "BRANDNAMUMAB 300 MG IV", "units": 1, "charge": 3000,
         "ndc": INVENTED_NDC, "ndc_unit": "ML", "ndc_quantity": 3},
        {"code": "J3590", "description": "INVENTAMAB 100 MG IV", "units": 1, "charge": 1200,
         "ndc": INVENTED_NDC, "ndc_unit": "ML", "ndc_quantity": 1},
        {"revenue": "0450", "charge": 800},
    ], tob="13")
    body += claim_837i("ASC1-0001", [
        {"code": "C9399", "modifiers": ["JZ"], "units": 2, "charge": 1500},  # no description, two units
    ], tob="83")
    body += subscriber(payer=("ACME HEALTH PLAN OF NOWHERE", "99999"), hl="3", member="ZZ123", last="OTHER")
    body += claim_837i("HOSP2-0001", [{"code": "J9999", "description": "INVENTAMAB 50 MG IV", "units": 1,
                                        "charge": 600}], tob="13")
    return envelope([body], control="201", version="005010X223A2")


REMIT_CLAIMS = [
    {"id": "PAT1-0001", "status": "1", "moa": ["MA130"], "services": [
        {"code": "J3590", "modifiers": ["JZ"], "charge": 500, "paid": 0, "cas": [("CO", "16", 500)],
         "remarks": ["N350", "M119"], "control": "PAT1-1"},
        {"code": "96413", "charge": 200, "paid": 150, "cas": [("CO", "45", 50)], "control": "PAT1-2"},
    ]},
    {"id": "PAT2-0001", "status": "4", "services": [
        {"code": "J3490", "charge": 900, "paid": 0, "units": 3, "cas": [("CO", "16", 900)], "remarks": ["M123"]},
    ]},
    {"id": "PAT3-0001", "status": "1", "services": [
        {"code": "J9999", "modifiers": ["JZ"], "charge": 7000, "paid": 0, "cas": [("CO", "252", 7000)]},
        {"code": "J9999", "charge": 300, "paid": 0, "cas": [("CO", "4", 300)]},
        {"code": "J3590", "charge": 400, "paid": 0, "cas": [("CO", "11", 400)]},
        {"code": "J3590", "charge": 100, "paid": 0, "cas": [("CO", "125", 100)], "remarks": ["M119"]},
        {"code": "J3590", "charge": 250, "paid": 180, "allowed": 225, "cas": [("CO", "45", 25), ("PR", "2", 45)]},
    ]},
]


# a second transaction set: Novitas (the payee in Texas, so jurisdiction JH) denies Avastin on J3590
REMIT_CLAIMS_NOVITAS = [
    {"id": "PAT5-0001", "status": "1", "services": [
        {"code": "J3590", "modifiers": ["JZ"], "charge": 2400, "paid": 0, "cas": [("CO", "96", 2400)],
         "remarks": ["N657"], "control": "PAT5-1"},
    ]},
]


def remittance() -> str:
    return envelope([remit_835(claims=REMIT_CLAIMS),
                     remit_835(payer=("NOVITAS SOLUTIONS", "04112"), payee_state="TX", claims=REMIT_CLAIMS_NOVITAS)],
                    control="301", kind="HP", version="005010X221A1", st_id="835")


def main() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    (FIXTURES / "professional.837").write_text(professional(), encoding="ascii", newline="")
    (FIXTURES / "institutional.837").write_text(institutional(), encoding="ascii", newline="")
    (FIXTURES / "remittance.835").write_text(remittance(), encoding="ascii", newline="")


if __name__ == "__main__":
    main()
