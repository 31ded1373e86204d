"""Fuzzing with hypothesis: the validator never crashes, and search and canned queries never 500.

Validator: random YAML structures, random text and mutations of a valid payer file go through
load_policies(); each either passes or gives Problems that name the file and a line inside it.
Datasette: random unicode and FTS5 syntax in `?_search=` and random canned query parameters get an
answer below 500 (a 400 for a bad FTS query is fine; a crash is not).
"""
from __future__ import annotations

import asyncio
import copy
import re
import urllib.parse
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db import schema
from db.validate import Problem, load_policies

pytestmark = pytest.mark.fuzz

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GOOD = {
    "id": "fuzz-payer",
    "name": "Fuzz test payer",
    "payer_type": "commercial",
    "states": ["TX"],
    "sources": [{
        "id": "fuzz-payer-src", "url": "https://example.org/fuzz", "title": "Test source",
        "publisher": "Example", "doc_date": "2024-01-02", "retrieved": "2026-01-15", "kind": "official",
    }],
    "rules": [{
        "id": "invoice", "topic": "invoice", "setting": "professional", "codes": ["J3590"],
        "requirement": "conditional", "summary": "Test rule, an invoice above the threshold.",
        "threshold_usd": 500, "status": "sourced", "sources": [{"ref": "fuzz-payer-src"}],
    }],
}


