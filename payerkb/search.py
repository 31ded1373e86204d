"""Smart search over the rules: what a billing specialist types, turned into a ranked answer.

    search("preauth j3590 blue cross texas", db_path="db/payerkb.db")

The words are read the way billing staff mean them: synonyms from policies/reference/synonyms.yml
(PA = prior authorization = precert ...) and from the payers table (JJ = jurisdiction J, a
Medicaid program's name = "<state> medicaid"); words the index does not know are corrected
("invoce" -> "invoice", offered back as "did you mean") and also matched fuzzily; quoted
"phrases", -exclusions and prefix* work. The Whoosh index lives in db/search_index.py, the
ranking in payerkb/search_rank.py.
The answer is the JSON of /-/search.json (see docs/search.md); it never raises for bad input.
"""
from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from markupsafe import escape

from db import schema
from db.search_documents import STATE_NAMES
from db.search_index import IndexUnavailable, normalize
from payerkb.search_rank import FIELD_BOOSTS, Clause, GapLine, Hit, Wording, open_search_index
from payerkb.fts import MAX_CHARS, clean
from payerkb.settings import DEFAULT_DB
from formats.vocabulary import PAYER_TYPE_LABELS, TOPIC_LABELS

DEFAULT_LIMIT, MAX_LIMIT = 20, 100
FILTERS = ("payer_type", "topic", "code", "state")
SYNONYM_WEIGHT, CORRECTION_WEIGHT, NEAR_WEIGHT = 0.85, 0.9, 0.8
MAX_NEAR = 4  # known words tried for a misspelt one: the closest, then up to 3 more
MAX_CLAUSES = 24

# Words that carry no meaning in a question ("how many units does noridian want").
STOPWORDS = frozenset("""
a an and are as at be by can could do does for from get have how i if in is it its me my may
much many need needs not of on or our should so tbd that the their there they this to us we what
when where which who why will with yet you your
""".split())
STATES_BY_NAME = {name.lower(): code for code, name in STATE_NAMES.items()}
_PIECE = re.compile(r'(-?)"([^"]*)"|(\S+)')
_WORD = re.compile(r"\w+(?:\.?\w+)*")  # the tokenizer the index uses
_CODE = re.compile(r"^[a-z]\d{4}$")
_NOT_PLACE = tuple(f for f in FIELD_BOOSTS if f != "place")
EXAMPLES = ("preauth j3590 blue cross texas", "invoice threshold medicaid", "palmetto narrative field",
            "how many units noridian", "tricare awp")


# ---------------------------------------------------------------------------------------------
# Synonyms


@dataclass
class Thesaurus:
    """Groups of terms that mean the same; a term is looked up by its normalized words."""

    groups: list[tuple[str, ...]]
    by_key: dict[tuple[str, ...], set[int]]
    longest: int

    @classmethod
    def from_groups(cls, groups) -> Thesaurus:
        kept, by_key = [], {}
        for group in groups:
            group = tuple(dict.fromkeys(t.strip().lower() for t in group if t and t.strip()))
            if len(group) < 2:
                continue
            kept.append(group)
            for term in group:
                key = term_key(term)
                if key:
                    by_key.setdefault(key, set()).add(len(kept) - 1)
        return cls(kept, by_key, max((len(k) for k in by_key), default=1))

    def alternatives(self, key: tuple[str, ...]) -> list[str]:
        terms = [t for g in sorted(self.by_key.get(key, ())) for t in self.groups[g]]
        return [t for t in dict.fromkeys(terms) if term_key(t) != key]


def content_words(term: str) -> tuple[str, ...]:
    """The words of a term that carry meaning ("IN Medicaid" keeps "in": it is Indiana there)."""
    words = _WORD.findall(term.lower())
    return tuple(w for w in words
                 if w not in STOPWORDS or (len(w) == 2 and w.upper() in STATE_NAMES and len(words) > 1))


def term_key(term: str) -> tuple[str, ...]:
    return tuple(normalize(w) for w in content_words(term))


def derived_groups(conn: sqlite3.Connection) -> list[tuple[str, ...]]:
    """Synonyms the payers table already knows: a MAC jurisdiction and its spoken form
    ("jj", "jurisdiction j"), and a state Medicaid program's names and "<state> medicaid"."""
    groups = []
    for (jurisdiction,) in conn.execute("select distinct jurisdiction from payers where jurisdiction like 'J%'"):
        code = jurisdiction.strip().lower()
        if re.fullmatch(r"j[a-z0-9]{1,2}", code):
            groups.append((code, f"jurisdiction {code[1:]}"))
    for aliases, states in conn.execute(
        "select aliases, states from payers where payer_type = 'medicaid_ffs'"
    ):
        states = json.loads(states or "[]")
        if len(states) == 1 and states[0] in STATE_NAMES:
            groups.append(tuple(json.loads(aliases or "[]")) + (f"{STATE_NAMES[states[0]]} medicaid",))
    return groups


