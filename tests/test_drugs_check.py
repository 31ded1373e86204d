"""The claim check's drug rules (payerkb/check_drugs.py): a NOC line whose drug, by name or by NDC,
has a rule of the payer in effect on the date of service; an ambiguous name; a drug that has its
own code. On the fixture tree and on the real policies/."""
from __future__ import annotations

import pytest

from drugs_fixture import build_drug_fixture, datasette_for
from payerkb.check import check_claim


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory):
    return build_drug_fixture(tmp_path_factory.mktemp("drugs-check") / "payerkb.db")


def _line(**kw):
    return {"payer_id": "peach-health", "date_of_service": "2024-01-15", "hcpcs": "J3590", "units": 1} | kw


def _drug_findings(result):
    return [f for f in result["findings"] if f.get("rule_table") == "drug_rules" or f.get("candidates")
            or (f.get("basis") or "").startswith("drugs ")]


def test_drug_name_in_the_narrative_needs_prior_auth(fixture_db):
    result = check_claim(_line(narrative="Qalsody 100 mg intrathecal"), fixture_db)
    found = _drug_findings(result)
    assert len(found) == 1
    f = found[0]
    assert f["severity"] == "error" and f["topic"] == "prior_auth" and not result["ok"]
    assert f["rule_id"] == "peach-health--qalsody-prior-auth" and f["drug_id"] == "qalsody"
    assert f["criteria_id"] == "CC-0237" and f["reviewer"] == "Peach medical specialty drug review team"
    assert f["source_url"] == "https://example.org/peach/drug-list-2023" and f["as_of"] == "2023-08-01"
    assert "CC-0237" in f["message"] and "Peach medical specialty drug review team" in f["message"]
    assert "from 2023-11-01" in f["message"] and "prior authorization" in f["fix"]
    # the payer's prior-authorization gap note gives way to the drug rule
    assert not [x for x in result["findings"] if x["topic"] == "prior_auth" and x["basis"] == "gap"]


def test_generic_name_in_drug_name_and_a_prior_auth_number(fixture_db):
    result = check_claim(_line(drug_name="tofersen", prior_auth_number="PA-123"), fixture_db)
    f = _drug_findings(result)[0]
    assert f["severity"] == "info" and f["rule_id"] == "peach-health--qalsody-prior-auth"
    assert "a prior authorization number is given" in f["message"]


def test_only_rules_in_effect_on_the_date_of_service(fixture_db):
    before = check_claim(_line(date_of_service="2023-10-31", narrative="Qalsody 100 mg"), fixture_db)
    f = _drug_findings(before)
    assert [x["severity"] for x in f] == ["info"] and "from 2023-11-01 on J3490, J3590" in f[0]["message"]
    assert before["ok"]
    # a rule that ended: Nexviazyme's ran to 2023-12-31
    assert [x["severity"] for x in _drug_findings(check_claim(_line(narrative="Nexviazyme 400 mg", date_of_service="2023-12-31"), fixture_db))] == ["error"]
    assert [x["severity"] for x in _drug_findings(check_claim(_line(narrative="Nexviazyme 400 mg"), fixture_db))] == ["info"]
    # another code than the rule names: J9999 is not among Qalsody's codes
    assert [x["severity"] for x in _drug_findings(check_claim(_line(hcpcs="J9999", narrative="Qalsody 100 mg"), fixture_db))] == ["info"]


def test_ndc_of_a_drug_with_a_rule(fixture_db):
    # Oldcode's NDC is in its drug file, not in the CMS crosswalk; before its own code it needs PA
    result = check_claim(_line(date_of_service="2024-03-31", ndc="11111-2222-33"), fixture_db)
    f = _drug_findings(result)
    assert [(x["severity"], x["rule_id"]) for x in f] == [("error", "peach-health--oldcode-prior-auth")]
    assert "found by NDC 11111-2222-33" in f[0]["message"]


