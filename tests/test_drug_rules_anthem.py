"""Anthem's drug-level prior authorization rules (policies/drug-rules/anthem-*.yml).

The build does not load drug rules into the database yet, so these read them through
db.validate.load_policies; keep them simple so they can move to the database later."""
from __future__ import annotations

import pytest

from paths import shipped_policies

STATES = ["california", "colorado", "connecticut", "georgia", "indiana", "kentucky", "maine", "missouri", "nevada",
          "new-hampshire", "new-york", "ohio", "virginia", "wisconsin"]
OURS = {f"anthem-{s}" for s in STATES}  # one payer per state; other anthem-* files (e.g. Medi-Cal) are not these
NOC = {"C9399", "J3490", "J3590", "J3591", "J9999", "J7599", "J7699", "J7799", "J7999", "J8499", "J8999"}


@pytest.fixture(scope="module")
def kb():
    kb, problems = shipped_policies()
    own = [p for p in problems if any(f"{o}.yml" in str(p) for o in OURS)]
    assert own == [], own
    return kb


def _rules(kb, payer: str | None = None) -> list:
    return [r for f in kb.drug_rules if f.model.payer_id in OURS
            and (payer is None or f.model.payer_id == payer) for r in f.model.drug_rules]


def _files(kb) -> dict:
    return {f.model.payer_id: f for f in kb.drug_rules if f.model.payer_id in OURS}


def _one(kb, payer, drug, topic="prior_auth"):
    found = [r for r in _rules(kb, payer) if r.drug == drug and r.topic == topic]
    assert len(found) == 1, (payer, drug, topic, found)
    return found[0]


def test_counts_per_state(kb):
    counts = {p: len(f.model.drug_rules) for p, f in _files(kb).items()}
    assert sum(counts.values()) >= 145
    assert counts["anthem-georgia"] >= 20 and counts["anthem-virginia"] >= 20
    assert {"anthem-connecticut", "anthem-indiana", "anthem-kentucky", "anthem-maine", "anthem-missouri", "anthem-new-hampshire", "anthem-new-york",
            "anthem-ohio", "anthem-wisconsin"} <= set(counts)


def test_rules_list_only_noc_codes_and_cite_their_own_state(kb):
    for payer, f in _files(kb).items():
        slug = payer.removeprefix("anthem-")
        for rule in f.model.drug_rules:
            assert rule.codes and set(rule.codes) <= NOC, (payer, rule.id)
            assert rule.requirement == "required" and rule.effective_from
            assert rule.drug in kb.drugs, rule.drug
            for ref in rule.sources:
                src = kb.sources[ref.ref][0]
                assert src.kind == "official"
                url = str(src.url)
                assert f"providernews.anthem.com/{slug}/" in url or (slug == "new-york" and "providernews.empireblue.com" in url), (rule.id, url)
                assert src.doc_date or src.undated


def test_qalsody_in_georgia_and_virginia(kb):
    ga = _one(kb, "anthem-georgia", "qalsody")
    assert (str(ga.effective_from), ga.criteria_id, ga.codes) == ("2023-11-01", "CC-0237", ["J3490", "J3590"])
    va = _one(kb, "anthem-virginia", "qalsody")
    assert str(va.effective_from) == "2023-11-01" and va.reviewer == "Anthem medical specialty drug review team"


def test_virginia_zynyz_start_follows_the_correction(kb):
    va = _one(kb, "anthem-virginia", "zynyz")
    assert str(va.effective_from) == "2024-01-01" and va.codes == ["J9999"]
    assert len(va.sources) == 2 and "J9345" in va.note
    ga = _one(kb, "anthem-georgia", "zynyz")  # Georgia's own notice, no correction found there
    assert str(ga.effective_from) == "2023-11-01" and "Carelon" in ga.reviewer