@lru_cache(maxsize=8)
def _thesaurus(db_path: str, identity) -> Thesaurus:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute("select group_id, term from synonyms order by rowid").fetchall()
        groups: dict[int, list[str]] = {}
        for group_id, term in rows:
            groups.setdefault(group_id, []).append(term)
        return Thesaurus.from_groups(list(groups.values()) + derived_groups(conn))
    finally:
        conn.close()


def thesaurus_for(db_path: Path) -> Thesaurus:
    st = db_path.stat()
    return _thesaurus(str(db_path.resolve()), (st.st_size, st.st_mtime_ns))


# ---------------------------------------------------------------------------------------------
# Reading the query


@dataclass
class Parsed:
    clauses: list[Clause] = field(default_factory=list)
    dropped: int = 0  # clauses past MAX_CLAUSES, not searched
    corrections: dict[str, str] = field(default_factory=dict)  # typed word -> closest known word
    near: dict[str, list[str]] = field(default_factory=dict)  # typed word -> other known words near it
    expanded: dict[str, list[str]] = field(default_factory=dict)  # typed words -> synonyms used


@dataclass
class _Token:
    text: str  # as typed

    @property
    def lower(self) -> str:
        return self.text.lower()


def _is_literal(word: str) -> bool:
    """Codes and numbers are taken as typed: never corrected."""
    return bool(_CODE.match(word) or any(ch.isdigit() for ch in word) or len(word) < 4)


def parse(text: str, thesaurus: Thesaurus, index) -> Parsed:
    parsed = Parsed()
    free: list[_Token] = []
    negate_next = False
    for match in _PIECE.finditer(clean(text)):
        minus, quoted, bare = match.groups()
        if bare is not None and bare == "NOT":
            negate_next = True
            continue
        exclude = negate_next or bool(minus) or (bare is not None and bare.startswith("-") and len(bare) > 1)
        negate_next = False
        words = _WORD.findall(quoted if bare is None else bare)
        if not words:
            continue
        if bare is None or exclude:
            parsed.clauses.append(Clause((Wording(tuple(w.lower() for w in words)),),
                                         exclude=exclude, phrase=bare is None))
        elif bare.endswith("*"):
            parsed.clauses.append(Clause((Wording(tuple(w.lower() for w in words)),), prefix=True))
        else:
            free += [_Token(w) for w in words]
    parsed.clauses += _free_clauses(free, thesaurus, index, parsed)
    parsed.dropped = max(0, len(parsed.clauses) - MAX_CLAUSES)
    parsed.clauses = parsed.clauses[:MAX_CLAUSES]
    return parsed


def _free_clauses(tokens: list[_Token], thesaurus: Thesaurus, index, parsed: Parsed) -> list[Clause]:
    clauses, kept = [], []
    for tok in tokens:
        if tok.lower in STOPWORDS:
            # "IN", "OR", "ME" typed in capitals are states, not filler words
            if len(tok.text) == 2 and tok.text.isupper() and tok.text in STATE_NAMES:
                clauses.append(Clause((Wording((tok.lower,), fields=("place",)),)))
            continue
        kept.append(tok)
    words = [_corrected(t.lower, thesaurus, index, parsed) for t in kept]
    keys = [normalize(w) for w in words]
    i = 0
    while i < len(kept):
        for n in range(min(thesaurus.longest, len(kept) - i), 0, -1):
            key = tuple(keys[i:i + n])
            if n > 1 and key not in thesaurus.by_key:
                continue
            clauses.append(_clause(kept[i:i + n], words[i:i + n], thesaurus.alternatives(key), parsed))
            i += n
            break
    return clauses


def _corrected(word: str, thesaurus: Thesaurus, index, parsed: Parsed) -> str:
    if _is_literal(word) or (normalize(word),) in thesaurus.by_key or index.knows(word):
        return word
    candidates = index.corrections(word, maxdist=1 if len(word) <= 5 else 2)
    if candidates:
        parsed.corrections[word] = candidates[0]
        parsed.near[word] = candidates[1:MAX_NEAR]
        return candidates[0]
    return word


