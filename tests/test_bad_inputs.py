"""The bad-input corpus (tests/bad_inputs/): every bad file is named with its line, and nothing is lost.

For each case: `payerkb validate` exits 1 and prints `<file>:<line>: <message>` (short enough to
read), and `payerkb build` exits 1 leaving the previous database byte-for-byte as it was. Text
with HTML in it is not an error, but must come out escaped on every page that shows it.
"""
from __future__ import annotations

import hashlib
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from db.build import build
from payerkb.cli import cli

POLICIES = Path(__file__).resolve().parent.parent / "policies"
CORPUS = Path(__file__).resolve().parent / "bad_inputs"
CASES = yaml.safe_load((CORPUS / "cases.yml").read_text())
MAX_PROBLEM_CHARS = 1000  # a problem line longer than this is no longer a clear message

SCRIPT = "<script>window.__pwned = 1</script>"
IMG = '"><img src=x onerror="window.__pwned = 2">'


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


GOOD_PAYER = (Path(__file__).parent / "fixtures" / "test_good_payer.yml").read_text()


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    """A small knowledge base (the real reference/, a plain payer, and a payer whose text holds
    HTML) and the good database built from it once."""
    root = tmp_path_factory.mktemp("bad-inputs")
    policies = root / "policies"
    shutil.copytree(POLICIES / "reference", policies / "reference")
    (policies / "groups").mkdir()
    (policies / "payers").mkdir()
    (policies / "payers" / "test-good.yml").write_text(GOOD_PAYER)
    (policies / "payers" / "xss-test.yml").write_text(XSS_PAYER)
    db = root / "payerkb.db"
    build(policies, db)
    return policies, db


def _case_id(case: dict) -> str:
    return case["file"].removesuffix(".yml")


def _params(command: str):
    for case in CASES:
        buggy = case.get("known_bug") and command in case.get("bug_affects", ["validate"])
        marks = [pytest.mark.xfail(reason=case["known_bug"], strict=True)] if buggy else []
        yield pytest.param(case, id=_case_id(case), marks=marks)


def _placed(kb_root: Path, case: dict, content: bytes | None = None) -> Path:
    target = kb_root / case["place"] / case["file"]
    if content is None:
        shutil.copyfile(CORPUS / case["file"], target)
    else:
        target.write_bytes(content)
    return target


def _assert_validate_names_line(policies: Path, case: dict) -> None:
    result = CliRunner().invoke(cli, ["validate", "--policies", str(policies)])
    assert isinstance(result.exception, SystemExit), f"crashed instead of reporting: {result.exception!r}"
    assert result.exit_code == 1, result.output[:2000]
    where = f"{case['place']}/{case['file']}:{case['line']}: "
    lines = [line for line in result.output.splitlines() if where in line]
    assert lines, f"no problem reported at {where}\n{result.output[:2000]}"
    assert any(case["message"] in line for line in lines), lines
    too_long = [line[:200] for line in result.output.splitlines() if len(line) > MAX_PROBLEM_CHARS]
    assert not too_long, f"{len(too_long)} problem line(s) over {MAX_PROBLEM_CHARS} characters: {too_long[:2]}"


def _assert_build_changes_nothing(policies: Path, good_db: Path, tmp_path: Path) -> None:
    db = tmp_path / good_db.name
    shutil.copyfile(good_db, db)
    before = sha(db)
    result = CliRunner().invoke(cli, ["build", "--policies", str(policies), "--out", str(db)])
    assert result.exit_code == 1, result.output[:2000]
    assert sha(db) == before, "a failed build changed the previous database"
    assert list(db.parent.glob(db.name + ".tmp-*")) == [], "a failed build left a temporary file"


def test_corpus_lists_every_file():
    listed = {case["file"] for case in CASES}
    on_disk = {p.name for p in CORPUS.glob("*.yml")} - {"cases.yml"}
    assert listed == on_disk


@pytest.mark.parametrize("case", list(_params("validate")))
def test_validate_names_file_and_line(kb, case):
    policies, _ = kb
    placed = _placed(policies, case)
    try:
        _assert_validate_names_line(policies, case)
    finally:
        placed.unlink()


