"""Ranking for payerkb's smart search: a query already broken into `Clause`s by payerkb.search,
answered over the arrays db/search_index.py reads from the Whoosh index.

Whoosh's own searcher walks a tree of matchers one document at a time in Python: with synonyms
and several fields per word that takes over 100 ms once a word matches ten thousand rules. So the
scoring here is BM25 over whole posting lists at once with numpy: one array of scores per term,
cached, combined with maximum (alternatives), sum (words and clauses) and a coordination factor.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from db.search_documents import MARK_CLOSE, MARK_OPEN, STATE_NAMES
from db.search_index import IndexFiles, as_unavailable, open_index

# Query-time weights: a match on who the payer is or what the rule is about counts more than a
# match in the summary, and much more than one in a source title.
FIELD_BOOSTS = {
    "payer": 2.0, "topic_words": 2.0, "drug": 2.5, "place": 1.5, "codes": 1.2, "details": 1.0,
    "summary": 1.0, "sources": 0.5, "note": 0.5,
}
# A rule matching one of several clauses keeps COORD_FLOOR of its score, one matching all keeps all.
COORD_FLOOR = 0.5
BM25_K1, BM25_B = 1.2, 0.75
MAX_CACHED_POSTINGS = 4_000_000  # term score arrays kept between queries (8 bytes a posting)
MAX_PREFIX_WORDS = 64
FACETS = ("payer_type", "topic", "code", "state")
# Facet values of code and state are read from the searchable codes and place fields.
FACET_FIELDS = {"payer_type": "payer_type", "topic": "topic", "code": "codes", "state": "place", "kind": "kind",
                "footing": "footing"}
# Candidates ranked per hit shown, to fill the page after shared rules are merged; payers listed
# on one shared rule (all of them are counted); gap lines (payers) and gap rows read.
CANDIDATES_PER_HIT, MAX_LISTED_PAYERS = 4, 25
MAX_GAP_LINES, MAX_GAP_ROWS = 10, 300


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
    # A rule that several payers share word for word (a national rule each contractor carries)
    # is one hit: every payer and rule id, the first being payer_id and rule_id.
    payers: list[tuple[str, str]] = field(default_factory=list)  # up to MAX_LISTED_PAYERS
    rule_ids: list[str] = field(default_factory=list)
    payer_count: int = 1  # every payer carrying it


@dataclass
class GapLine:
    """One payer's matching generated gaps (no source found yet), as one line."""

    payer_id: str
    payer_name: str
    payer_type: str
    topics: list[str]
    rule_ids: list[str]


@dataclass
class Results:
    hits: list[Hit]
    total: int  # matching rules (gaps not counted)
    facets: dict[str, dict[str, int]]
    stale: bool = False
    gaps: list[GapLine] = field(default_factory=list)
    gap_total: int = 0  # matching gap rows
    gaps_match_more: bool = False  # a gap matches more of the query's words than any rule