def _clause(tokens: list[_Token], words: list[str], alternatives: list[str], parsed: Parsed) -> Clause:
    typed = tuple(t.lower for t in tokens)
    corrected = tuple(words) != typed
    # A lower-case two-letter synonym ("pa" = prior authorization) is not a state code.
    own_fields = _NOT_PLACE if len(typed) == 1 and len(typed[0]) == 2 and alternatives and not tokens[0].text.isupper() else None
    wordings = [Wording(typed, 1.0, own_fields)]
    if corrected:
        wordings.append(Wording(tuple(words), CORRECTION_WEIGHT))
        # Typo tolerance beyond the best guess: the next nearest known words, weighing less.
        for i, (typed_word, word) in enumerate(zip(typed, words)):
            for rank, near in enumerate(parsed.near.get(typed_word, []), 1):
                alt = tuple(words[:i]) + (near,) + tuple(words[i + 1:])
                wordings.append(Wording(alt, CORRECTION_WEIGHT * NEAR_WEIGHT ** rank))
    for alt in alternatives:
        alt_words = content_words(alt)
        if alt_words:
            place = None if len(alt_words) > 1 or len(alt_words[0]) > 2 else _NOT_PLACE
            # Each word of a wording adds to the score: a longer synonym must not outweigh the
            # words actually typed just by being longer.
            weight = SYNONYM_WEIGHT * (CORRECTION_WEIGHT if corrected else 1) * min(1.0, len(typed) / len(alt_words))
            wordings.append(Wording(alt_words, weight, place))
    if alternatives:
        parsed.expanded[" ".join(words)] = alternatives
    return Clause(tuple(wordings))


# ---------------------------------------------------------------------------------------------
# Filters


def check_filters(raw: dict) -> tuple[dict[str, str], str | None]:
    """The filters in index form, or a message naming the one that is wrong."""
    out = {}
    for name in FILTERS:
        value = clean(raw.get(name) or "").strip()
        if not value:
            continue
        if name == "payer_type":
            if value not in schema.PAYER_TYPES:
                return {}, f"payer_type must be one of {', '.join(schema.PAYER_TYPES)}; got {value!r}."
        elif name == "topic":
            if value not in schema.TOPICS:
                return {}, f"topic must be one of {', '.join(schema.TOPICS)}; got {value!r}."
        elif name == "code":
            value = value.upper()
            if not re.fullmatch(r"[A-V]\d{4}", value):
                return {}, f"code must be a HCPCS Level II code such as J3590; got {value!r}."
        elif name == "state":
            value = STATES_BY_NAME.get(value.lower(), value.upper())
            if value not in STATE_NAMES:
                return {}, f"state must be a two-letter state code such as TX (or its name); got {value!r}."
        out[name] = value
    return out, None


def check_limit(raw) -> tuple[int, str | None]:
    if raw in (None, ""):
        return DEFAULT_LIMIT, None
    try:
        limit = int(str(raw).strip())
    except ValueError:
        limit = 0
    if 1 <= limit <= MAX_LIMIT:
        return limit, None
    return DEFAULT_LIMIT, f"limit must be a whole number from 1 to {MAX_LIMIT}; showing {DEFAULT_LIMIT}."


# ---------------------------------------------------------------------------------------------
# Searching


def snippet_html(pieces: list[tuple[str, bool]]) -> str:
    """Snippet pieces as HTML: text escaped, matches in <mark>."""
    return "".join(f"<mark>{escape(t)}</mark>" if hit else str(escape(t)) for t, hit in pieces)


def _hit_json(hit: Hit) -> dict:
    meta = hit.meta
    return {
        "payer_id": hit.payer_id, "payer_name": hit.payer_name, "payer_type": hit.payer_type,
        "rule_id": hit.rule_id, "topic": hit.topic, "setting": meta.get("setting"),
        "requirement": meta.get("requirement"), "status": meta.get("status"),
        "origin": meta.get("origin"), "as_of": meta.get("as_of"),
        "as_of_undated": bool(meta.get("as_of_undated")), "codes": meta.get("codes", []),
        "states": meta.get("states", []), "summary": hit.summary,
        "snippet": snippet_html(hit.snippet), "score": hit.score,
        # a drug rule (drug_rules) or a payer-level rule (rules)
        "kind": meta.get("kind", "rule"), "drug_id": meta.get("drug_id"), "drug_name": meta.get("drug_name"),
        "criteria_id": meta.get("criteria_id"), "effective_from": meta.get("effective_from"),
        "effective_to": meta.get("effective_to"),
        # every payer carrying this rule word for word (the first is payer_id), and their rule ids
        "payers": [{"payer_id": pid, "payer_name": name} for pid, name in hit.payers],
        "rule_ids": hit.rule_ids, "payer_count": hit.payer_count,
    }


def gap_summary(payer_name: str, topics: list[str]) -> str:
    words = [_in_sentence(TOPIC_LABELS.get(t, t.replace("_", " "))) for t in topics]
    return f"No source found yet for {payer_name}'s {_listed(words)} rules on NOC drug claims."


