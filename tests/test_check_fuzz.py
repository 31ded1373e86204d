"""Property tests: the NDC normaliser, and the check endpoint fed arbitrary JSON (never a 500)."""
from __future__ import annotations

import pytest

import asyncio
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payerkb.claim import FIELDS
from payerkb.ndc import NdcError, candidates, normalize

pytestmark = pytest.mark.fuzz

digits = st.text(alphabet="0123456789", min_size=1, max_size=5)


def _segments(a, b, c):
    return st.tuples(st.text("0123456789", min_size=a, max_size=a), st.text("0123456789", min_size=b, max_size=b),
                     st.text("0123456789", min_size=c, max_size=c))


PADDED_AT = {(4, 4, 2): 0, (5, 3, 2): 5, (5, 4, 1): 9}


@settings(max_examples=300)
@given(st.sampled_from(list(PADDED_AT)).flatmap(lambda shape: st.tuples(st.just(shape), _segments(*shape))),
       st.sampled_from(["-", " "]))
def test_ten_digit_layouts_gain_one_zero_in_the_short_segment(case, sep):
    shape, parts = case
    ndc = normalize(sep.join(parts))
    assert len(ndc.ndc_11) == 11 and ndc.ndc_11.isdigit()
    at = PADDED_AT[shape]
    assert ndc.ndc_11[at] == "0"
    assert ndc.ndc_11[:at] + ndc.ndc_11[at + 1:] == "".join(parts)  # nothing else moved
    assert normalize(ndc.ndc_542).ndc_11 == ndc.ndc_11 == normalize(ndc.ndc_11).ndc_11
    assert ndc.ndc_11 in candidates("".join(parts))


@settings(max_examples=300)
@given(st.text(max_size=20))
def test_any_text_is_an_ndc_or_a_clear_refusal(text):
    try:
        ndc = normalize(text)
    except NdcError as exc:
        assert str(exc)
    else:
        assert len(ndc.ndc_11) == 11 and ndc.ndc_11.isdigit()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
PAYERS = ["medicare-palmetto-jj", "medicare-wps-j5", "medicare-ngs-j6", "bcbs-texas", "medicaid-ny", "tricare"]
numbers = st.integers(-5, 10**5) | st.floats(-1, 1e9, allow_nan=False) | st.sampled_from(["1", "2.5", "0"])
flags = st.booleans() | st.sampled_from(["true", "false", "yes", "0"])
words = st.sampled_from(["Brandnamumab 300 mg IV", "Drug 10 mg/mL", "x" * 120, "N4 12345678901", ""]) | st.text(max_size=90)
field_values = {
    "setting": st.sampled_from(["professional", "outpatient_facility", "asc", "dme"]),
    "units": numbers, "ndc_quantity": numbers, "billed_amount": numbers, "discarded_amount": numbers,
    "ndc": st.sampled_from(["50242-0060-01", "0002143380", "5024200601", "12345678901", "1-2-3"]) | st.text(max_size=14),
    "ndc_qualifier": st.sampled_from(["N4", "N5", ""]), "ndc_unit": st.sampled_from(["UN", "ML", "GR", "F2", "ME", "MG"]),
    "modifiers": st.lists(st.sampled_from(["JW", "JZ", "KX", "UD", "jz"]), max_size=3) | st.sampled_from(["JW,JZ", "JZ"]),
    "narrative": words, "drug_name": words, "dose": words, "route": st.sampled_from(["IV", "SC", "oral", ""]),
    "narrative_field": st.sampled_from(["837p-2400-sv101-7", "cms1500-item19", "ub04-fl80"]),
    "drug_kind": st.sampled_from(["biologic", "antineoplastic", "oral_chemo", "compounded"]),
    "invoice_attached": flags, "single_dose_container": flags, "prior_auth_number": st.sampled_from(["PA1", ""]),
    "invoice_date": st.sampled_from(["2025-12-01", "2020-01-01"]),
}
CORE = {"payer_id": st.sampled_from(PAYERS), "date_of_service": st.sampled_from(["2026-01-15", "2023-03-01"]),
        "hcpcs": st.sampled_from(["J3590", "J3490", "C9399", "J9999", "J7999", "A9699", "J9035"])}
OPTIONAL = [name for name in FIELDS if name not in CORE]
# well-formed lines, so the checks themselves run on odd combinations ...
clean_claims = st.fixed_dictionaries(CORE, optional={n: field_values.get(n, json_values) for n in OPTIONAL})
# ... and lines where any field may be junk
junk_claims = st.fixed_dictionaries(CORE, optional={n: field_values.get(n, json_values) | json_values for n in OPTIONAL}
                                    | {"extra": json_values})
claims = clean_claims | junk_claims


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(claims, json_values))
def test_check_endpoint_answers_any_json_with_200_or_a_400_naming_the_field(ds, payload):
    async def post():
        return await ds.client.post("/-/check", content=json.dumps(payload),
                                    headers={"content-type": "application/json"})

    r = asyncio.run(post())
    assert r.status_code in (200, 400), r.text[:300]
    body = r.json()
    if r.status_code == 400:
        assert body["ok"] is False and body["error"] and "Traceback" not in body["error"]
        assert "field" in body
    else:
        assert isinstance(body["findings"], list) and "normalized" in body