@pytest.mark.parametrize("case", list(_params("build")))
def test_build_leaves_previous_database_unchanged(kb, case, tmp_path):
    policies, db = kb
    placed = _placed(policies, case)
    try:
        _assert_build_changes_nothing(policies, db, tmp_path)
    finally:
        placed.unlink()


def _huge_payer(n_rules: int, last_topic: str) -> bytes:
    head = f"""id: huge-file
name: Test payer with a very large file
payer_type: commercial
sources:
  - id: huge-file-src
    url: https://example.org/huge
    title: Test source
    publisher: Example
    undated: true
    retrieved: 2026-01-15
    kind: official
rules:
"""
    rule = """  - id: invoice-{i}
    topic: {topic}
    codes: [J3590]
    requirement: required
    summary: Test rule number {i}; an invoice was needed above the threshold then.
    threshold_usd: {i}
    status: superseded
    sources: [{{ref: huge-file-src}}]
"""
    body = "".join(rule.format(i=i, topic="invoice" if i < n_rules - 1 else last_topic) for i in range(n_rules))
    return (head + body).encode()


@pytest.mark.slow
def test_huge_file_error_at_the_end_is_found_on_its_line(kb, tmp_path):
    policies, db = kb
    n = 1200
    content = _huge_payer(n, last_topic="invoce")
    bad_line = content.decode().splitlines().index("    topic: invoce") + 1
    case = {"file": "huge-file.yml", "place": "payers", "line": bad_line, "message": "did you mean 'invoice'"}
    placed = _placed(policies, case, content)
    try:
        assert placed.stat().st_size > 250_000  # policy files are a few kB
        _assert_validate_names_line(policies, case)
        _assert_build_changes_nothing(policies, db, tmp_path)
    finally:
        placed.unlink()


def test_huge_value_is_refused_with_a_short_message(kb, tmp_path):
    policies, db = kb
    content = _huge_payer(1, last_topic="invoice").replace(
        b"name: Test payer with a very large file", b"name: " + b"x" * 2_000_000)
    case = {"file": "huge-file.yml", "place": "payers", "line": 2, "message": "at most 2000 characters"}
    placed = _placed(policies, case, content)
    try:
        _assert_validate_names_line(policies, case)
        _assert_build_changes_nothing(policies, db, tmp_path)
    finally:
        placed.unlink()


# --- HTML in text: valid data, but it must be shown escaped everywhere ---------------------------

XSS_PAYER = f"""id: xss-test
name: "Test payer {SCRIPT}"
parent_org: '{IMG}'
payer_type: commercial
states: [TX]
aliases: ["{SCRIPT}"]
note: "{SCRIPT}"
sources:
  - id: xss-test-src
    url: https://example.org/xss?q=%3Cscript%3E
    title: "Test source {SCRIPT}"
    publisher: '{IMG}'
    doc_date: 2024-01-02
    retrieved: 2026-01-15
    kind: official
rules:
  - id: invoice
    topic: invoice
    codes: [J3590]
    requirement: required
    summary: "Test rule {SCRIPT} invoice above the threshold"
    threshold_usd: 500
    status: sourced
    note: '{IMG}'
    sources: [{{ref: xss-test-src, locator: "{SCRIPT}"}}]
"""