def _in_sentence(label: str) -> str:
    """A label as it reads inside a sentence: "Invoice" -> "invoice", "NDC" stays."""
    return label if label[1:2].isupper() else label[:1].lower() + label[1:]


def _listed(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _gap_json(line: GapLine) -> dict:
    return {"payer_id": line.payer_id, "payer_name": line.payer_name, "payer_type": line.payer_type,
            "topics": line.topics, "topic_labels": [TOPIC_LABELS.get(t, t) for t in line.topics],
            "rule_ids": line.rule_ids,
            "summary": gap_summary(line.payer_name, line.topics)}


def facet_labels(facets: dict[str, dict[str, int]]) -> dict[str, dict[str, str]]:
    """The words to show for each facet value (payer types, topics and states in words)."""
    named = {"payer_type": PAYER_TYPE_LABELS, "topic": TOPIC_LABELS, "state": STATE_NAMES}
    return {name: {v: named[name].get(v, v) if name in named else v for v in values}
            for name, values in facets.items()}


def _cut_notes(query, parsed: Parsed) -> list[str]:
    notes = []
    if query is not None and len(str(query)) > MAX_CHARS:
        notes.append(f"Your query was cut to its first {MAX_CHARS:,} characters.")
    if parsed.dropped:
        notes.append(f"Only the first {MAX_CLAUSES} terms of your query were searched "
                     f"({parsed.dropped} left out).")
    return notes


def _suggestion(text: str, corrections: dict[str, str]) -> str | None:
    if not corrections:
        return None
    out = text
    for wrong, right in corrections.items():
        out = re.sub(rf"(?i)\b{re.escape(wrong)}\b", right, out)
    return clean(out).strip() or None


def empty_answer(query: str, message: str | None = None, available: bool = True) -> dict:
    """The /-/search.json document with nothing found: every key, none filled in."""
    return {"query": query, "filters": {}, "total": 0, "hits": [], "gaps": [], "gap_total": 0,
            "facets": {f: {} for f in FILTERS}, "facet_labels": {f: {} for f in FILTERS},
            "suggestion": None, "expanded": {}, "message": message, "available": available}


def search(query: str | None, db_path: Path | str = DEFAULT_DB, *, payer_type=None, topic=None, code=None,
           state=None, limit=DEFAULT_LIMIT, with_pieces: bool = False) -> dict:
    """Ranked rules for a query, as the /-/search.json document. Never raises for bad input: what
    went wrong is in "message". with_pieces adds each hit's snippet as (text, matched) pairs."""
    text = clean(query).strip()
    answer = empty_answer(text)
    limit, limit_message = check_limit(limit)
    filters, problem = check_filters({"payer_type": payer_type, "topic": topic, "code": code, "state": state})
    answer["filters"] = filters
    if problem:
        answer["message"] = problem
        return answer
    db_path = Path(db_path)
    if not db_path.exists():
        answer.update(available=False, message=f"There is no database at {db_path}: run `payerkb build`.")
        return answer
    try:
        index = open_search_index(db_path)
        parsed = parse(text, thesaurus_for(db_path), index) if text else Parsed()
        if not parsed.clauses and not filters:
            answer["message"] = (
                "Type what you are looking for, for example: " + "; ".join(EXAMPLES[:3]) + "."
                if not text else f"Nothing searchable in {text!r}: try words such as invoice, prior auth or a payer's name."
            )
            return answer
        results = index.search(parsed.clauses, filters, limit)
    except IndexUnavailable as exc:
        answer.update(available=False,
                      message=f"Search is unavailable: {exc}. Run `payerkb build` to rebuild the search index.")
        return answer
    except sqlite3.Error as exc:
        answer.update(available=False, message=f"The database {db_path} cannot be read ({exc}): run `payerkb build`.")
        return answer
    answer.update(
        total=results.total, facets=results.facets, facet_labels=facet_labels(results.facets),
        expanded=parsed.expanded, suggestion=_suggestion(text, parsed.corrections),
        hits=[_hit_json(h) | ({"snippet_pieces": h.snippet} if with_pieces else {}) for h in results.hits],
        gaps=[_gap_json(line) for line in results.gaps], gap_total=results.gap_total,
    )
    notes = ([limit_message] if limit_message else []) + _cut_notes(query, parsed)
    if not results.hits:
        what = f"No rules matched {text!r}" + (" with these filters" if filters else "")
        notes.append(what + ("; the payers listed have no source found yet for it." if results.gaps else "."))
    elif results.gaps_match_more:
        notes.append(f"No rule with a source matches all of {text!r}: {results.gaps[0].payer_name} has no "
                     "source found yet for it (listed after the rules that match some of your words).")
    if results.stale:
        notes.append("The search index is older than the database; run `payerkb build` to refresh it.")
    answer["message"] = " ".join(notes) or None
    return answer
