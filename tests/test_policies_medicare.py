"""Medicare fee-for-service in the built database: the MAC jurisdictions, their shared rules, the
places where sources disagree, and what an analyst can ask of it."""
from __future__ import annotations

import json

import pytest
import sqlite_utils

from paths import shipped_policies

AB_JURISDICTIONS = {
    "medicare-noridian-je": ("JE", {"CA", "HI", "NV", "AS", "GU", "MP"}),
    "medicare-noridian-jf": ("JF", {"AK", "AZ", "ID", "MT", "ND", "OR", "SD", "UT", "WA", "WY"}),
    "medicare-novitas-jh": ("JH", {"AR", "CO", "LA", "MS", "NM", "OK", "TX"}),
    "medicare-novitas-jl": ("JL", {"DE", "DC", "MD", "NJ", "PA"}),
    "medicare-palmetto-jj": ("JJ", {"AL", "GA", "TN"}),
    "medicare-palmetto-jm": ("JM", {"NC", "SC", "VA", "WV"}),
    "medicare-fcso-jn": ("JN", {"FL", "PR", "VI"}),
    "medicare-wps-j5": ("J5", {"IA", "KS", "MO", "NE"}),
    "medicare-wps-j8": ("J8", {"IN", "MI"}),
    "medicare-cgs-j15": ("J15", {"KY", "OH"}),
    "medicare-ngs-j6": ("J6", {"IL", "MN", "WI"}),
    "medicare-ngs-jk": ("JK", {"CT", "ME", "MA", "NH", "NY", "RI", "VT"}),
}

# Each MAC organisation's group and the payers (jurisdictions) that apply it.
MAC_GROUPS = {
    "noridian-partb": {"medicare-noridian-je", "medicare-noridian-jf"},
    "novitas": {"medicare-novitas-jh", "medicare-novitas-jl"},
    "palmetto-gba": {"medicare-palmetto-jj", "medicare-palmetto-jm"},
    "first-coast": {"medicare-fcso-jn"},
    "wps": {"medicare-wps-j5", "medicare-wps-j8"},
    "cgs": {"medicare-cgs-j15"},
    "ngs": {"medicare-ngs-j6", "medicare-ngs-jk"},
    "noridian-dme": {"medicare-dme-ja", "medicare-dme-jd"},
    "cgs-dme": {"medicare-dme-jb", "medicare-dme-jc"},
    "dme-macs": {"medicare-dme-ja", "medicare-dme-jb", "medicare-dme-jc", "medicare-dme-jd"},
}

FIFTY_STATES_AND_DC = set(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY".split()
)


@pytest.fixture(scope="module")
def db(built_db) -> sqlite_utils.Database:
    return sqlite_utils.Database(built_db)


@pytest.fixture(scope="module")
def kb():
    kb, problems = shipped_policies()
    assert problems == []
    return kb


def rows(db, sql, params=()):
    return [dict(r) for r in db.query(sql, params)]


def test_all_twelve_ab_jurisdictions_exist_with_their_states(db):
    for payer_id, (jurisdiction, states) in AB_JURISDICTIONS.items():
        payer = db["payers"].get(payer_id)
        assert payer["payer_type"] == "medicare_mac"
        assert payer["jurisdiction"] == jurisdiction
        assert set(json.loads(payer["states"])) == states, payer_id
        by_state = {r["state"] for r in rows(db, "select state from payer_states where payer_id = ?", [payer_id])}
        assert by_state == states, payer_id


def test_every_state_has_exactly_one_ab_mac(db):
    ab = list(AB_JURISDICTIONS)
    found = rows(
        db,
        f"select state, group_concat(payer_id) as payers from payer_states "
        f"where payer_id in ({','.join('?' * len(ab))}) group by state",
        ab,
    )
    per_state = {r["state"]: r["payers"].split(",") for r in found}
    assert FIFTY_STATES_AND_DC <= set(per_state)
    assert {s: p for s, p in per_state.items() if len(p) != 1} == {}


def test_a_state_lookup_finds_its_ab_mac_and_dme_mac(db):
    found = rows(
        db,
        "select p.id from payers p join payer_states s on s.payer_id = p.id "
        "where s.state = 'TX' and p.payer_type = 'medicare_mac' order by p.id",
    )
    assert [r["id"] for r in found] == ["medicare-dme-jc", "medicare-novitas-jh"]


