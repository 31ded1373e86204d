"""At 10,000 or 100,000 payers the matrix and the list pages go a page at a time, so no page grows
with the number of payers (issue 13, issue 17: under 1 MB each at 100,000 payers). Measured on the
shipped knowledge base: a page's size is its fixed part plus its rows, so the size of a full page
follows from two small pages."""
from __future__ import annotations

import pytest

from payerkb import queries
from payerkb.web import pages as web_pages

MB = 1_000_000


async def _size(ds, path: str) -> int:
    r = await ds.client.get(path)
    assert r.status_code == 200, path
    return len(r.content)


@pytest.mark.parametrize("path, size_name", [
    ("/-/matrix", "MATRIX_PAGE_SIZE"),
    ("/-/matrix.json", "MATRIX_PAGE_SIZE"),
    ("/-/matrix?code=J3590&setting=professional&date=2026-03-01", "MATRIX_PAGE_SIZE"),
    ("/-/payers", "PAYERS_PAGE_SIZE"),
    ("/-/payers.json", "PAYERS_PAGE_SIZE"),
    ("/-/codes/J3590", "CODE_PAGE_PAYERS"),
    ("/-/codes/J3590.json", "CODE_PAGE_PAYERS"),
])
async def test_a_full_page_stays_under_one_megabyte_whatever_the_number_of_payers(ds, monkeypatch, path, size_name):
    full_size = getattr(queries, size_name)
    base, _, query = path.partition("?")
    json_path = (base if base.endswith(".json") else base + ".json") + "?" + query
    sizes = {}
    for n in (10, 40):
        monkeypatch.setattr(queries, size_name, n)
        data = (await ds.client.get(json_path)).json()
        assert len(data["payers"]) == n and data["pages"] > 1, path  # it pages
        sizes[n] = await _size(ds, f"{base}?{query}&page=2")
    per_row = (sizes[40] - sizes[10]) / 30
    assert per_row > 0
    full = sizes[10] + per_row * (full_size - 10)
    assert full < MB, (path, int(full), int(per_row))


async def test_compare_form_lists_payers_as_checkboxes_only_while_they_are_few(ds, monkeypatch):
    few = (await ds.client.get("/-/compare")).text
    assert few.count('type="checkbox" id="cmp-') > 100
    monkeypatch.setattr(web_pages, "COMPARE_CHECKLIST_MAX", 50)
    many = await ds.client.get("/-/compare")
    assert 'type="checkbox"' not in many.text and '<input id="compare-payers" name="payers"' in many.text
    data = (await ds.client.get("/-/compare.json?payers=medicare-cms,medicare-palmetto-jj")).json()
    assert data["choices"]["payers"] is None and data["choices"]["payer_count"] > 50


def test_code_page_payers_are_remembered_per_database_file_not_past_a_rebuild(tmp_path):
    """The code page keeps the list of payers naming a code while the same file is served; a
    rebuild (a new file renamed into place) is asked afresh."""
    import shutil
    import sqlite3
    from pathlib import Path

    from db.build import build

    fixture = Path(__file__).resolve().parent / "fixtures" / "pages_policies"
    served = tmp_path / "payerkb.db"
    build(fixture, served, extra_steps=[])
    conn = sqlite3.connect(served)
    assert queries.code_page(conn, "J3590")["payer_count"] == 4
    conn.close()
    # the next build: one payer fewer names J3590 (made here by editing a copy), renamed into place
    nxt = tmp_path / "next.db"
    shutil.copy(served, nxt)
    edit = sqlite3.connect(nxt)
    with edit:
        edit.execute("delete from rule_codes where rule_id in (select id from rules where payer_id = 'delta-plan')")
    edit.close()
    nxt.replace(served)
    conn = sqlite3.connect(served)
    data = queries.code_page(conn, "J3590")
    assert data["payer_count"] == 3 and "delta-plan" not in [p["id"] for p in data["payers"]]