# (path, must the escaped payload be visible on it?)
DATASETTE_PAGES = [
    ("/", False),
    ("/payerkb", False),
    ("/payerkb/payers", True),
    ("/payerkb/payers?_facet=parent_org", True),
    ("/payerkb/payers/xss-test", True),
    ("/payerkb/rules?_search=pwned", True),
    ("/payerkb/rules?payer_id=xss-test", True),
    ("/payerkb/rules/xss-test--invoice", True),
    ("/payerkb/sources/xss-test-src", True),
    ("/payerkb/rule_sources?rule_id=xss-test--invoice", True),
    ("/payerkb/payer_matrix?payer_id=xss-test", True),
    ("/payerkb/j3590_rules?payer_id=xss-test", True),
    ("/payerkb/rule_citations?payer_id=xss-test", True),
    ("/payerkb/rules_for_payer_and_code?payer=xss-test&code=J3590", True),
    ("/payerkb/invoice_required_by_threshold?code=J3590", True),
    ("/payerkb?sql=select+name+from+payers+where+id+%3D+%27xss-test%27", True),
    ("/payerkb?sql=select+%27%3Cscript%3Ewindow.__pwned+%3D+1%3C%2Fscript%3E%27", True),
]
# The plugin's pages: checked as soon as they exist (404 until then).
PLUGIN_PAGES = [
    "/-/payers/xss-test",
    "/-/codes/J3590",
    "/-/compare?payers=xss-test,test-good&code=J3590",
    "/-/matrix",
    "/-/changes",
    "/-/changes.atom",
    "/-/search?q=pwned+script",
    "/-/search?q=%3Cscript%3Ewindow.__pwned+%3D+1%3C%2Fscript%3E",
    "/-/check?payer_id=xss-test&hcpcs=J3590&date_of_service=2026-01-15"
    "&narrative=%3Cscript%3Ewindow.__pwned+%3D+1%3C%2Fscript%3E",
    "/-/check?payer_id=%3Cscript%3Ewindow.__pwned+%3D+1%3C%2Fscript%3E&hcpcs=J3590",
]


def served_by_plugin(path: str) -> bool:
    from payerkb.web import FEATURE_MODULES

    bare = path.split("?")[0]
    return any(re.match(regex, bare) for module in FEATURE_MODULES for regex, _ in getattr(module, "ROUTES", []))


@pytest.fixture(scope="module")
def xss_db(kb) -> Path:
    return kb[1]


@pytest.fixture(scope="module")
def xss_ds(xss_db, metadata):
    from sites import datasette

    return datasette([xss_db], metadata=metadata)


def _assert_no_live_markup(html: str) -> None:
    assert "<script>window.__pwned" not in html
    assert "<img src=x onerror" not in html


@pytest.mark.asyncio
@pytest.mark.parametrize("path,shows_payload", DATASETTE_PAGES)
async def test_html_in_text_is_escaped_on_datasette_pages(xss_ds, path, shows_payload):
    r = await xss_ds.client.get(path)
    assert r.status_code == 200, r.text[:500]
    _assert_no_live_markup(r.text)
    if shows_payload:
        assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in r.text


@pytest.mark.asyncio
@pytest.mark.parametrize("path", PLUGIN_PAGES, ids=[p.split("?")[0] + ("?" if "?" in p else "") for p in PLUGIN_PAGES])
async def test_html_in_text_is_escaped_on_plugin_pages(xss_ds, path):
    assert served_by_plugin(path), f"{path.split('?')[0]} is no longer a plugin route"
    r = await xss_ds.client.get(path, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert r.status_code < 500, r.text[:500]
    kind = r.headers["content-type"].split(";")[0]
    if kind == "application/json":
        # JSON carries the text as data; browsers never render it as a page (nosniff)
        assert r.headers["x-content-type-options"] == "nosniff"
    else:
        _assert_no_live_markup(r.text)
        assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in r.text


# --- the same in a real browser: nothing runs, and the CSP lets Datasette's own scripts run ----

BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.browser
def test_no_injected_script_runs_in_a_browser(xss_db):
    import playwright.sync_api as playwright
    from servers import chromium_or_skip, payerkb_serve
    chromium_or_skip()

    pages = [p for p, _ in DATASETTE_PAGES] + [p for p in PLUGIN_PAGES if served_by_plugin(p)]
    with payerkb_serve(xss_db) as (base, _), \
            playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        try:
            page = browser.new_page()
            dialogs, violations = [], []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
            visited = 0
            for path in pages:
                page.goto(base + path, wait_until="load")
                visited += 1
                assert page.evaluate("() => window.__pwned") is None, f"injected script ran on {path}"
                if path.startswith("/payerkb?sql="):
                    # the SQL editor is set up by an inline script the CSP allows by its hash
                    assert page.evaluate("() => !!document.querySelector('.CodeMirror')")
            assert not dialogs
            assert visited == len(pages)
            blocked = [v for v in violations if "pwned" not in v]
            assert not blocked, f"the CSP blocked a script the pages need: {blocked[:3]}"
        finally:
            browser.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
