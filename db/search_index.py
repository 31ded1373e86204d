"""The Whoosh index behind payerkb's smart search: one document per rule, built next to the database.

This is the only module that imports whoosh. `build_search_index` writes db/<name>.whoosh/ from the
rows of the freshly built database (into a temporary folder, swapped in when complete);
`SearchIndex` opens it and answers a query already broken into `Clause`s by payerkb.search.
"""
from __future__ import annotations

import json
import os
from array import array
from collections import OrderedDict
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
from whoosh import highlight, index, query as wq
from whoosh.codec import whoosh3 as w3
from whoosh.analysis import LowercaseFilter, RegexTokenizer, StemmingAnalyzer
from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema
from whoosh.searching import Searcher

META_FILE = "payerkb-index.json"
INDEX_VERSION = 3
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
# A rule matching one of several clauses keeps COORD_FLOOR of its score, one matching all keeps all.
COORD_FLOOR = 0.5
BM25_K1, BM25_B = 1.2, 0.75
MAX_CACHED_POSTINGS = 4_000_000  # term score arrays kept between queries (8 bytes a posting)
MAX_PREFIX_WORDS = 64
# Rows that are not the answer a user wants first: generated gaps and replaced rules.
# (Whoosh applies a document boost to its term weights, so BM25 lowers the score by less than this.)
DOC_BOOSTS = {"gap": 0.5, "superseded": 0.4, "shadowed": 0.6}

STEM = StemmingAnalyzer()
PLAIN = RegexTokenizer() | LowercaseFilter()

SCHEMA = Schema(
    kind=ID(),  # "rule", or "vocabulary" for the one document that only feeds spelling
    rule_id=ID(stored=True, unique=True),
    payer_id=ID(stored=True, sortable=True),
    payer_name=STORED(),
    payer=TEXT(analyzer=PLAIN),  # names are typed as written; stemming made "authoriz*" hit "Authority"
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
    meta=STORED(),
)
FACETS = ("payer_type", "topic", "code", "state")
# Facet values of code and state are read from the searchable codes and place fields.
FACET_FIELDS = {"payer_type": "payer_type", "topic": "topic", "code": "codes", "state": "place", "kind": "kind"}


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
        "p.jurisdiction, p.aliases from rules r join payers p on p.id = r.payer_id "
        "order by r.payer_id, r.topic, r.id"  # document order: filter-only results list in this order
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
#
# Whoosh's own searcher walks a tree of matchers one document at a time in Python: with synonyms
# and several fields per word that takes over 100 ms once a word matches ten thousand rules. So
# the index is Whoosh's (analysis, postings, word lists, stored fields, highlighting) but the
# scoring is BM25 over whole posting lists at once with numpy: one array of scores per term,
# cached, combined with maximum (alternatives), sum (words and clauses) and a coordination factor.