# A small reference vocabulary (the validator checks codes, modifiers and so on against it).
REFERENCE = {
    "codes.yml": """\
sources:
  - {id: fuzz-ref-src, url: "https://example.org/ref", title: Test reference, publisher: Example,
     undated: true, retrieved: 2026-01-15, kind: official}
codes:
  - {code: J3590, short_descriptor: Test one, long_descriptor: Test code one, category: Test,
     drug_kind: biologic, sources: [{ref: fuzz-ref-src}]}
  - {code: J3490, short_descriptor: Test two, long_descriptor: Test code two, category: Test,
     drug_kind: drug, sources: [{ref: fuzz-ref-src}]}
""",
    "modifiers.yml": "modifiers:\n  - {code: JW, meaning: Test, use: Test, status: unconfirmed}\n"
                     "  - {code: JZ, meaning: Test, use: Test, status: unconfirmed}\n",
    "denial_codes.yml": "denial_codes:\n  - {code: M123, kind: RARC, meaning: Test, prevention: Test, status: unconfirmed}\n",
    "claim_fields.yml": "claim_fields:\n  - {id: cms1500-item19, label: Test field, form: CMS-1500}\n",
    "synonyms.yml": "synonyms:\n  - [invoice, acquisition cost]\n",
}


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A small reference vocabulary and nothing else; each example writes payers/fuzz-payer.yml."""
    root = tmp_path_factory.mktemp("fuzz") / "policies"
    (root / "reference").mkdir(parents=True)
    for name, text in REFERENCE.items():
        (root / "reference" / name).write_text(text)
    (root / "groups").mkdir()
    (root / "payers").mkdir()
    assert load_policies(root)[1] == []
    return root


def check_file(tree: Path, content: str | bytes) -> list[Problem]:
    """Write the payer file, validate the tree: no exception, and every problem names a real line."""
    path = tree / "payers" / "fuzz-payer.yml"
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.write_bytes(data)
    kb, problems = load_policies(tree)  # must not raise, whatever the file holds
    # YAML also breaks lines at \r, NEL, LS and PS, and counts lines that way
    n_lines = len(re.findall(r"\r\n|[\n\r\x85\u2028\u2029]", data.decode("utf-8", "replace"))) + 1
    for p in problems:
        assert p.path.endswith("payers/fuzz-payer.yml"), p
        assert isinstance(p.line, int) and 1 <= p.line <= n_lines, (p, n_lines)
        assert isinstance(p.message, str) and p.message.strip(), p
    if not problems:
        assert [located.model.id for located in kb.payers] == ["fuzz-payer"]
    return problems


def dump(value) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False)


# any YAML value: scalars of every type, nested lists and mappings
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40), st.sampled_from(["2024-02-30", "2024-01-02", "J3590", "all", "", "  ", "-"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)

RULE_FIELDS = {
    "id": st.sampled_from(["invoice", "prior-auth", "units", "ndc", "pricing", "Bad Id", "a--b"]),
    "topic": st.sampled_from(schema.TOPICS + ("invoce",)),
    "setting": st.sampled_from(schema.SETTINGS),
    "codes": st.one_of(st.just("all"), st.lists(st.sampled_from(["J3590", "J3490", "C9399", "99213", "j3590"]), min_size=1, max_size=3)),
    "requirement": st.sampled_from(schema.REQUIREMENTS),
    "summary": st.text(min_size=10, max_size=80),
    "threshold_usd": st.one_of(st.integers(-10, 10_000), st.floats(allow_nan=True)),
    "pricing_basis": st.sampled_from(schema.PRICING_BASES),
    "percent": st.one_of(st.integers(-5, 2000), st.floats(allow_nan=True)),
    "modifiers": st.lists(st.sampled_from(["JW", "JZ", "XX", "jw"]), max_size=3),
    "effective_from": st.sampled_from(["2023-07-01", "2023-02-30", "July 2023"]),
    "effective_to": st.sampled_from(["2022-01-01", "2024-12-31"]),
    "status": st.sampled_from(schema.STATUSES),
    "sources": st.lists(st.fixed_dictionaries({"ref": st.sampled_from(["fuzz-payer-src", "fuzz-payer-src", "nope"])}), max_size=2),
}
PAYER_FIELDS = {
    "id": st.sampled_from(["fuzz-payer", "fuzz-payer", "fuzz-payer", "other-payer", "Fuzz Payer", "../fuzz"]),
    "name": st.text(min_size=1, max_size=40),
    "payer_type": st.sampled_from(schema.PAYER_TYPES + ("comercial",)),
    "states": st.lists(st.sampled_from(["TX", "GA", "ZZ", "tx"]), max_size=3),
    "website": st.sampled_from(["https://example.org/", "javascript:alert(1)", "example.org"]),
    "includes": st.lists(st.sampled_from(["no-such-group"]), max_size=1),
    "sources": st.just(GOOD["sources"]),
}


def shaped(fields: dict, required: tuple) -> st.SearchStrategy:
    """Mappings with the schema's required keys and some optional ones, each mostly plausible
    (so that valid files come up too) and sometimes any value at all, plus maybe a stray key."""
    def field(v):
        return st.one_of(v, v, v, v, values)

    return st.builds(
        lambda chosen, stray: {**chosen, **stray},
        st.fixed_dictionaries({k: field(fields[k]) for k in required},
                              optional={k: field(v) for k, v in fields.items() if k not in required}),
        st.dictionaries(st.sampled_from(["note", "sumary", "extra"]), values, max_size=1),
    )


payers = st.builds(
    lambda p, rules: {**p, "rules": rules},
    shaped(PAYER_FIELDS, ("id", "name", "payer_type")),
    st.lists(shaped(RULE_FIELDS, ("id", "topic", "codes", "requirement", "summary", "status")), max_size=3),
)


@FUZZ
@given(payer=payers)
def test_random_payer_structures_never_crash_the_validator(tree, payer):
    check_file(tree, dump(payer))


@FUZZ
@given(doc=values)
def test_any_yaml_document_is_ok_or_reported(tree, doc):
    problems = check_file(tree, dump(doc))
    assert problems, "a document that is not a payer mapping passed validation"


@FUZZ
@given(text=st.text(max_size=300))
def test_random_text_is_ok_or_reported(tree, text):
    check_file(tree, text)


@FUZZ
@given(data=st.data())
def test_mutations_of_a_valid_file_are_ok_or_reported(tree, data):
    payer = copy.deepcopy(GOOD)
    node, key = payer, None
    # walk down to a random spot, then replace or delete what is there
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = data.draw(st.sampled_from(keys))
        if not isinstance(node[key], (dict, list)) or data.draw(st.booleans()):
            break
        node = node[key]
    if key is not None:
        if isinstance(node, dict) and data.draw(st.booleans()):
            del node[key]
        else:
            node[key] = data.draw(values)
    check_file(tree, dump(payer))


def test_the_unmutated_file_is_valid(tree):
    assert check_file(tree, dump(GOOD)) == []


# --- Datasette: search and canned queries never answer 500 ---------------------------------

FTS_TOKENS = ['"', "*", "AND", "OR", "NOT", "NEAR", "NEAR(", "(", ")", "^", ":", "-", "+", "summary:",
              "{summary note}:", "J3590", "invoice", "'", ";", "%", "\\", "\x00", "🙂", "é", "ﬁ", "\u202e"]
queries = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40),
    st.lists(st.sampled_from(FTS_TOKENS), max_size=8).map(" ".join),
    st.lists(st.sampled_from(FTS_TOKENS), max_size=8).map("".join),
)


def _get(ds, loop, path: str):
    return loop.run_until_complete(ds.client.get(path))


@pytest.fixture()
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=queries, mode=st.sampled_from(["", "raw", "escaped", "rawx"]),
       table=st.sampled_from(["rules", "payers", "sources", "codes"]), fmt=st.sampled_from([".json", ""]))
def test_table_search_never_fails_with_500(ds, loop, q, mode, table, fmt):
    params = {"_search": q, **({"_searchmode": mode} if mode else {})}
    r = _get(ds, loop, f"/payerkb/{table}{fmt}?{urllib.parse.urlencode(params)}")
    assert r.status_code < 500, (q, mode, r.text[:300])
    assert r.status_code in (200, 400), r.status_code


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_canned_queries_never_fail_with_500(ds, metadata, loop, data):
    queries_ = metadata["databases"]["payerkb"]["queries"]
    name = data.draw(st.sampled_from(sorted(queries_)))
    names = sorted(set(re.findall(r"(?<!:):([a-z_]+)", queries_[name]["sql"])))
    params = {p: data.draw(queries, label=p) for p in names}
    fmt = data.draw(st.sampled_from([".json", ""]))
    r = _get(ds, loop, f"/payerkb/{name}{fmt}?{urllib.parse.urlencode(params)}")
    assert r.status_code < 500, (name, params, r.text[:300])
