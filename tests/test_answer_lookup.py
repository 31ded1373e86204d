"""Issue 13, the claim-context answer (payerkb/answer.py) on the knowledge base built from policies/."""
from __future__ import annotations

import sqlite3

import pytest

from db.schema import TOPICS
from payerkb.answer import answer, format_text

JJ = "medicare-palmetto-jj"


@pytest.fixture(scope="module")
def conn(built_db):
    c = sqlite3.connect(f"file:{built_db}?mode=ro", uri=True)
    yield c
    c.close()


def _topic(result, topic):
    return next(t for t in result["topics"] if t["topic"] == topic)


def test_every_topic_in_order_one_line_each(conn):
    result = answer(conn, JJ, code="J3590", date="2026-03-01", setting="professional")
    assert [t["topic"] for t in result["topics"]] == list(TOPICS)
    assert result["context"] == {"code": "J3590", "date": "2026-03-01", "date_given": True,
                                 "setting": "professional", "drug": None,
                                 "text": "J3590 on professional claims on 2026-03-01",
                                 "query": "code=J3590&date=2026-03-01&setting=professional"}
    for line in result["topics"]:
        assert line["status"] in ("answered", "unknown", "no_rule", "drug_list")
        assert line["text"].startswith(line["label"] + ":")
        if line["status"] == "answered":
            assert line["footing"] in ("official", "secondary only", "unconfirmed")
    assert result["payer"]["id"] == JJ


def test_palmetto_pricing_is_wac_103_and_the_106_rule_is_history(conn):
    result = answer(conn, JJ, code="J3590", date="2026-03-01", setting="professional")
    pricing = _topic(result, "pricing")
    wac = [r for r in pricing["rules"] if r["values"].get("pricing_basis") == "wac"]
    assert [(r["values"]["percent"], r["effective_from"]) for r in wac] == [(103.0, "2019-01-01")]
    assert "WAC 103%" in wac[0]["value_text"] and "from 2019-01-01" in pricing["text"]
    old = [r for r in pricing["history"] if r["values"].get("percent") == 106.0]
    assert old and old[0]["status"] == "superseded" and "superseded" in old[0]["why"]
    assert all(r["values"].get("percent") != 106.0 for r in pricing["rules"])
    assert pricing["footing"] == "official"


def test_a_date_before_2019_gives_wac_106(conn):
    result = answer(conn, JJ, code="J3590", date="2018-06-01", setting="professional")
    pricing = _topic(result, "pricing")
    percents = [r["values"].get("percent") for r in pricing["rules"] if r["values"].get("pricing_basis") == "wac"]
    assert percents == [106.0]
    assert any(r["values"].get("percent") == 103.0 and "not yet in effect" in r["why"] for r in pricing["history"])


def test_modifiers_follow_the_date(conn):
    before = _topic(answer(conn, JJ, code="J3590", date="2023-06-30", setting="professional"), "modifiers")
    after = _topic(answer(conn, JJ, code="J3590", date="2023-07-01", setting="professional"), "modifiers")
    assert any(r["id"].endswith("--modifiers-jw") for r in before["rules"])
    assert not any(r["id"].endswith("--modifiers-jw-jz") for r in before["rules"])
    assert any(r["id"].endswith("--modifiers-jw-jz") for r in after["rules"])
    assert any(r["id"].endswith("--modifiers-jw") and r["why"] == "ended 2023-06-30" for r in after["history"])


def test_national_narrative_line_names_sv101_7_and_80_characters(conn):
    result = answer(conn, "medicare-cms", code="J3590", date="2026-03-01", setting="professional")
    narrative = _topic(result, "narrative")
    rule = narrative["rules"][0]
    assert "837p-2400-sv101-7" in [f["id"] for f in rule["values"]["claim_fields"]]
    assert rule["values"]["max_chars"] == 80
    assert "SV101-7" in narrative["text"] and "max 80 chars" in narrative["text"]


def test_setting_picks_the_rules_any_applies_everywhere(conn):
    pro = answer(conn, JJ, code="J3590", date="2026-03-01", setting="professional")
    opd = answer(conn, JJ, code="J3590", date="2026-03-01", setting="outpatient_facility")
    assert _topic(pro, "prior_auth")["status"] == "no_rule"
    pa = _topic(opd, "prior_auth")
    assert pa["status"] == "answered" and [r["id"] for r in pa["rules"]] == [f"{JJ}--prior-auth-opd-services"]
    assert "prior_auth" in pro["no_rule_topics"] and "prior_auth" not in opd["no_rule_topics"]
    # the JW/JZ rule is for setting `any`: both settings get it
    for result in (pro, opd):
        assert any(r["id"] == f"{JJ}--modifiers-jw-jz" for r in _topic(result, "modifiers")["rules"])
    # and a rule for another setting never shows
    assert all(r["setting"] in ("professional", "any") for t in pro["topics"] for r in t["rules"])


