"""Accessibility basics of payerkb's pages that need no browser: colour contrast of the badge and
matrix colours (WCAG 2.x AA), one h1 per page, headings in order, every form control labelled.
Keyboard reachability is checked in a real browser (tests/test_browser.py)."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import datasette
import pytest

CSS = Path(__file__).resolve().parent.parent / "payerkb" / "static" / "payerkb.css"
DATASETTE_CSS = Path(datasette.__file__).parent / "static" / "app.css"
AA = 4.5


def _luminance(hex_colour: str) -> float:
    hex_colour = hex_colour.lstrip("#")
    if len(hex_colour) == 3:
        hex_colour = "".join(ch * 2 for ch in hex_colour)
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _rules(css: str) -> dict[str, dict[str, str]]:
    out = {}
    for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", re.sub(r"/\*.*?\*/", "", css, flags=re.S)):
        props = dict(re.findall(r"([a-z-]+)\s*:\s*([^;]+);", body))
        out[selector.strip()] = {k: v.strip() for k, v in props.items()}
    return out


def test_contrast_formula_matches_known_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


def test_every_badge_and_matrix_colour_pair_meets_aa():
    pairs = {sel: (p["color"], p["background-color"]) for sel, p in _rules(CSS.read_text()).items()
             if p.get("color", "").startswith("#") and p.get("background-color", "").startswith("#")}
    # every requirement, flag and source kind the templates use has its own colour pair
    for cls in ("req-required", "req-conditional", "req-varies", "req-not_required", "req-conflicting",
                "req-unknown", "flag-gap", "flag-unconfirmed", "flag-conflicting", "flag-stale",
                "flag-needs_review", "flag-superseded", "flag-scraped", "kind-official",
                "kind-secondary", "pk-diff-badge"):
        assert f".{cls}" in pairs, f"no colour pair for .{cls}"
    low = {sel: round(contrast(*pair), 2) for sel, pair in pairs.items() if contrast(*pair) < AA}
    assert not low, f"contrast below {AA}:1: {low}"


def test_text_colours_on_the_page_backgrounds_meet_aa():
    rules = _rules(CSS.read_text())
    backgrounds = ["#ffffff", rules[".pk-compare .pk-differs th, .pk-compare .pk-differs td"]["background-color"]]
    for sel in (".pk-meta", ".pk-gap", ".pk-note", ".pk-dates", ".pk-nosource", ".pk-error", ".pk-twin"):
        colour = rules[sel]["color"]
        for bg in backgrounds:
            assert contrast(colour, bg) >= AA, (sel, colour, bg)
    # the site navigation sits on Datasette's header colour
    assert "background-color: #276890" in DATASETTE_CSS.read_text()
    assert contrast(rules[".payerkb .pk-nav a"]["color"], "#276890") >= AA


class _Outline(HTMLParser):
    def __init__(self):
        super().__init__()
        self.headings: list[int] = []
        self.controls: list[dict] = []
        self.label_for: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        elif tag == "label" and attrs.get("for"):
            self.label_for.add(attrs["for"])
        elif tag in ("input", "select", "textarea") and attrs.get("type") not in ("hidden", "submit"):
            self.controls.append(attrs)


PAGES = ["/", "/-/payers", "/-/payers/medicare-palmetto-jj", "/-/codes", "/-/codes/J3590",
         "/-/codes/J3590?payer_type=medicare_mac", "/-/compare",
         "/-/compare?payers=medicare-palmetto-jj,medicare-cms", "/-/matrix", "/-/changes",
         "/-/payers/no-such-payer"]


@pytest.mark.parametrize("path", PAGES)
async def test_one_h1_headings_in_order_and_labelled_controls(ds, path):
    r = await ds.client.get(path)
    outline = _Outline()
    outline.feed(r.text)
    assert outline.headings.count(1) == 1 and outline.headings[0] == 1, outline.headings
    for before, after in zip(outline.headings, outline.headings[1:]):
        assert after <= before + 1, f"h{before} is followed by h{after}"
    for control in outline.controls:
        assert control.get("id") in outline.label_for or control.get("aria-label"), control