def test_each_mac_group_rule_appears_for_each_of_its_jurisdictions(db, kb):
    includes = {p.model.id: p.model.includes for p in kb.payers}
    for group_id, payer_ids in MAC_GROUPS.items():
        rule_ids = [r.id for r in kb.groups[group_id].model.rules]
        assert rule_ids, group_id
        for payer_id in payer_ids:
            assert group_id in includes[payer_id], payer_id
            # a group listed earlier may replace a rule by reusing its id (Noridian's DME narrative
            # replaces the joint one); every other rule comes from this group
            earlier = includes[payer_id][: includes[payer_id].index(group_id)]
            replaced = {r.id for g in earlier for r in kb.groups[g].model.rules}
            got = {
                r["rule_key"]: r["group_id"]
                for r in rows(db, "select rule_key, group_id from rules where payer_id = ?", [payer_id])
            }
            for rule_id in rule_ids:
                expected = got.get(rule_id)
                assert expected is not None, (group_id, payer_id, rule_id)
                if rule_id not in replaced:
                    assert expected == group_id, (group_id, payer_id, rule_id)


def test_no_included_rule_is_silently_dropped(db, kb):
    """Every rule id of every group a Medicare payer includes shows up for that payer: either the
    group's own rule or, by design, an earlier-listed group's rule of the same id."""
    for located in kb.payers:
        payer = located.model
        if not payer.id.startswith("medicare-"):
            continue
        assert payer.includes[-1] == "medicare-national", payer.id
        have = {r["rule_key"] for r in rows(db, "select rule_key from rules where payer_id = ?", [payer.id])}
        for group_id in payer.includes:
            missing = {r.id for r in kb.groups[group_id].model.rules} - have
            assert missing == set(), (payer.id, group_id)


def test_a_mac_rule_replaces_the_national_rule_of_the_same_id(db):
    jj = db["rules"].get("medicare-palmetto-jj--narrative-professional")
    assert jj["group_id"] == "palmetto-gba"
    assert "mg/mL" in json.loads(jj["narrative_rejects"])
    ngs = db["rules"].get("medicare-ngs-j6--pricing-c9399-opps")
    assert (ngs["group_id"], ngs["pricing_basis"]) == ("ngs", "manual_review")
    # WPS publishes nothing of its own on C9399 pricing, so the national rule stands there.
    wps = db["rules"].get("medicare-wps-j5--pricing-c9399-opps")
    assert (wps["group_id"], wps["pricing_basis"], wps["percent"]) == ("medicare-national", "awp", 95)


def test_first_coast_wac_versus_awp_conflict_keeps_both_sources(db):
    sides = rows(
        db,
        """select r.rule_key, r.pricing_basis, r.percent, r.status, r.note, s.url, s.doc_date, s.undated
           from rules r join rule_sources rs on rs.rule_id = r.id join sources s on s.id = rs.source_id
           where r.payer_id = 'medicare-fcso-jn' and r.topic = 'pricing' and r.setting = 'professional'
             and r.status = 'conflicting'""",
    )
    fcso = [r for r in sides if "fcso.com" in r["url"]]
    by_basis = {r["pricing_basis"]: r for r in fcso}
    assert set(by_basis) == {"wac", "awp"}
    # each side also cites the page that dates the 2019 change from 106% to 103%
    assert len(sides) == 4 and len(fcso) == 2 and all(r["percent"] == 103 for r in sides)
    assert by_basis["wac"]["url"].endswith("/fees/understanding-local-contractor-pricing")
    assert by_basis["awp"]["url"].endswith("/Fee_news/0489196.asp")
    assert by_basis["awp"]["doc_date"] == "2024-02-22" and by_basis["wac"]["undated"] == 1
    assert "AWP" in by_basis["wac"]["note"] and "WAC" in by_basis["awp"]["note"]


def test_jw_with_c9399_is_conflicting_at_every_mac(db):
    def c9399_jw(payer_id):
        return rows(
            db,
            "select rule_key, requirement, status from rules where payer_id = ? and topic = 'modifiers' "
            "and setting = 'outpatient_facility' and codes = '[\"C9399\"]' order by rule_key",
            [payer_id],
        )

    for payer_id in ("medicare-palmetto-jj", "medicare-palmetto-jm", "medicare-wps-j5", "medicare-ngs-j6"):
        sides = c9399_jw(payer_id)
        assert {r["requirement"] for r in sides} == {"conditional", "not_required"}
        assert {r["status"] for r in sides} == {"conflicting"}
    # the national JW/JZ rule (all codes) stays sourced; only its C9399 reading is disputed
    assert db["rules"].get("medicare-wps-j5--modifiers-jw-jz")["status"] == "sourced"


