"""Issue 13: the payer page (/-/payers/<id>) and its .json answer for a claim context at the top."""
from __future__ import annotations

import re

JJ = "medicare-palmetto-jj"
CONTEXT = "code=J3590&date=2026-03-01&setting=professional"


async def test_payer_json_has_the_answer_when_a_context_is_given(ds):
    plain = (await ds.client.get(f"/-/payers/{JJ}.json")).json()
    assert plain.get("answer") is None
    page = (await ds.client.get(f"/-/payers/{JJ}.json?{CONTEXT}")).json()
    own = (await ds.client.get(f"/-/payers/{JJ}/answer.json?{CONTEXT}")).json()
    own.pop("ok")
    assert page["answer"] == own
    assert page["topics"] and page["code"] == "J3590"  # the rest of the page is unchanged


async def test_payer_page_shows_the_answer_lines_at_the_top(ds):
    r = await ds.client.get(f"/-/payers/{JJ}?{CONTEXT}")
    assert r.status_code == 200
    html = r.text
    top = html.index('id="answer"')
    assert top < html.index('id="topic-prior_auth"')
    block = html[top:html.index("</section>", top)]
    assert "For J3590 on professional claims on 2026-03-01" in block
    pricing = block[block.index('id="answer-pricing"'):block.index("</tr>", block.index('id="answer-pricing"'))]
    assert "WAC 103%" in pricing and "from 2019-01-01" in pricing
    history = pricing[pricing.index("<details"):]
    assert "WAC 106%" in history and "superseded" in history
    assert "WAC 106%" not in pricing[:pricing.index("<details")]
    assert "No source found yet for: Submission." in block
    assert re.search(r"undated, read \d{4}-\d{2}-\d{2}", block)
    assert "as of 20" in block
    assert f"/-/payers/{JJ}/answer.json?{CONTEXT}" in block.replace("&amp;", "&")


async def test_payer_page_without_a_context_has_the_form_only(ds):
    r = await ds.client.get(f"/-/payers/{JJ}")
    assert r.status_code == 200 and 'id="answer-setting"' in r.text and 'id="answer"' not in r.text


async def test_payer_page_drug_answer(ds):
    r = await ds.client.get("/-/payers/anthem-georgia?code=J3590&date=2023-12-01&drug=Qalsody")
    block = r.text[r.text.index('id="answer"'):]
    block = block[:block.index("</section>")]
    assert "CC-0237" in block and "J1304" in block
    before = await ds.client.get("/-/payers/anthem-georgia?code=J3590&date=2023-10-01&drug=Qalsody")
    top = before.text[before.text.index('id="answer"'):]
    top = top[:top.index("</section>")]
    pa = top[top.index('id="answer-prior_auth"'):top.index("</tr>", top.index('id="answer-prior_auth"'))]
    assert "CC-0237" not in pa


async def test_payer_page_bad_setting_or_drug_is_400(ds):
    for query, name in (("setting=home", "setting"), ("drug=0002-14", "drug")):
        r = await ds.client.get(f"/-/payers/{JJ}.json?{query}")
        assert r.status_code == 400 and r.json()["error"].startswith(f"{name}: ")
        html = await ds.client.get(f"/-/payers/{JJ}?{query}")
        assert html.status_code == 400


async def test_answer_block_keeps_the_page_outline(ds):
    from html.parser import HTMLParser

    class Outline(HTMLParser):
        def __init__(self):
            super().__init__()
            self.headings, self.controls, self.labels, self.ids = [], [], set(), []

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if attrs.get("id"):
                self.ids.append(attrs["id"])
            if re.fullmatch(r"h[1-6]", tag):
                self.headings.append(int(tag[1]))
            elif tag == "label" and attrs.get("for"):
                self.labels.add(attrs["for"])
            elif tag in ("input", "select", "textarea") and attrs.get("type") not in ("hidden", "submit"):
                self.controls.append(attrs)

    r = await ds.client.get("/-/payers/anthem-georgia?code=J3590&date=2023-12-01&setting=professional&drug=Qalsody")
    o = Outline()
    o.feed(r.text)
    assert o.headings.count(1) == 1 and o.headings[0] == 1
    assert all(after <= before + 1 for before, after in zip(o.headings, o.headings[1:])), o.headings
    assert all(c.get("id") in o.labels or c.get("aria-label") for c in o.controls)
    assert len(o.ids) == len(set(o.ids)), "duplicate ids"