def test_code_must_be_among_the_rule_codes(conn):
    c9399 = answer(conn, JJ, code="C9399", date="2026-03-01", setting="outpatient_facility")
    j3590 = answer(conn, JJ, code="J3590", date="2026-03-01", setting="outpatient_facility")
    assert any(r["id"].endswith("--pricing-c9399-opps") for r in _topic(c9399, "pricing")["rules"])
    assert not any(r["id"].endswith("--pricing-c9399-opps") for r in _topic(j3590, "pricing")["rules"])
    for t in j3590["topics"]:
        assert all("J3590" in r["codes"] for r in t["rules"] + t["history"])


def test_gaps_fold_into_unknown_topics(conn):
    result = answer(conn, JJ, code="J3590", date="2026-03-01", setting="professional")
    assert result["unknown_topics"] == ["submission"]
    line = _topic(result, "submission")
    assert line["status"] == "unknown" and line["rules"] == [] and "no source found yet" in line["text"]
    text = format_text(result)
    assert "no source found yet for: submission" in text
    assert len([ln for ln in text.splitlines() if ln.strip().startswith("submission")]) == 0


def test_conflicting_rules_are_both_shown_and_marked(conn):
    result = answer(conn, "medicare-cms", date="2026-03-01", setting="outpatient_facility")
    mods = _topic(result, "modifiers")
    clash = [r for r in mods["rules"] if r["conflicting"]]
    assert len(clash) >= 2 and mods["conflicting"] and mods["requirement"] == "conflicting"
    assert "modifiers" in result["conflicting_topics"] and "CONFLICTING" in mods["text"]


def test_sources_are_official_or_secondary_and_dated_or_undated(conn):
    result = answer(conn, JJ, code="J3590", date="2026-03-01", setting="professional")
    seen = [s for t in result["topics"] for r in t["rules"] + t["history"] for s in r["sources"]]
    assert {s["kind"] for s in seen} <= {"official", "secondary"}
    for s in seen:
        assert set(s) >= {"url", "title", "kind", "doc_date", "undated", "retrieved", "locator", "date_text"}
        if s["undated"]:
            assert s["doc_date"] is None and s["date_text"] == f"undated, read {s['retrieved']}"
        else:
            assert s["date_text"] == f"as of {s['doc_date']}"
    undated_rules = [r for t in result["topics"] for r in t["rules"] if r["sources"] and all(s["undated"] for s in r["sources"])]
    assert undated_rules, "Palmetto JJ has rules whose sources are all undated"
    for r in undated_rules:
        assert r["as_of"] is None and r["date_text"].startswith("undated, read ") and "as of" not in r["text"]


def test_footing_secondary_only(conn):
    result = answer(conn, JJ, code="J3590", date="2026-03-01", setting="professional")
    units = _topic(result, "units")
    assert all(s["kind"] == "secondary" for r in units["rules"] for s in r["sources"])
    assert units["footing"] == "secondary only"


def test_no_parameters_means_today_every_code_every_setting(conn):
    import datetime as dt

    result = answer(conn, JJ)
    assert result["context"]["date"] == dt.date.today().isoformat() and not result["context"]["date_given"]
    settings = {r["setting"] for t in result["topics"] for r in t["rules"]}
    assert {"professional", "outpatient_facility"} <= settings


def test_drug_prior_auth_rule_on_and_before_its_start(conn):
    on = answer(conn, "anthem-georgia", code="J3590", date="2023-12-01", drug="Qalsody")
    drug = on["drug"]
    assert drug["found"] and drug["id"] == "qalsody" and drug["matched_by"] == "name"
    pa = [r for r in drug["rules"] if r["topic"] == "prior_auth"]
    assert [r["criteria_id"] for r in pa] == ["CC-0237"]
    assert pa[0]["reviewer"] and pa[0]["sources"] and pa[0]["footing"] in ("official", "secondary only")
    line = _topic(on, "prior_auth")
    assert pa[0]["id"] in line["drug_rules"] and "CC-0237" in line["text"]

    before = answer(conn, "anthem-georgia", code="J3590", date="2023-10-01", drug="qalsody")
    assert before["drug"]["rules"] == []
    assert [r["criteria_id"] for r in before["drug"]["history"]] == ["CC-0237"]
    assert "not yet in effect" in before["drug"]["history"][0]["why"]
    assert "CC-0237" not in _topic(before, "prior_auth")["text"]


def test_drug_by_generic_name_and_by_ndc_in_any_form(conn):
    by_generic = answer(conn, "anthem-georgia", code="J3590", date="2023-12-01", drug="Tofersen")
    assert by_generic["drug"]["id"] == "qalsody"
    row = conn.execute("select n.ndc11, n.drug_id from drug_ndcs n join drug_rules r on r.drug_id = n.drug_id "
                       "where r.payer_id = 'anthem-georgia' order by n.ndc11 limit 1").fetchone()
    assert row, "some Anthem Georgia drug has an NDC"
    ndc11, drug_id = row
    for written in (ndc11, f"{ndc11[:5]}-{ndc11[5:9]}-{ndc11[9:]}", f"N4{ndc11}"):
        got = answer(conn, "anthem-georgia", date="2026-03-01", drug=written)["drug"]
        assert got["id"] == drug_id and got["matched_by"].startswith("NDC ")
    with pytest.raises(ValueError, match=r"^drug: "):
        answer(conn, "anthem-georgia", drug="1234-5678")


