"""One rule decides a payer × topic cell (db/matrix.py): the payer_matrix view, the /-/matrix
page, its CSV and its JSON agree on every cell, word and footing, of the database built from the
shipped policies/ (issue 15)."""
from __future__ import annotations

import csv
import html as htmllib
import io
import re
import sqlite3

from db.schema import TOPICS

ROW = re.compile(r'<tr><th scope="row"><a href="/-/payers/([^"?#]+)">.*?</tr>', re.S)
CELL = re.compile(r'<td class="cell req-([a-z_]+)(?: foot-([a-z-]+))?"><a href="[^"]*#([a-z_-]+)">'
                  r'([^<]*)(?:<small class="pk-foot">([^<]*)</small>)?</a></td>')


def _html_cells(page: str) -> dict:
    out = {}
    for row in ROW.finditer(page):
        cells = CELL.findall(row.group(0))
        assert len(cells) == len(TOPICS), row.group(1)
        out[row.group(1)] = {
            t: (word, (foot or "").replace("-", " ") or None, htmllib.unescape(small) or None)
            for t, (word, foot, _anchor, _label, small) in zip(TOPICS, cells)}
    return out


async def test_view_page_csv_and_json_agree_on_every_cell(ds, built_db):
    conn = sqlite3.connect(built_db)
    conn.row_factory = sqlite3.Row
    view = {r["payer_id"]: r for r in conn.execute("select * from payer_matrix")}
    data = (await ds.client.get("/-/matrix.json")).json()
    assert data["pages"] == 1, "the shipped payers fit on one page"
    page = _html_cells((await ds.client.get("/-/matrix")).text)
    table = {r["payer_id"]: r for r in csv.DictReader(io.StringIO((await ds.client.get("/-/matrix.csv")).text))}
    payers = {p["id"]: p for p in data["payers"]}
    assert set(view) == set(payers) == set(page) == set(table) and len(view) == data["payer_count"]
    compared = 0
    for pid, row in view.items():
        for t in TOPICS:
            word, footing = row[t], row[f"{t}_footing"]
            assert (payers[pid]["cells"][t], payers[pid]["footing"][t]) == (word, footing), (pid, t, "json")
            assert (table[pid][t], table[pid][f"{t}_footing"] or None) == (word, footing), (pid, t, "csv")
            assert page[pid][t] == (word, footing, footing), (pid, t, "html")
            compared += 1
        assert payers[pid]["drug_list_drugs"] == row["prior_auth_drugs"] == int(table[pid]["prior_auth_drugs"])
    assert compared == len(view) * len(TOPICS) > 1000
    # the shipped data has every kind of footing, and unconfirmed 'not required' cells are marked so
    footings = {row[f"{t}_footing"] for row in view.values() for t in TOPICS}
    assert footings == {None, "official", "secondary only", "unconfirmed"}


async def test_datasettes_own_csv_of_the_view_has_the_same_cells(ds):
    """/payerkb/payer_matrix.csv (Datasette's CSV of the view, which the page links to) and
    /-/matrix.csv: the same columns and, apart from how states are written, the same values."""
    ours = list(csv.DictReader(io.StringIO((await ds.client.get("/-/matrix.csv")).text)))
    r = await ds.client.get("/payerkb/payer_matrix.csv?_stream=on")
    assert r.status_code == 200
    theirs = list(csv.DictReader(io.StringIO(r.text)))
    assert theirs and list(theirs[0]) == list(ours[0])
    for row in theirs + ours:
        row.pop("states")
    assert sorted(theirs, key=lambda r: r["payer_id"]) == sorted(ours, key=lambda r: r["payer_id"])
    page = (await ds.client.get("/-/matrix")).text
    assert 'href="/payerkb/payer_matrix.csv?_stream=on"' in page
    # narrowed to a claim context, the view (which takes no parameters) is not offered
    assert "payer_matrix.csv" not in (await ds.client.get("/-/matrix?code=J3590")).text


def test_csv_columns_are_the_views(built_db):
    from db import matrix

    conn = sqlite3.connect(built_db)
    names = [d[0] for d in conn.execute("select * from payer_matrix limit 0").description]
    assert names == matrix.columns(TOPICS)


def test_a_cell_footing_is_its_weakest_rule(built_db):
    """Footing by the answer's own rule (payerkb/answer.py footing) over the cell's rules."""
    from payerkb.answer import FOOTINGS, footing

    conn = sqlite3.connect(built_db)
    conn.row_factory = sqlite3.Row
    view = {r["payer_id"]: r for r in conn.execute("select * from payer_matrix")}
    kinds = {}
    for rid, kind in conn.execute("select rs.rule_id, s.kind from rule_sources rs join sources s on s.id = rs.source_id"):
        kinds.setdefault(rid, []).append({"kind": kind})
    live = {}
    for r in conn.execute("select * from rules where origin not in ('scraped', 'gap') and status != 'superseded'"):
        live.setdefault((r["payer_id"], r["topic"]), []).append(footing(r["status"], kinds.get(r["id"], [])))
    for (pid, topic), found in live.items():
        assert view[pid][f"{topic}_footing"] == max(found, key=FOOTINGS.index), (pid, topic)