class SearchIndex:
    """An opened index ready to answer queries. Thread-safe: searches run one at a time."""

    def __init__(self, files: IndexFiles, db_path: Path | None = None):
        self.files = files
        self.db_path = Path(db_path) if db_path else None
        self._lock = threading.Lock()
        self._n = files.doc_count
        with as_unavailable(files.path):
            self._masks = {name: _value_masks(files, fname, self._n) for name, fname in FACET_FIELDS.items()}
            self._masks["code"] = {v.upper(): m for v, m in self._masks["code"].items()}
            self._masks["state"] = {v.upper(): m for v, m in self._masks["state"].items()
                                    if v.upper() in STATE_NAMES}
            # The same masks as rows of 64-bit words, to count every facet value at once.
            self._facet_words = {name: _word_matrix(self._masks[name], self._n) for name in FACETS}
            # The words of each searchable field: a query skips words a field does not have.
            self._lexicons = {name: files.lexicon(name) for name in FIELD_BOOSTS}
            self._lengths = {name: files.field_lengths(name) for name in FIELD_BOOSTS}
            # Ranking tiers, and the generated gaps that are listed apart (see search).
            footing = files.value_docs("footing")
            self._gap = np.zeros(self._n, bool)
            self._gap[footing.get("gap", [])] = True
            self._unconfirmed = np.zeros(self._n, bool)
            self._unconfirmed[footing.get("unconfirmed", [])] = True
        self._term_scores_cache: OrderedDict = OrderedDict()
        self._corrections: dict[tuple[str, int], tuple[str, ...]] = {}
        self._cached_postings = 0
        self._allowed: dict[tuple, np.ndarray] = {}

    # vocabulary ---------------------------------------------------------------------------

    def knows(self, word: str) -> bool:
        """True when the word (as typed, or its stem) occurs somewhere in the index."""
        word = word.lower()
        with self._lock:
            if self.files.doc_frequency("spell", word):
                return True
            return any(token in self._lexicons[name]
                       for name in ("summary", "payer", "details", "topic_words", "sources", "drug")
                       for token in self.files.analyze(name, word))

    def corrections(self, word: str, maxdist: int) -> list[str]:
        """Known words within maxdist edits of word (same first letter), closest and most common first.
        Remembered per index (Whoosh walks a Levenshtein automaton over the word list in Python)."""
        word = word.lower()
        found = self._corrections.get((word, maxdist))
        if found is None:
            found = self._find_corrections(word, maxdist)
            if len(self._corrections) >= 4096:
                self._corrections.clear()
            self._corrections[(word, maxdist)] = found
        return list(found)

    def _find_corrections(self, word: str, maxdist: int) -> tuple[str, ...]:
        with self._lock:
            found = set()
            for dist in range(1, maxdist + 1):
                found |= {(dist, w) for w in self.files.spelling_candidates(word, dist) if w != word}
                if found:
                    break
            ranked = sorted(found, key=lambda dw: (dw[0], -self._popularity(dw[1]), dw[1]))
        return tuple(w for _, w in ranked)

    def _popularity(self, word: str) -> int:
        """How many rules use the word (in any form), to prefer common words among corrections."""
        return sum(self.files.doc_frequency(name, token)
                   for name in ("summary", "payer", "topic_words", "details")
                   for token in self.files.analyze(name, word))

    # search -------------------------------------------------------------------------------

    def search(self, clauses: list[Clause], filters: dict[str, str], limit: int) -> Results:
        """The best `limit` hits for the clauses within the filters, and the matching gaps apart.

        Order: rules matching more of the clauses first; among those matching as many, sourced
        rules before unconfirmed and superseded ones; then by score. Generated gaps (no source
        found yet) are not hits: they come back as one line per payer (`gaps`), after the hits."""
        with self._lock:
            allowed = self._allowed_docs(filters)
            summary_terms: set[str] = set()
            positive = [self._clause_scores(c, summary_terms) for c in clauses if not c.exclude]
            if positive:
                final = np.sum(positive, axis=0)
                matched_clauses = np.count_nonzero(positive, axis=0) if len(positive) > 1 else (final > 0)
                if len(positive) > 1:
                    # Rank rules matching more of what was asked higher: BM25 adds the clauses
                    # up, but one strong word (a payer's name) could still outweigh three.
                    final *= COORD_FLOOR + (1 - COORD_FLOOR) * (matched_clauses / len(positive))
                final *= allowed
            else:
                final = allowed.astype(np.float32)
            for c in clauses:
                if c.exclude:
                    final[self._clause_scores(c, set()) > 0] = 0
            matched = final > 0
            rules = matched & ~self._gap
            gaps = matched & self._gap
            total = int(np.count_nonzero(rules))
            if positive and len(positive) > 1 and gaps.any():
                # A gap is worth listing only when it matches as much of the query as the best
                # rule and the best gap do: every gap carries the NOC codes, so "c9399 asc" would
                # list them all, and "aetna invoice" is about Aetna's gap, not everyone's.
                best = max(matched_clauses[rules].max() if total else 0, matched_clauses[gaps].max())
                gaps &= matched_clauses >= best
            gap_total = int(np.count_nonzero(gaps))
            if positive:
                # One sortable number: clauses matched, then footing, then score (BM25 sums stay
                # far below 1e5).
                key = (matched_clauses.astype(np.float64) * 1e6 + (~self._unconfirmed) * 1e5
                       + np.minimum(final, 99_999.0))
                rule_key = np.where(rules, key, 0.0)
                gap_order = _top(np.where(gaps, key, 0.0), min(MAX_GAP_ROWS, gap_total))
            else:  # filters only: by payer and topic (document order: the lower, the higher)
                rule_key = np.where(rules, -np.arange(self._n, dtype=np.float64) - 1.0, -np.inf)
                gap_order = np.flatnonzero(gaps)[:MAX_GAP_ROWS]
            hits = self._merged_hits(rules, rule_key, total, final if positive else None, summary_terms, limit)
            gap_lines = self._gap_lines(gap_order)
            gaps_match_more = bool(positive and len(gap_order) and (
                total == 0 or matched_clauses[gap_order[0]] > matched_clauses[int(np.argmax(rule_key))]))
        words = _words(rules, self._n)
        facets = {}
        for name in FACETS:
            values, matrix = self._facet_words[name]
            counts = np.bitwise_count(matrix & words).sum(axis=1).tolist() if values else []
            facets[name] = _counts(dict(zip(values, counts)))
        return Results(hits, total, facets, stale=self.is_stale(), gaps=gap_lines, gap_total=gap_total,
                       gaps_match_more=gaps_match_more)

    def _merged_hits(self, rules, key, total: int, scores, summary_terms: set[str], limit: int) -> list[Hit]:
        """The best `limit` hits by key, a rule shared word for word by several payers (one group
        of the document table) merged into its best-ranked copy."""
        groups = self.files.docs.group_of
        wanted = min(limit * CANDIDATES_PER_HIT, total)
        while True:
            order = _top(key, wanted)
            _, first = np.unique(groups[order], return_index=True)
            reps = order[np.sort(first)][:limit]
            if len(reps) >= limit or wanted >= total:
                break
            wanted = min(wanted * 8, total)  # many copies of the same rules: look further
        # Every matching copy of the chosen rules: the best-ranked first, then by payer.
        chosen = np.zeros(self.files.docs.group_count + 1, bool)
        chosen[groups[reps] + 1] = True  # + 1: the vocabulary document is in group -1
        members = np.flatnonzero(rules & chosen[groups + 1])
        member_groups = groups[members]
        hits = []
        for d in reps:
            copies = members[member_groups == groups[d]]
            listed = [int(d)] + [c for c in copies[:MAX_LISTED_PAYERS].tolist() if c != d][:MAX_LISTED_PAYERS - 1]
            stored = self.files.stored_fields(int(d))
            hit = self._hit(stored, float(scores[d]) if scores is not None else 0.0, summary_terms)
            hit.payers, hit.rule_ids = self._listed(listed)
            hit.payer_count = len(copies)
            hits.append(hit)
        return hits

    def _listed(self, docnums: list[int]) -> tuple[list[tuple[str, str]], list[str]]:
        docs = self.files.docs
        payer_of = docs.payer_of[docnums].tolist()
        payers = [docs.payers[p] for p in payer_of]
        return [(p[0], p[1]) for p in payers], [docs.rule_ids[d] for d in docnums]

    def _gap_lines(self, order) -> list[GapLine]:
        docs = self.files.docs
        lines: dict[int, GapLine] = {}
        for d in order:
            payer = int(docs.payer_of[d])
            line = lines.get(payer)
            if line is None:
                if len(lines) == MAX_GAP_LINES:
                    continue
                pid, name, ptype = docs.payers[payer]
                line = lines[payer] = GapLine(pid, name, ptype, [], [])
            topic = docs.topics[docs.topic_of[d]]
            if topic not in line.topics:
                line.topics.append(topic)
            line.rule_ids.append(docs.rule_ids[d])
        return list(lines.values())

    def is_stale(self) -> bool:
        """True when the database was rebuilt after this index (e.g. the index step failed)."""
        return self.db_path is not None and not self.files.built_from(self.db_path)

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

    def _hit(self, stored: dict, score: float, summary_terms: set[str]) -> Hit:
        summary = stored["summary"]
        marked = self.files.highlight(summary, summary_terms) if summary_terms else ""
        return Hit(
            rule_id=stored["rule_id"], payer_id=stored["payer_id"], payer_name=stored["payer_name"],
            payer_type=stored["payer_type"], topic=stored["topic"], summary=summary,
            snippet=_pieces(marked) if marked else [(_shorten(summary), False)],
            score=round(score, 4), meta=stored["meta"],
            payers=[(stored["payer_id"], stored["payer_name"])], rule_ids=[stored["rule_id"]],
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
            found = [] if len(start) < 2 else self.files.words_starting(start, MAX_PREFIX_WORDS)
            parts = [self._wording_scores((w,), fields, weight, False, False, summary_terms) for w in found]
            return _best_of([p for p in parts if p is not None])
        per_field = []
        for name, boost in fields.items():
            tokens = [t for w in words for t in self.files.analyze(name, w)]
            if not tokens or any(t not in self._lexicons[name] for t in tokens):
                continue
            scores = _all_of([self._dense(name, t, boost * weight) for t in tokens])
            if phrase and len(tokens) > 1 and self.files.has_positions(name):
                adjacent = np.zeros(self._n, bool)
                adjacent[self.files.phrase_docs(name, tokens)] = True
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
            ids, tf = self.files.postings(fieldname, token)
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


def _word_count(size: int) -> int:
    return (size + 63) // 64


def _words(bits: np.ndarray, size: int) -> np.ndarray:
    """A boolean array as little-endian 64-bit words (padded with zeros)."""
    packed = np.zeros(_word_count(size) * 8, np.uint8)
    raw = np.packbits(bits, bitorder="little")
    packed[: len(raw)] = raw
    return packed.view("<u8")


def _word_matrix(masks: dict[str, int], size: int) -> tuple[list[str], np.ndarray]:
    values = list(masks)
    nbytes = _word_count(size) * 8
    rows = b"".join(masks[v].to_bytes(nbytes, "little") for v in values)
    return values, np.frombuffer(rows, "<u8").reshape(len(values), _word_count(size)) if values else np.zeros((0, 0), "<u8")


def _value_masks(files: IndexFiles, fieldname: str, size: int) -> dict[str, int]:
    """For each value of an exact-value field, the bit mask of the documents that have it."""
    return {value: _mask(docnums, size) for value, docnums in files.value_docs(fieldname).items()}


_open_lock = threading.Lock()
_opened: dict[Path, SearchIndex] = {}


def open_search_index(db_path) -> SearchIndex:
    """The searchable index of the database at db_path, made once per opening of its files
    (db.search_index.open_index reopens them when the index was rebuilt).
    Raises IndexUnavailable with a message a user can act on."""
    with _open_lock:
        files = open_index(db_path)
        current = _opened.get(files.path)
        if current is None or current.files is not files:
            current = _opened[files.path] = SearchIndex(files, Path(db_path).resolve())
        return current