def test_drug_with_its_own_code(conn):
    drug_id, code, since = conn.execute(
        "select id, hcpcs_code, hcpcs_code_from from drugs where hcpcs_code_from is not null order by id limit 1").fetchone()
    name = conn.execute("select brand_name from drugs where id = ?", [drug_id]).fetchone()[0]
    after = answer(conn, "anthem-georgia", code="J3590", date="2026-03-01", drug=name)["drug"]["own_code"]
    assert after["code"] == code and after["from"] == since and after["in_effect"] is True
    assert f"on J3590 is wrong" in after["message"]
    earlier = answer(conn, "anthem-georgia", code="J3590", date="2000-01-03", drug=name)["drug"]["own_code"]
    assert earlier["in_effect"] is False
    # a crosswalk code: the quarter is known, its start is not
    q = answer(conn, "anthem-georgia", code="J3590", date="2023-12-01", drug="Qalsody")["drug"]["own_code"]
    assert q and q["basis"] == "crosswalk" and q["code"] == "J1304"


def test_unknown_drug_is_not_an_error(conn):
    result = answer(conn, "anthem-georgia", code="J3590", date="2026-03-01", drug="Qalsodyy")
    assert result["drug"]["found"] is False and "Qalsody" in result["drug"]["notes"][0]
    assert len(result["topics"]) == len(TOPICS)


@pytest.mark.parametrize("kwargs, name", [
    ({"date": "2026-02-30"}, "date"), ({"date": "03/01/2026"}, "date"), ({"setting": "home"}, "setting"),
    ({"code": "J35900"}, "code"), ({"code": "j3590; drop"}, "code"), ({"code": "J1304"}, "code"),
    ({"drug": "x" * 500}, "drug"), ({"drug": "!!"}, "drug"),
])
def test_bad_input_names_the_parameter(conn, kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name}: "):
        answer(conn, JJ, **kwargs)


def test_unknown_payer_is_none(conn):
    assert answer(conn, "no-such-payer", code="J3590") is None


def test_lower_case_code_and_setting_are_accepted(conn):
    result = answer(conn, JJ, code=" j3590 ", setting="Professional", date="2026-03-01")
    assert result["context"]["code"] == "J3590" and result["context"]["setting"] == "professional"


def test_own_code_in_effect_answers_the_coding_line(conn):
    drug_id, code, since, name = conn.execute(
        "select id, hcpcs_code, hcpcs_code_from, brand_name from drugs where hcpcs_code_from is not null "
        "order by id limit 1").fetchone()
    result = answer(conn, "anthem-georgia", code="J3590", date="2026-03-01", drug=name)
    coding = _topic(result, "coding")
    assert coding["status"] == "answered" and coding["own_code"] == code and "coding" not in result["unknown_topics"]
    assert f"bill {code}" in coding["text"] and coding["footing"] in ("official", "secondary only", "unconfirmed")
    assert result["drug"]["own_code"]["sources"] is not None
    before = answer(conn, "anthem-georgia", code="J3590", date="2000-01-03", drug=name)
    assert "own_code" not in _topic(before, "coding")


def test_an_ndc_only_the_crosswalk_knows(conn):
    row = conn.execute("""select x.ndc, x.hcpcs, x.quarter from current_ndc_hcpcs_crosswalk x
                          where x.ndc not in (select ndc11 from drug_ndcs)
                            and x.hcpcs not in (select code from codes where is_noc = 1)
                            and x.ndc in (select ndc from current_ndc_hcpcs_crosswalk group by ndc
                                          having count(distinct hcpcs) = 1)
                          order by x.ndc limit 1""").fetchone()
    ndc, hcpcs, quarter = row
    start = conn.execute("select effective_from from cms_files where kind = 'crosswalk' and quarter = ?",
                         [quarter]).fetchone()[0]
    result = answer(conn, "anthem-georgia", code="J3590", date=start, drug=f"{ndc[:5]}-{ndc[5:9]}-{ndc[9:]}")
    d = result["drug"]
    assert d["found"] is False and d["own_code"]["code"] == hcpcs and d["own_code"]["in_effect"] is True
    assert d["own_code"]["sources"] and d["own_code"]["sources"][0]["kind"] == "official"
    assert _topic(result, "coding")["own_code"] == hcpcs
    early = answer(conn, "anthem-georgia", code="J3590", date="2001-01-01", drug=ndc)["drug"]["own_code"]
    assert early["in_effect"] is None and "check whether" in early["message"]
