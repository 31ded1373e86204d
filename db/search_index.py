"""The Whoosh index behind payerkb's smart search: one document per rule, built next to the database.

This is the only module that imports whoosh. `build_search_index` writes db/<name>.whoosh/ from the
rows of the freshly built database (into a temporary folder, swapped in when complete);
`SearchIndex` opens it and answers a query already broken into `Clause`s by payerkb.search.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from whoosh import highlight, index, query as wq
from whoosh.analysis import LowercaseFilter, RegexTokenizer, StemmingAnalyzer
from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema
from whoosh.matching import NullMatcher
from whoosh.matching.binary import DisjunctionMaxMatcher

META_FILE = "payerkb-index.json"
INDEX_VERSION = 1
MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"  # private-use characters: cannot occur in our text

STATE_NAMES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon",
    "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia",
    "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    "PR": "Puerto Rico", "VI": "US Virgin Islands", "GU": "Guam", "AS": "American Samoa",
    "MP": "Northern Mariana Islands",
}

# The words people use for our enum values, indexed beside them so "prior authorization" finds
# topic prior_auth and "mac" finds payer_type medicare_mac.
TOPIC_WORDS = {
    "prior_auth": "prior authorization",
    "invoice": "invoice",
    "pricing": "pricing price payment reimbursement",
    "ndc": "ndc national drug code",
    "narrative": "narrative description",
    "units": "units",
    "modifiers": "modifiers",
    "documentation": "documentation records",
    "submission": "submission",
    "coding": "coding",
}
PAYER_TYPE_WORDS = {
    "medicare_national": "medicare national fee for service",
    "medicare_mac": "medicare mac medicare administrative contractor",
    "medicare_advantage": "medicare advantage",
    "commercial": "commercial",
    "bcbs": "blue cross blue shield bcbs",
    "medicaid_ffs": "medicaid fee for service",
    "medicaid_mco": "medicaid managed care mco",
    "tricare": "tricare",
    "other": "",
}
SETTING_WORDS = {
    "professional": "professional physician office",
    "outpatient_facility": "outpatient facility hospital",
    "asc": "asc ambulatory surgery center",
    "dme": "dme durable medical equipment",
    "any": "",
}

# Query-time weights: a match on who the payer is or what the rule is about counts more than a
# match in the summary, and much more than one in a source title.
FIELD_BOOSTS = {
    "payer": 2.0, "topic_words": 2.0, "place": 1.5, "codes": 1.2, "details": 1.0,
    "summary": 1.0, "sources": 0.5, "note": 0.5,
}
# Hits are re-ranked from this many BM25 results; a rule matching none of the other clauses keeps
# COORD_FLOOR of its score, one matching all of them keeps all of it.
RERANK_DEPTH, COORD_FLOOR = 60, 0.5
MAX_PREFIX_WORDS = 64
TERM_MASK_CACHE = 1024  # bit masks of recently searched terms (each is doc count / 8 bytes)
# Rows that are not the answer a user wants first: generated gaps and replaced rules.
# (Whoosh applies a document boost to its term weights, so BM25 lowers the score by less than this.)
DOC_BOOSTS = {"gap": 0.3, "superseded": 0.4, "shadowed": 0.6}

STEM = StemmingAnalyzer()
PLAIN = RegexTokenizer() | LowercaseFilter()

SCHEMA = Schema(
    kind=ID(),  # "rule", or "vocabulary" for the one document that only feeds spelling
    rule_id=ID(stored=True, unique=True),
    payer_id=ID(stored=True, sortable=True),
    payer_name=STORED(),
    payer=TEXT(analyzer=STEM),
    place=TEXT(analyzer=PLAIN),
    topic_words=TEXT(analyzer=STEM),
    codes=KEYWORD(lowercase=True, scorable=True),
    summary=TEXT(analyzer=STEM, stored=True),
    details=TEXT(analyzer=STEM),
    sources=TEXT(analyzer=STEM),
    note=TEXT(analyzer=STEM),
    spell=TEXT(analyzer=PLAIN, phrase=False),
    # filters and facets (exact values)
    payer_type=ID(stored=True, sortable=True),
    topic=ID(stored=True, sortable=True),
    code=KEYWORD(commas=True, sortable=True),
    state=KEYWORD(commas=True, sortable=True),
    meta=STORED(),
)
FACETS = ("payer_type", "topic", "code", "state")


class IndexUnavailable(Exception):
    """The index is missing, unreadable or was built by another version: rebuild it."""


def normalize(word: str) -> str:
    """The form the index stores a word in (lower case, stemmed): "Invoices" -> "invoic"."""
    tokens = [t.text for t in STEM(word, removestops=False)]
    return " ".join(tokens) if tokens else word.lower()


def index_path(db_path: Path | str) -> Path:
    db_path = Path(db_path)
    return db_path.with_name(db_path.stem + ".whoosh")


# ---------------------------------------------------------------------------------------------
# Building


def _words(value) -> str:
    return str(value).replace("_", " ") if value not in (None, "") else ""


def _json_list(text) -> list:
    return json.loads(text) if text else []


def _details(rule: dict, claim_fields: dict[str, str]) -> str:
    parts = [_words(rule["requirement"]), SETTING_WORDS.get(rule["setting"] or "any", "")]
    if rule["pricing_basis"]:
        parts.append(_words(rule["pricing_basis"]))
    if rule["percent"] is not None:
        parts.append(f"{rule['percent']:g} percent")
    if rule["threshold_usd"] is not None:
        parts.append(f"{rule['threshold_usd']:g} dollars threshold")
    parts += [claim_fields.get(f, _words(f)) for f in _json_list(rule["claim_field"])]
    if rule["max_chars"]:
        parts.append(f"{rule['max_chars']} characters")
    for key in ("unit_rule", "ndc_format", "submission_channel"):
        parts.append(_words(rule[key]))
    for key in ("modifiers", "ndc_unit_qualifiers", "narrative_elements", "narrative_rejects", "denial_codes"):
        parts += [_words(v) for v in _json_list(rule[key])]
    if rule["invoice_max_age_days"]:
        parts.append(f"{rule['invoice_max_age_days']} days")
    return " ".join(p for p in parts if p)


def _documents(conn: sqlite3.Connection):
    conn.row_factory = sqlite3.Row
    vocabulary: set[str] = set()
    claim_fields = {r["id"]: r["label"] for r in conn.execute("select id, label from claim_fields")}
    cited: dict[str, list[str]] = {}
    for r in conn.execute(
        "select rs.rule_id, s.title, s.publisher, s.document_id from rule_sources rs "
        "join sources s on s.id = rs.source_id"
    ):
        cited.setdefault(r["rule_id"], []).append(
            " ".join(v for v in (r["title"], r["publisher"], r["document_id"]) if v)
        )
    for r in conn.execute(
        "select r.*, p.name as p_name, p.parent_org, p.payer_type, p.states as p_states, "
        "p.jurisdiction, p.aliases from rules r join payers p on p.id = r.payer_id"
    ):
        rule = dict(r)
        states = _json_list(rule["p_states"])
        codes = _json_list(rule["codes"])
        jurisdiction = rule["jurisdiction"] or ""
        payer_text = " ".join([
            rule["p_name"], rule["parent_org"] or "", " ".join(_json_list(rule["aliases"])),
            PAYER_TYPE_WORDS.get(rule["payer_type"], ""), jurisdiction, rule["payer_id"].replace("-", " "),
        ])
        place_text = " ".join(
            [jurisdiction] + states + [STATE_NAMES.get(s, "") for s in states]
        )
        doc = {
            "kind": "rule",
            "rule_id": rule["id"],
            "payer_id": rule["payer_id"],
            "payer_name": rule["p_name"],
            "payer": payer_text,
            "place": place_text,
            "topic_words": TOPIC_WORDS.get(rule["topic"], _words(rule["topic"])),
            "codes": " ".join(codes),
            "summary": (rule["summary"] or "").replace(MARK_OPEN, "").replace(MARK_CLOSE, ""),
            "details": _details(rule, claim_fields),
            "sources": " ".join(cited.get(rule["id"], [])),
            "note": rule["note"] or "",
            "payer_type": rule["payer_type"],
            "topic": rule["topic"],
            "code": ",".join(codes),
            "state": ",".join(states),
            "meta": {k: rule[k] for k in ("setting", "requirement", "status", "origin", "as_of",
                                          "effective_from", "effective_to")}
                    | {"codes": codes, "states": states},
        }
        for f in ("payer", "place", "topic_words", "codes", "summary", "details", "sources", "note"):
            vocabulary.update(t.text for t in PLAIN(doc[f]))
        if rule["origin"] == "gap":
            doc["_boost"] = DOC_BOOSTS["gap"]
        elif rule["status"] == "superseded":
            doc["_boost"] = DOC_BOOSTS["superseded"]
        elif rule["shadowed_by"]:
            doc["_boost"] = DOC_BOOSTS["shadowed"]
        yield doc
    for (term,) in conn.execute("select term from synonyms"):
        vocabulary.update(t.text for t in PLAIN(term))
    # One document holds every word once, as written: spelling suggestions and prefix* search
    # read its word list (the rules are indexed stemmed).
    yield {"kind": "vocabulary", "rule_id": "", "spell": " ".join(sorted(vocabulary))}


def build_search_index(db_path, kb=None) -> Path:
    """Index every rule of the database at db_path into <db>.whoosh/, replacing the old index only
    once the new one is complete. Returns the index folder."""
    db_path = Path(db_path)
    final = index_path(db_path)
    for leftover in final.parent.glob(f"{final.name}.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)  # left by a build that was killed half-way
    tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
    started = time.perf_counter()
    try:
        tmp.mkdir(parents=True)
        ix = index.create_in(tmp, SCHEMA)
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        rules = 0
        try:
            writer = ix.writer(limitmb=128)
            try:
                for doc in _documents(conn):
                    writer.add_document(**doc)
                    rules += doc["kind"] == "rule"
            except BaseException:
                writer.cancel()
                raise
            writer.commit()
        finally:
            conn.close()
        ix.close()
        stat = db_path.stat()
        (tmp / META_FILE).write_text(json.dumps({
            "version": INDEX_VERSION, "rules": rules, "db_size": stat.st_size,
            "db_mtime_ns": stat.st_mtime_ns, "seconds": round(time.perf_counter() - started, 3),
        }))
        _swap_in(tmp, final)
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        from db.build import BuildError

        raise BuildError(
            f"the search index {final} was not rebuilt ({exc.__class__.__name__}: {exc}); "
            f"{db_path} is built, and search keeps using the previous index, if any"
        ) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _swap_in(new: Path, final: Path) -> None:
    # Two renames: a reader that finds no folder in between retries (see open_search_index).
    old = final.with_name(f"{final.name}.tmp-old-{os.getpid()}")
    if final.exists():
        os.rename(final, old)
    os.rename(new, final)
    shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Querying


class _MaxMatcher(DisjunctionMaxMatcher):
    # Whoosh-Reloaded 2.7.5's DisjunctionMaxMatcher scores a document with sub-matchers that sit
    # on other documents, and its replace() drops a live side; these two methods are corrected.

    def score(self):
        a, b = self.a, self.b
        if not a.is_active():
            return b.score()
        if not b.is_active():
            return a.score()
        if a.id() < b.id():
            return a.score()
        if b.id() < a.id():
            return b.score()
        return max(a.score(), b.score())

    def replace(self, minquality=0):
        a, b = self.a, self.b
        if not a.is_active() and not b.is_active():
            return NullMatcher()
        if not a.is_active():
            return b.replace(minquality)
        if not b.is_active():
            return a.replace(minquality)
        if minquality and max(a.max_quality(), b.max_quality()) < minquality:
            return NullMatcher()
        na, nb = a.replace(minquality), b.replace(minquality)
        if na is a and nb is b:
            return self
        if not na.is_active():
            return nb
        if not nb.is_active():
            return na
        return self.__class__(na, nb)


class _DisMax(wq.DisjunctionMax):
    """The best-scoring alternative counts, not their sum (a word found in both the payer name and
    the summary is still one word)."""

    def _matcher(self, subs, searcher, context):
        reader = searcher.reader()
        return self._tree_matcher(subs, _MaxMatcher, searcher, context, lambda q: q.estimate_size(reader))


def _dismax(queries: list):
    queries = [q for q in queries if q is not None]
    if not queries:
        return None
    return queries[0] if len(queries) == 1 else _DisMax(queries)


@dataclass(frozen=True)
class Wording:
    """Words that must all match, each in any of `fields` (all searchable fields when None)."""

    words: tuple[str, ...]
    weight: float = 1.0
    fields: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Clause:
    """One thing the user asked for, in every wording that means it (their own words, synonyms,
    a spelling correction); a document scores by its best-matching wording."""

    wordings: tuple[Wording, ...]
    exclude: bool = False
    phrase: bool = False  # the user quoted it: its words must be adjacent
    prefix: bool = False  # the user ended it with *: the last word is a prefix


@dataclass
class Hit:
    rule_id: str
    payer_id: str
    payer_name: str
    payer_type: str
    topic: str
    summary: str
    snippet: list[tuple[str, bool]]  # (text, matched) pieces
    score: float
    meta: dict = field(default_factory=dict)


@dataclass
class Results:
    hits: list[Hit]
    total: int
    facets: dict[str, dict[str, int]]
    stale: bool = False


class SearchIndex:
    """An opened index. Thread-safe: searches run one at a time on a shared searcher."""

    def __init__(self, path: Path, db_path: Path | None = None):
        self.path = Path(path)
        self.db_path = Path(db_path) if db_path else None
        self._lock = threading.Lock()
        try:
            meta = json.loads((self.path / META_FILE).read_text())
            if meta.get("version") != INDEX_VERSION:
                raise IndexUnavailable(f"the index at {self.path} was built by another payerkb version")
            self.meta = meta
            self._ix = index.open_dir(str(self.path))
            self._searcher = self._ix.searcher()
            self._reader = self._searcher.reader()
            self._masks = {name: _value_masks(self._reader, name) for name in FACETS + ("kind",)}
            # The words of each searchable field: a query skips words a field does not have.
            self._lexicons = {name: {SCHEMA[name].from_bytes(b) for b in self._reader.lexicon(name)}
                              for name in FIELD_BOOSTS}
            self._filter_sets: dict[tuple, set[int]] = {}
            self._term_masks: dict[tuple[str, str], int] = {}
        except IndexUnavailable:
            raise
        except FileNotFoundError as exc:
            raise IndexUnavailable(f"no search index at {self.path}") from exc
        except Exception as exc:  # whoosh raises many kinds on a damaged folder
            raise IndexUnavailable(f"the search index at {self.path} cannot be read ({exc.__class__.__name__})") from exc
        self.identity = _identity(self.path)

    def close(self) -> None:
        self._searcher.close()

    # vocabulary ---------------------------------------------------------------------------

    def knows(self, word: str) -> bool:
        """True when the word (as typed, or its stem) occurs somewhere in the index."""
        word = word.lower()
        with self._lock:
            if self._reader.doc_frequency("spell", word):
                return True
            for name in ("summary", "payer", "details", "topic_words", "sources"):
                for token in SCHEMA[name].process_text(word, mode="query"):
                    if self._reader.doc_frequency(name, token):
                        return True
        return False

    def corrections(self, word: str, maxdist: int) -> list[str]:
        """Known words within maxdist edits of word (same first letter), closest and most common first."""
        word = word.lower()
        with self._lock:
            found = set()
            for dist in range(1, maxdist + 1):
                found |= {(dist, w) for w in self._reader.terms_within("spell", word, dist, prefix=1)
                          if w != word}
                if found:
                    break
            ranked = sorted(found, key=lambda dw: (dw[0], -self._popularity(dw[1]), dw[1]))
        return [w for _, w in ranked]

    def _popularity(self, word: str) -> int:
        """How many rules use the word (in any form), to prefer common words among corrections."""
        return sum(self._reader.doc_frequency(name, token)
                   for name in ("summary", "payer", "topic_words", "details")
                   for token in SCHEMA[name].process_text(word, mode="query"))

    # search -------------------------------------------------------------------------------

    def search(self, clauses: list[Clause], filters: dict[str, str], limit: int) -> Results:
        allowed = self._masks["kind"].get("rule", 0)
        for name, value in filters.items():
            allowed &= self._masks[name].get(value, 0)
        with self._lock:
            built = [(c.exclude, *self._clause(c)) for c in clauses]
            positive = [q for exclude, q, _ in built if not exclude]
            negative = [q for exclude, q, _ in built if exclude]
            # Facets and the total count every match, not only the hits shown: bit masks, one per
            # term and one per facet value, combined as the query combines its clauses.
            matched = allowed
            if positive:
                any_clause = 0
                for exclude, _, m in built:
                    if not exclude:
                        any_clause |= m
                matched &= any_clause
            for exclude, _, m in built:
                if exclude:
                    matched &= ~m
            q = wq.Or(positive) if positive else wq.Every()
            if negative:
                q = wq.AndNot(q, wq.Or(negative))
            # Only rule documents have searchable fields, so a word query needs no filter at all.
            restrict = self._filter_set(filters, allowed) if filters or not positive else None
            if positive:
                results = self._searcher.search(q, filter=restrict, limit=max(limit * 3, RERANK_DEPTH),
                                                 terms=True)
                ranked = self._coordinated(results, positive)[:limit]
            else:
                results = self._searcher.search(q, filter=restrict, limit=limit, sortedby=["payer_id", "topic"])
                ranked = [(h, 0.0) for h in results]
            results.fragmenter = highlight.ContextFragmenter(maxchars=240, surround=60)
            results.formatter = _MarkFormatter()
            hits = [self._hit(h, score, bool(positive)) for h, score in ranked]
        facets = {
            name: _counts({value: (matched & mask).bit_count() for value, mask in self._masks[name].items()})
            for name in FACETS
        }
        return Results(hits, matched.bit_count(), facets, stale=self.is_stale())

    def _coordinated(self, results, clause_queries) -> list:
        """The hits re-ranked so that a rule matching more of what was asked comes first: BM25
        adds up the clauses, but one strong word (a payer's name) can still outweigh three."""
        if len(clause_queries) < 2:
            return [(h, h.score) for h in results]
        terms = [set(cq.existing_terms(self._reader, expand=True)) for cq in clause_queries]
        scored = []
        for h in results:
            matched = set(h.matched_terms())
            share = sum(1 for t in terms if t & matched) / len(terms)
            scored.append((h, h.score * (COORD_FLOOR + (1 - COORD_FLOOR) * share)))
        scored.sort(key=lambda hs: -hs[1])
        return scored

    def _filter_set(self, filters: dict, allowed: int) -> set[int]:
        key = tuple(sorted(filters.items()))
        found = self._filter_sets.get(key)
        if found is None:
            if len(self._filter_sets) > 256:
                self._filter_sets.clear()
            found = self._filter_sets[key] = _docnums(allowed)
        return found

    def is_stale(self) -> bool:
        """True when the database was rebuilt after this index (e.g. the index step failed)."""
        if self.db_path is None:
            return False
        return _db_identity(self.db_path) != (self.meta.get("db_size"), self.meta.get("db_mtime_ns"))

    def _hit(self, h, score: float, highlighted: bool) -> Hit:
        summary = h["summary"]
        marked = h.highlights("summary", top=2) if highlighted else ""
        return Hit(
            rule_id=h["rule_id"], payer_id=h["payer_id"], payer_name=h["payer_name"],
            payer_type=h["payer_type"], topic=h["topic"], summary=summary,
            snippet=_pieces(marked) if marked else [(_shorten(summary), False)],
            score=round(score, 4), meta=h["meta"],
        )

    def _clause(self, clause: Clause) -> tuple:
        """The clause as a whoosh query, and the bit mask of the documents it matches."""
        options, mask = [], 0
        for wording in clause.wordings:
            fields = {f: b for f, b in FIELD_BOOSTS.items() if wording.fields is None or f in wording.fields}
            q, m = self._wording(wording.words, fields, wording.weight, clause.phrase, clause.prefix)
            options.append(q)
            mask |= m
        return _dismax(options) or wq.NullQuery, mask

    def _wording(self, words, fields, weight, phrase, prefix) -> tuple:
        if len(words) > 1 and not phrase:
            # Unquoted words may each match in a different field (payer name, state, summary).
            parts = [self._wording((w,), fields, weight, False, prefix and i == len(words) - 1)
                     for i, w in enumerate(words)]
            # A word no field has (or one too short to index, as "j" in "jurisdiction j") means
            # this wording cannot match; dropping the word instead would make it match too much.
            if any(q is None for q, _ in parts):
                return None, 0
            mask = parts[0][1]
            for _, m in parts[1:]:
                mask &= m
            return wq.And([q for q, _ in parts]), mask
        if prefix:
            # Stemmed fields hold "author" for "authorization": expand the prefix over the words
            # as written (the spelling field), then search each word found.
            start = words[-1].lower()
            found = [] if len(start) < 2 else list(islice(
                (SCHEMA["spell"].from_bytes(b) for b in self._reader.expand_prefix("spell", start)), MAX_PREFIX_WORDS))
            parts = [self._wording((w,), fields, weight, False, False) for w in found]
            mask = 0
            for _, m in parts:
                mask |= m
            return _dismax([q for q, _ in parts]), mask
        per_field, mask = [], 0
        for name, boost in fields.items():
            fobj = SCHEMA[name]
            tokens = [t for w in words for t in fobj.process_text(w, mode="query")]
            if not tokens or any(t not in self._lexicons[name] for t in tokens):
                continue
            field_mask = self._term_mask(name, tokens[0])
            for t in tokens[1:]:
                field_mask &= self._term_mask(name, t)  # a phrase counts as its words (facets only)
            mask |= field_mask
            if len(tokens) == 1:
                per_field.append(wq.Term(name, tokens[0], boost=boost * weight))
            elif fobj.format.supports("positions"):
                per_field.append(wq.Phrase(name, tokens, boost=boost * weight))
            else:
                per_field.append(wq.And([wq.Term(name, t) for t in tokens], boost=boost * weight))
        return _dismax(per_field), mask

    def _term_mask(self, fieldname: str, token: str) -> int:
        key = (fieldname, token)
        mask = self._term_masks.get(key)
        if mask is None:
            btext = SCHEMA[fieldname].to_bytes(token)
            mask = _mask(self._reader.postings(fieldname, btext).all_ids(), self._reader.doc_count_all())
            if len(self._term_masks) >= TERM_MASK_CACHE:
                self._term_masks.pop(next(iter(self._term_masks)))
        else:
            del self._term_masks[key]  # re-inserted below: most recently used last
        self._term_masks[key] = mask
        return mask


class _MarkFormatter(highlight.Formatter):
    between = " … "

    def format_token(self, text, token, replace=False):
        return MARK_OPEN + highlight.get_text(text, token, replace) + MARK_CLOSE


def _pieces(marked: str) -> list[tuple[str, bool]]:
    pieces = []
    for i, chunk in enumerate(marked.split(MARK_OPEN)):
        if i == 0:
            pieces.append((chunk, False))
            continue
        hit, _, rest = chunk.partition(MARK_CLOSE)
        pieces += [(hit, True), (rest, False)]
    return [(t, m) for t, m in pieces if t]


def _shorten(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def _counts(groups: dict) -> dict[str, int]:
    items = [(k, v) for k, v in groups.items() if k and v]
    return dict(sorted(items, key=lambda kv: (-kv[1], kv[0])))


def _mask(docnums, size: int) -> int:
    bits = bytearray((size + 7) // 8)
    for d in docnums:
        bits[d >> 3] |= 1 << (d & 7)
    return int.from_bytes(bits, "little")


def _docnums(mask: int) -> set[int]:
    bits = mask.to_bytes((mask.bit_length() + 7) // 8, "little")
    return {i * 8 + j for i, byte in enumerate(bits) if byte for j in range(8) if byte >> j & 1}


def _value_masks(reader, fieldname: str) -> dict[str, int]:
    """For each value of an exact-value field, the bit mask of the documents that have it."""
    size = reader.doc_count_all()
    fobj = SCHEMA[fieldname]
    return {
        fobj.from_bytes(btext): _mask(reader.postings(fieldname, btext).all_ids(), size)
        for btext in reader.lexicon(fieldname)
    }


def _identity(path: Path):
    try:
        st = path.stat()
        toc = max((p.stat().st_mtime_ns for p in path.glob("*.toc")), default=0)
        return (st.st_ino, toc)
    except OSError:
        return None


def _db_identity(db: Path):
    try:
        st = db.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


_open_lock = threading.Lock()
_opened: dict[Path, SearchIndex] = {}


def open_search_index(db_path) -> SearchIndex:
    """The index of the database at db_path, opened once and reopened when it was rebuilt.
    Raises IndexUnavailable with a message a user can act on."""
    path = index_path(db_path).resolve()
    with _open_lock:
        current = _opened.get(path)
        if current is not None and current.identity == _identity(path):
            return current
        for attempt in range(2):
            try:
                fresh = SearchIndex(path, Path(db_path).resolve())
                break
            except IndexUnavailable:
                if attempt or path.exists():
                    raise
                time.sleep(0.05)  # a build may be between its two renames
        _opened[path] = fresh
        return fresh


def forget(db_path) -> None:
    """Drop the cached index of db_path (tests that damage an index on purpose)."""
    with _open_lock:
        current = _opened.pop(index_path(db_path).resolve(), None)
    if current is not None:
        current.close()