def test_specific_rows(kb):
    sunlenca = _one(kb, "anthem-ohio", "sunlenca")
    assert (str(sunlenca.effective_from), sunlenca.criteria_id, sunlenca.codes) == ("2023-06-01", "CC-0229", ["J3490", "C9399"])
    sarclisa = _one(kb, "anthem-wisconsin", "sarclisa")
    assert set(sarclisa.codes) == {"C9399", "J3490", "J3590", "J9999"} and sarclisa.criteria_id == "ING-CC-0161"
    assert str(_one(kb, "anthem-wisconsin", "xembify", "step_therapy").effective_from) == "2020-09-01"
    carvykti = _one(kb, "anthem-connecticut", "carvykti")
    assert (str(carvykti.effective_from), carvykti.codes) == ("2022-09-01", ["C9399", "J3490", "J3590"])
    assert carvykti.criteria_id is None  # the stored copy does not show it: left out, not guessed
    nex = _one(kb, "anthem-indiana", "nexviazyme", "quantity_limit")
    assert str(nex.effective_from) == "2022-03-01" and nex.criteria_id == "ING-CC-0018"
    padcev = _one(kb, "anthem-connecticut", "padcev")
    assert padcev.codes == ["C9399"] and "J9309" in padcev.note  # the specific code stays out of codes
    cabenuva = _one(kb, "anthem-maine", "cabenuva")
    assert (str(cabenuva.effective_from), cabenuva.criteria_id, cabenuva.codes) == ("2021-09-01", "ING-CC-0194", ["J3490"])
    assert str(_one(kb, "anthem-maine", "idose-tr", "quantity_limit").effective_from) == "2024-08-01"
    # the same June 2021 notice, recorded separately from Kentucky's, Virginia's and Maine's own pages
    for payer in ("anthem-kentucky", "anthem-virginia", "anthem-maine"):
        pepaxto = _one(kb, payer, "pepaxto")
        assert (str(pepaxto.effective_from), pepaxto.criteria_id) == ("2021-09-01", "ING-CC-0191")
        assert pepaxto.reviewer.startswith("AIM Specialty Health")
    tofidence = _one(kb, "anthem-missouri", "tofidence")
    assert (str(tofidence.effective_from), tofidence.criteria_id, tofidence.codes) == ("2024-05-01", "CC-0066", ["J3490", "J3590"])
    assert "Carelon" in tofidence.reviewer
    assert not [r for r in _rules(kb, "anthem-missouri") if r.drug == "daxxify"]  # its row lists only C9160, not a NOC code
    margenza = _one(kb, "anthem-connecticut", "margenza")
    assert (str(margenza.effective_from), margenza.codes) == ("2021-08-01", ["J3490", "J3590", "J9999"])
    xembify = _one(kb, "anthem-georgia", "xembify")
    assert "AIM Specialty Health" in xembify.reviewer and str(xembify.effective_from) == "2020-07-01"


def test_the_same_notice_is_recorded_per_state_as_each_state_printed_it(kb):
    biosimilars = {"ahzantive", "enzeevu", "opuviz", "pavblu", "yesafili"}
    nh = {r.drug for r in _rules(kb, "anthem-new-hampshire") if str(r.effective_from) == "2025-03-01"}
    ind = {r.drug for r in _rules(kb, "anthem-indiana") if str(r.effective_from) == "2025-03-01"}
    assert biosimilars <= nh
    assert ind & biosimilars == {"ahzantive"}  # Indiana's stored page shows only the first one
    assert {"ebglyss", "lymphir", "nemluvio", "niktimvo", "ocrevus-zunovo", "tecelra"} <= nh & ind


def test_drug_files_name_generics_where_the_notices_do(kb):
    assert kb.drugs["leqembi"].model.generic_name == "lecanemab"
    assert kb.drugs["vyvgart-hytrulo"].model.brand_name == "Vyvgart Hytrulo"
    assert kb.drugs["eylea-hd"].model.generic_name == "aflibercept"