@dataclass(frozen=True)
class Wording:
    """Words that must all match, each in any of `fields` (all searchable fields when None)."""

    words: tuple[str, ...]
    weight: float = 1.0
    fields: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Clause:
    """One thing the user asked for, in every wording that means it (their own words, synonyms,
    spelling corrections); a rule scores by its best-matching wording."""

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
    """An opened index. Thread-safe: searches run one at a time."""

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
            self._reader = self._ix.reader()
            self._searcher = Searcher(self._reader)  # only for phrase matching
            self._n = self._reader.doc_count_all()
            self._masks = {name: _value_masks(self._reader, fname) for name, fname in FACET_FIELDS.items()}
            self._masks["code"] = {v.upper(): m for v, m in self._masks["code"].items()}
            self._masks["state"] = {v.upper(): m for v, m in self._masks["state"].items()
                                    if v.upper() in STATE_NAMES}
            # The words of each searchable field: a query skips words a field does not have.
            self._lexicons = {name: {SCHEMA[name].from_bytes(b) for b in self._reader.lexicon(name)}
                              for name in FIELD_BOOSTS}
            self._lengths = {name: _field_lengths(self._reader, name, self._n) for name in FIELD_BOOSTS}
        except IndexUnavailable:
            raise
        except FileNotFoundError as exc:
            raise IndexUnavailable(f"no search index at {self.path}") from exc
        except Exception as exc:  # whoosh raises many kinds on a damaged folder
            raise IndexUnavailable(f"the search index at {self.path} cannot be read ({exc.__class__.__name__})") from exc
        self._term_scores_cache: OrderedDict = OrderedDict()
        self._cached_postings = 0
        self._allowed: dict[tuple, np.ndarray] = {}
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
            return any(token in self._lexicons[name]
                       for name in ("summary", "payer", "details", "topic_words", "sources")
                       for token in SCHEMA[name].process_text(word, mode="query"))

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
        with self._lock:
            allowed = self._allowed_docs(filters)
            summary_terms: set[str] = set()
            positive = [self._clause_scores(c, summary_terms) for c in clauses if not c.exclude]
            if positive:
                final = np.sum(positive, axis=0)
                if len(positive) > 1:
                    # Rank rules matching more of what was asked higher: BM25 adds the clauses
                    # up, but one strong word (a payer's name) could still outweigh three.
                    share = np.count_nonzero(positive, axis=0) / len(positive)
                    final *= COORD_FLOOR + (1 - COORD_FLOOR) * share
                final *= allowed
            else:
                final = allowed.astype(np.float32)
            for c in clauses:
                if c.exclude:
                    final[self._clause_scores(c, set()) > 0] = 0
            matched = final > 0
            total = int(np.count_nonzero(matched))
            top = _top(final, min(limit, total)) if positive else np.flatnonzero(matched)[:limit]
            hits = [self._hit(int(d), float(final[d]) if positive else 0.0, summary_terms) for d in top]
        mask = int.from_bytes(np.packbits(matched, bitorder="little").tobytes(), "little")
        facets = {
            name: _counts({value: (mask & m).bit_count() for value, m in self._masks[name].items()})
            for name in FACETS
        }
        return Results(hits, total, facets, stale=self.is_stale())

    def is_stale(self) -> bool:
        """True when the database was rebuilt after this index (e.g. the index step failed)."""
        if self.db_path is None:
            return False
        return _db_identity(self.db_path) != (self.meta.get("db_size"), self.meta.get("db_mtime_ns"))

    def _allowed_docs(self, filters: dict[str, str]) -> np.ndarray:
        key = tuple(sorted(filters.items()))
        found = self._allowed.get(key)
        if found is None:
            mask = self._masks["kind"].get("rule", 0)
            for name, value in filters.items():
                mask &= self._masks[name].get(value, 0)
            raw = np.frombuffer(mask.to_bytes((self._n + 7) // 8, "little"), np.uint8)
            found = np.unpackbits(raw, bitorder="little")[: self._n].astype(np.float32)
            if len(self._allowed) > 256:
                self._allowed.clear()
            self._allowed[key] = found
        return found

    def _hit(self, docnum: int, score: float, summary_terms: set[str]) -> Hit:
        stored = self._reader.stored_fields(docnum)
        summary = stored["summary"]
        marked = ""
        if summary_terms:
            marked = highlight.highlight(summary, frozenset(summary_terms), STEM,
                                         highlight.ContextFragmenter(maxchars=240, surround=60),
                                         _MarkFormatter(), top=2)
        return Hit(
            rule_id=stored["rule_id"], payer_id=stored["payer_id"], payer_name=stored["payer_name"],
            payer_type=stored["payer_type"], topic=stored["topic"], summary=summary,
            snippet=_pieces(marked) if marked else [(_shorten(summary), False)],
            score=round(score, 4), meta=stored["meta"],
        )

    # scores -------------------------------------------------------------------------------

    def _clause_scores(self, clause: Clause, summary_terms: set[str]) -> np.ndarray:
        best = np.zeros(self._n, np.float32)
        for wording in clause.wordings:
            fields = {f: b for f, b in FIELD_BOOSTS.items() if wording.fields is None or f in wording.fields}
            scores = self._wording_scores(wording.words, fields, wording.weight, clause.phrase,
                                          clause.prefix, summary_terms)
            if scores is not None:
                np.maximum(best, scores, out=best)
        return best

    def _wording_scores(self, words, fields, weight, phrase, prefix, summary_terms):
        if len(words) > 1 and not phrase:
            # Unquoted words may each match in a different field (payer name, state, summary).
            parts = [self._wording_scores((w,), fields, weight, False, prefix and i == len(words) - 1,
                                          summary_terms) for i, w in enumerate(words)]
            # A word no field has (or one too short to index, as "j" in "jurisdiction j") means
            # this wording cannot match; dropping the word instead would make it match too much.
            return None if any(p is None for p in parts) else _all_of(parts)
        if prefix:
            # Stemmed fields hold "author" for "authorization": expand the prefix over the words
            # as written (the spelling field), then search each word found.
            start = words[-1].lower()
            found = [] if len(start) < 2 else list(islice(
                (SCHEMA["spell"].from_bytes(b) for b in self._reader.expand_prefix("spell", start)), MAX_PREFIX_WORDS))
            parts = [self._wording_scores((w,), fields, weight, False, False, summary_terms) for w in found]
            return _best_of([p for p in parts if p is not None])
        per_field = []
        for name, boost in fields.items():
            fobj = SCHEMA[name]
            tokens = [t for w in words for t in fobj.process_text(w, mode="query")]
            if not tokens or any(t not in self._lexicons[name] for t in tokens):
                continue
            scores = _all_of([self._dense(name, t, boost * weight) for t in tokens])
            if phrase and len(tokens) > 1 and fobj.format.supports("positions"):
                adjacent = np.zeros(self._n, bool)
                adjacent[list(wq.Phrase(name, tokens).matcher(self._searcher).all_ids())] = True
                scores *= adjacent
            if name == "summary":
                summary_terms.update(tokens)
            per_field.append(scores)
        return _best_of(per_field)

    def _dense(self, fieldname: str, token: str, factor: float) -> np.ndarray:
        ids, scores = self._term_scores(fieldname, token)
        out = np.zeros(self._n, np.float32)
        out[ids] = scores * factor
        return out

    def _term_scores(self, fieldname: str, token: str) -> tuple[np.ndarray, np.ndarray]:
        """BM25 (k1 1.2, b 0.75) of every rule containing the term, kept for later queries."""
        key = (fieldname, token)
        found = self._term_scores_cache.pop(key, None)
        if found is None:
            ids, tf = _postings(self._reader, fieldname, SCHEMA[fieldname].to_bytes(token))
            lengths = self._lengths[fieldname]
            average = max(lengths.mean(), 1.0)
            df = len(ids)
            idf = np.log(1 + (self._n - df + 0.5) / (df + 0.5))
            norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths[ids] / average)
            found = (ids, (idf * tf * (BM25_K1 + 1) / (tf + norm)).astype(np.float32))
            self._cached_postings += df
            while self._cached_postings > MAX_CACHED_POSTINGS and self._term_scores_cache:
                _, (old_ids, _) = self._term_scores_cache.popitem(last=False)
                self._cached_postings -= len(old_ids)
        self._term_scores_cache[key] = found
        return found


def _postings(reader, fieldname: str, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Document numbers and term weights (frequency times document boost) of one term."""
    m = reader.postings(fieldname, btext)
    ids, weights = array("i"), array("f")
    if hasattr(m, "_read_ids") and hasattr(m, "_next_block"):
        # Whoosh's on-disk matcher decodes postings a block at a time; take whole blocks rather
        # than one posting per Python call (private attributes of W3LeafMatcher, which is frozen
        # in Whoosh-Reloaded 2.7.5; the public path below is the fallback).
        while m.is_active():
            m._read_ids()
            m._read_weights()
            ids.extend(m._ids)
            weights.extend(m._weights)
            m._next_block()
    else:
        while m.is_active():
            ids.append(m.id())
            weights.append(m.weight())
            m.next()
    return np.frombuffer(ids, np.int32).copy(), np.frombuffer(weights, np.float32).copy()


def _field_lengths(reader, fieldname: str, n: int) -> np.ndarray:
    """The length (in words) of the field in every document."""
    perdoc = getattr(reader, "_perdoc", None)
    if perdoc is not None and hasattr(perdoc, "_cached_reader"):
        # One read of the whole lengths column (private to Whoosh's W3 codec) instead of a call
        # per document; Whoosh stores each length as one byte.
        column = perdoc._cached_reader(w3._lenfield(fieldname), w3.LENGTHS_COLUMN)
        if column is None:
            return np.zeros(n, np.float32)
        table = np.array([w3.byte_to_length(b) for b in range(256)], np.float32)
        codes = np.zeros(n, np.uint8)  # documents past the column's end have length 0
        try:
            count = column._count
            codes[:count] = np.frombuffer(column._dbfile.get(column._basepos, count), np.uint8)
        except AttributeError:
            codes[:] = np.fromiter(column, np.uint8, n)
        return table[codes]
    length = reader.doc_field_length
    return np.fromiter((length(d, fieldname, 0) or 0 for d in range(n)), np.float32, n)


def _all_of(parts: list[np.ndarray]) -> np.ndarray:
    """Sum of the parts where every part matched, else 0."""
    if len(parts) == 1:
        return parts[0]
    total = np.sum(parts, axis=0)
    total[np.any(np.asarray(parts) == 0, axis=0)] = 0
    return total


def _best_of(parts: list[np.ndarray]) -> np.ndarray | None:
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else np.max(parts, axis=0)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indexes of the k highest scores, best first (ties: index order)."""
    if k <= 0:
        return np.array([], np.int64)
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return part[np.lexsort((part, -scores[part]))]


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


def _mask(docnums: np.ndarray, size: int) -> int:
    """The documents as a bit mask (a Python int: bit d set for document d)."""
    bits = np.zeros(size, bool)
    bits[docnums] = True
    return int.from_bytes(np.packbits(bits, bitorder="little").tobytes(), "little")


def _value_masks(reader, fieldname: str) -> dict[str, int]:
    """For each value of an exact-value field, the bit mask of the documents that have it."""
    size = reader.doc_count_all()
    fobj = SCHEMA[fieldname]
    return {fobj.from_bytes(btext): _mask(_postings(reader, fieldname, btext)[0], size)
            for btext in reader.lexicon(fieldname)}


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