def test_ngs_ndc_with_dashes_is_flagged_against_the_no_separator_rule(db):
    ngs = db["rules"].get("medicare-ngs-jk--ndc-c9399-fl80-dashes")
    national = db["rules"].get("medicare-ngs-jk--ndc-format-no-separators")
    assert (ngs["ndc_format"], ngs["status"]) == ("5-4-2_with_dashes", "conflicting")
    assert national["ndc_format"] == "11_digit_no_separators"
    assert "ndc-format-no-separators" in ngs["note"]


@pytest.mark.asyncio
async def test_payers_pricing_at_a_percentage_of_wac_answer_with_the_percent(ds):
    r = await ds.client.get(
        "/payerkb/pricing_basis_by_payer_type.json?_shape=array&payer_type=medicare_mac&basis=wac"
    )
    assert r.status_code == 200
    percents = {row["payer_id"]: row["percent"] for row in r.json() if row["percent"] is not None}
    assert percents["medicare-fcso-jn"] == 103
    assert percents["medicare-railroad"] == 103
    # a WAC rule with no stated percentage stays empty rather than guessed
    wps = [row for row in r.json() if row["payer_id"] == "medicare-wps-j5"]
    assert wps and wps[0]["percent"] is None


def test_modifier_rule_follows_the_date_of_service(db):
    def modifiers_on(day):
        found = rows(
            db,
            "select modifiers from rules where payer_id = 'medicare-cms' and topic = 'modifiers' "
            "and setting = 'any' and coalesce(effective_from, '0000') <= ? and coalesce(effective_to, '9999') >= ?",
            [day, day],
        )
        return [json.loads(r["modifiers"]) for r in found]

    assert modifiers_on("2016-12-31") == []
    assert modifiers_on("2020-05-01") == [["JW"]]
    assert modifiers_on("2024-01-01") == [["JW", "JZ"]]


def test_every_medicare_rule_has_a_dated_source_or_says_unconfirmed(db):
    bad = rows(
        db,
        "select id from rules where payer_id like 'medicare-%' and origin != 'gap' "
        "and source_count = 0 and status != 'unconfirmed'",
    )
    assert bad == []
    undated_and_dateless = rows(
        db,
        """select distinct s.id from rules r join rule_sources rs on rs.rule_id = r.id
           join sources s on s.id = rs.source_id
           where r.payer_id like 'medicare-%' and s.doc_date is null and s.undated = 0""",
    )
    assert undated_and_dateless == []


def test_topics_without_a_source_stay_visible_as_gaps(db):
    gap = db["rules"].get("medicare-noridian-je--gap-submission")
    assert (gap["requirement"], gap["status"], gap["origin"]) == ("unknown", "unconfirmed", "gap")
    # a belief backed only by a consumer site was removed; what CMS itself says is kept
    assert rows(db, "select id from rules where rule_key = 'prior-auth-part-b-drugs'") == []
    pa = db["rules"].get("medicare-noridian-je--prior-auth-opd-services")
    assert (pa["requirement"], pa["status"], pa["setting"]) == ("conditional", "sourced", "outpatient_facility")


def test_dme_macs_use_j7699_j7799_and_noridian_adds_its_claim_fields(db):
    for payer_id in ("medicare-dme-ja", "medicare-dme-jb", "medicare-dme-jc", "medicare-dme-jd"):
        coding = db["rules"].get(f"{payer_id}--coding-dme-noc-drugs")
        assert json.loads(coding["codes"]) == ["J7699", "J7799"]
        narrative = db["rules"].get(f"{payer_id}--narrative-dme-noc-drugs")
        assert {"drug_name", "manufacturer", "strength"} <= set(json.loads(narrative["narrative_elements"]))
    noridian = db["rules"].get("medicare-dme-jd--narrative-dme-noc-drugs")
    assert noridian["max_chars"] == 80 and "837p-2400-nte" in json.loads(noridian["claim_field"])
    assert db["rules"].get("medicare-dme-jb--narrative-dme-noc-drugs")["claim_field"] is None


def test_railroad_medicare_is_nationwide_and_prices_at_103_percent_of_wac_since_2019(db):
    payer = db["payers"].get("medicare-railroad")
    assert payer["states"] is None and "nationwide" in payer["note"]
    pricing = db["rules"].get("medicare-railroad--pricing-professional")
    assert (pricing["pricing_basis"], pricing["percent"], pricing["effective_from"]) == ("wac", 103, "2019-01-01")
    old = db["rules"].get("medicare-railroad--pricing-professional-wac-106")
    assert (old["percent"], old["status"], old["effective_to"]) == (106, "superseded", "2018-12-31")
    assert db["rules"].get("medicare-railroad--modifiers-jw-jz")["group_id"] == "medicare-national"