def test_a_drug_with_its_own_code_keeps_the_specific_code_finding(fixture_db):
    # by NDC in the CMS crosswalk: the existing "use the specific code" error, no drug-rule finding
    result = check_claim(_line(ndc="64406-0109-01", narrative="Qalsody 100 mg"), fixture_db)
    coding = [f for f in result["findings"] if f["topic"] == "coding" and f["severity"] == "error"]
    assert coding and "J1304" in coding[0]["message"] and result["normalized"]["suggested_code"] == "J1304"
    assert not [f for f in result["findings"] if f.get("rule_table") == "drug_rules"]
    # by its drug file's own code, from 2024-04-01
    result = check_claim(_line(date_of_service="2024-04-01", ndc="11111-2222-33"), fixture_db)
    coding = [f for f in result["findings"] if f["topic"] == "coding" and f["severity"] == "error"]
    assert len(coding) == 1 and "J1234" in coding[0]["message"] and coding[0]["basis"] == "drugs oldcode"
    assert coding[0]["source_url"] == "https://example.org/peach/drug-list-2023"
    assert result["normalized"]["suggested_code"] == "J1234"
    assert not [f for f in result["findings"] if f.get("rule_table") == "drug_rules"]


def test_a_name_that_fits_two_drugs_is_ambiguous(fixture_db):
    result = check_claim(_line(narrative="adalimumab 40 mg subcutaneous"), fixture_db)
    f = _drug_findings(result)
    assert len(f) == 1 and f[0]["severity"] == "warning" and f[0]["candidates"] == ["adaone", "adatwo"]
    assert "Adaone and Adatwo" in f[0]["message"] and "does not guess" in f[0]["message"]
    assert f[0]["rule_id"] is None
    # two drug names on one line are ambiguous too
    f = _drug_findings(check_claim(_line(narrative="Qalsody 100 mg and Nexviazyme 400 mg"), fixture_db))
    assert [x["candidates"] for x in f] == [["nexviazyme", "qalsody"]]
    # the brand name settles it: in drug_name (read before the narrative), or beside the generic name
    for line in (_line(drug_name="Adatwo", narrative="adalimumab 40 mg"), _line(narrative="Adatwo (adalimumab) 40 mg SC")):
        f = _drug_findings(check_claim(line, fixture_db))
        assert [x["rule_id"] for x in f] == ["peach-health--adatwo-prior-auth"], line
    f = _drug_findings(check_claim(_line(drug_name="adalimumab", narrative="Adatwo 40 mg"), fixture_db))
    assert f[0]["candidates"] == ["adaone", "adatwo"]  # drug_name is read first, and fits both


def test_names_match_whole_words_longest_first(fixture_db):
    assert not _drug_findings(check_claim(_line(narrative="Qalsodyx 100 mg"), fixture_db))
    # the billing-unit rule of Dupcode on J9999
    f = _drug_findings(check_claim(_line(hcpcs="J9999", narrative="Dupcode 10 mg IV"), fixture_db))
    assert [(x["severity"], x["topic"]) for x in f] == [("info", "units")]
    assert "one unit of J9999 is 1 mg of Dupcode" in f[0]["message"] and "$12.50" in f[0]["message"]


async def test_check_page_links_the_drug_rule(fixture_db, metadata):
    site = datasette_for(fixture_db, metadata)
    r = await site.client.post("/-/check.json", json=_line(narrative="Qalsody 100 mg"))
    assert r.status_code == 200
    assert any(f.get("rule_id") == "peach-health--qalsody-prior-auth" for f in r.json()["findings"])
    html = await site.client.get("/-/check?" + "&".join(f"{k}={v}" for k, v in _line(narrative="Qalsody").items()),
                                 headers={"accept": "text/html"})
    assert "/payerkb/drug_rules/peach-health--qalsody-prior-auth" in html.text


# --- the real policies/ ---------------------------------------------------------------------------

def test_real_qalsody_line_at_anthem_georgia(built_db):
    line = {"payer_id": "anthem-georgia", "date_of_service": "2024-01-15", "hcpcs": "J3590", "units": 1,
            "narrative": "Qalsody 100 mg intrathecal"}
    found = [f for f in check_claim(line, built_db)["findings"] if f.get("rule_table") == "drug_rules"]
    assert [(f["severity"], f["rule_id"], f["criteria_id"]) for f in found] == [
        ("error", "anthem-georgia--qalsody-prior-auth", "CC-0237")]
    assert found[0]["source_url"].startswith("https://providernews.anthem.com/georgia/")
    # by NDC: CMS lists Qalsody's NDC under J1304, so the line keeps the specific-code error only
    result = check_claim({**line, "ndc": "64406-0109-01"}, built_db)
    assert any(f["topic"] == "coding" and "J1304" in f["message"] for f in result["findings"])
    assert not [f for f in result["findings"] if f.get("rule_table") == "drug_rules"]
