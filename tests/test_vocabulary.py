"""One vocabulary: the names policies/ is written in and their labels are defined once, in
formats/vocabulary.py, and everything else reads them there (docs/architecture.md)."""
from __future__ import annotations

import ast
import shutil

import yaml

import db.schema
import formats.vocabulary as vocabulary
import payerkb.claim
import payerkb.web.pages_labels as pages_labels
import scrapers.extract
from formats.cms import FORMATS
from formats.reference import noc_codes
from paths import METADATA, POLICIES, ROOT

# name list -> its labels (every name has one; the labels name nothing else)
LABELLED = {
    "TOPICS": "TOPIC_LABELS",
    "PAYER_TYPES": "PAYER_TYPE_LABELS",
    "SETTINGS": "SETTING_LABELS",
    "STATUSES": "STATUS_LABELS",
    "PRICING_BASES": "PRICING_LABELS",
    "UNIT_RULES": "UNIT_RULE_LABELS",
    "NDC_FORMATS": "NDC_FORMAT_LABELS",
    "DRUG_TOPICS": "DRUG_TOPIC_LABELS",
}
# the matrix cell's values beyond a rule's requirement (db/matrix.py)
CELL_VALUES = {"conflicting", "varies", "drug_list"}


def test_every_name_has_a_label_and_every_label_a_name():
    for names, labels in LABELLED.items():
        assert set(getattr(vocabulary, labels)) == set(getattr(vocabulary, names)), labels
    assert set(vocabulary.REQUIREMENT_LABELS) == set(vocabulary.REQUIREMENTS) | CELL_VALUES
    assert set(vocabulary.DRUG_REQUIREMENTS) <= set(vocabulary.REQUIREMENTS)
    assert set(vocabulary.CLAIM_SETTINGS) == set(vocabulary.SETTINGS) - {"any"}


def test_the_validator_the_pages_and_the_claim_check_read_the_one_vocabulary():
    for name in ("TOPICS", "PAYER_TYPES", "SETTINGS", "REQUIREMENTS", "STATUSES", "DRUG_TOPICS"):
        assert getattr(db.schema, name) is getattr(vocabulary, name), name
    for name in ("TOPIC_LABELS", "REQUIREMENT_LABELS", "PAYER_TYPE_LABELS", "SETTING_LABELS",
                 "PRICING_LABELS", "UNIT_RULE_LABELS", "NDC_FORMAT_LABELS"):
        assert getattr(pages_labels, name) is getattr(vocabulary, name), name
    assert payerkb.claim.SETTINGS is vocabulary.CLAIM_SETTINGS
    assert pages_labels.TEMPLATE_HELPERS["topic_label"]("ndc") == vocabulary.TOPIC_LABELS["ndc"]


def test_the_extractor_takes_its_noc_codes_from_the_reference_file(tmp_path):
    shipped = [c["code"] for c in yaml.safe_load((POLICIES / "reference" / "codes.yml").read_text())["codes"]]
    assert list(scrapers.extract.NOC_CODES) == shipped
    (tmp_path / "reference").mkdir()
    shutil.copy(POLICIES / "reference" / "codes.yml", tmp_path / "reference" / "codes.yml")
    with open(tmp_path / "reference" / "codes.yml", "a") as fh:
        fh.write("  - code: J9998\n")  # a code added to the file is a code the extractor reads
    assert noc_codes(tmp_path) == (*shipped, "J9998")


def _listed(description: str) -> list[str]:
    """'a, b, c or d.' -> ['a', 'b', 'c', 'd']"""
    head, _, last = description.rstrip(".").rpartition(" or ")
    return [w.strip() for w in head.split(",")] + [last.strip()]


def test_metadata_lists_the_vocabulary_as_it_is():
    tables = yaml.safe_load(METADATA.read_text())["databases"]["payerkb"]["tables"]
    expected = {
        ("payers", "payer_type"): vocabulary.PAYER_TYPES,
        ("rules", "topic"): vocabulary.TOPICS,
        ("rules", "setting"): vocabulary.SETTINGS,
        ("rules", "requirement"): vocabulary.REQUIREMENTS,
        ("rules", "submission_channel"): vocabulary.SUBMISSION_CHANNELS,
        ("drug_rules", "topic"): vocabulary.DRUG_TOPICS,
        ("drug_rules", "setting"): vocabulary.SETTINGS,
        ("drug_rules", "requirement"): vocabulary.DRUG_REQUIREMENTS,
        ("cms_files", "kind"): tuple(FORMATS),
    }
    for (table, column), names in expected.items():
        assert set(_listed(tables[table]["columns"][column])) == set(names), f"metadata.yml {table}.{column}"


def _copies():
    """Module-level names elsewhere defined as a copy of a name list (same names, same order) or
    of a label table (every label of it, word for word). Literals inside code (a filter such as
    ("required", "conditional")) and other wordings for the names (the search's synonyms, the
    claim check's sentences) are not copies."""
    lists = {k: list(v) for k, v in vars(vocabulary).items() if k.isupper() and isinstance(v, tuple) and len(v) >= 3}
    tables = {k: v for k, v in vars(vocabulary).items() if k.isupper() and isinstance(v, dict)}
    for package in ("formats", "scrapers", "db", "payerkb"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "formats" / "vocabulary.py" or "fixtures" in path.parts:
                continue
            for statement in ast.parse(path.read_text(encoding="utf-8")).body:
                if not isinstance(statement, (ast.Assign, ast.AnnAssign)) or statement.value is None:
                    continue
                node, where = statement.value, f"{path.relative_to(ROOT)}:{statement.lineno}"
                if isinstance(node, (ast.Tuple, ast.List)):
                    try:
                        value = list(ast.literal_eval(node))
                    except ValueError:
                        continue
                    yield from (f"{where} copies {k}" for k, names in lists.items() if value == names)
                elif isinstance(node, ast.Dict):
                    try:
                        value = ast.literal_eval(node)
                    except ValueError:
                        continue
                    yield from (f"{where} copies {k}" for k, labels in tables.items()
                                if all(value.get(name) == label for name, label in labels.items()))


def test_no_module_keeps_its_own_copy_of_the_vocabulary():
    assert list(_copies()) == []
