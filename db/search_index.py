"""The Whoosh index behind payerkb's smart search: one document per rule and per drug rule, built next to the database.

This is the only module that imports whoosh (Whoosh-Reloaded). `build_search_index` writes
db/<name>.whoosh/<build id>/ from the rows of a freshly built database (into a temporary folder,
renamed when complete); `open_index` opens it as an `IndexFiles`, whose accessors hand out plain
Python and numpy values. What is indexed: db/search_documents.py; how a query is scored:
payerkb/search_rank.py.

Database and index are one unit: every build writes a new build id into the database (table
payerkb_build) and builds the index for that id into its own folder *before* the database is
renamed into place, so the rename is the one commit point of both. A reader opens the index folder
named by the build id of the database it reads, so search never answers from another build's
index, even while a rebuild swaps files under a running server. Old folders are pruned (the newest
two kept, for readers still on the previous database).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import threading
import time
from array import array
from contextlib import contextmanager
from functools import lru_cache
from itertools import islice
from pathlib import Path

import numpy as np
from whoosh import index, query as wq
from whoosh.analysis import LowercaseFilter, RegexTokenizer, StemmingAnalyzer
from whoosh.codec import whoosh3 as w3
from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema
from whoosh.searching import Searcher
from whoosh.writing import SegmentWriter

from db.leftovers import owner_running
from db.search_documents import MARK_CLOSE, MARK_OPEN, documents

META_FILE = "payerkb-index.json"
DOCS_FILE = "payerkb-docs.json"  # DocTable: what ranking needs of every document, read at once
INDEX_VERSION = 7

STEM = StemmingAnalyzer()
PLAIN = RegexTokenizer() | LowercaseFilter()


class _Remembered:
    """A field that analyses each distinct value once per build: rules repeat their payer's name,
    place, topic words and sources, and analysis is most of the time of adding a document.
    The memo lives outside the field so that the schema Whoosh pickles stays plain."""

    def index(self, value, **kwargs):
        if kwargs or not isinstance(value, str):
            return super().index(value, **kwargs)
        key = (id(self), value)
        found = _ANALYSED.get(key)
        if found is None:
            if len(_ANALYSED) >= MAX_ANALYSED:
                _ANALYSED.clear()
            found = _ANALYSED[key] = tuple(super().index(value))
        return found


class RememberedText(_Remembered, TEXT):
    pass


class RememberedKeyword(_Remembered, KEYWORD):
    pass


_ANALYSED: dict[tuple[int, str], tuple] = {}
MAX_ANALYSED = 200_000

SCHEMA = Schema(
    kind=ID(),  # "rule", or "vocabulary" for the one document that only feeds spelling
    rule_id=ID(stored=True, unique=True),
    payer_id=ID(stored=True),
    payer_name=STORED(),
    payer=RememberedText(analyzer=PLAIN),  # names are typed as written; stemming made "authoriz*" hit "Authority"
    place=RememberedText(analyzer=PLAIN, phrase=False),
    topic_words=RememberedText(analyzer=STEM, phrase=False),
    codes=RememberedKeyword(lowercase=True, scorable=True),
    # Word positions (for "quoted phrases") only where phrases are typed: names, summaries, drugs.
    summary=RememberedText(analyzer=STEM, stored=True),
    details=RememberedText(analyzer=STEM, phrase=False),
    sources=RememberedText(analyzer=STEM, phrase=False),
    note=RememberedText(analyzer=STEM, phrase=False),
    drug=RememberedText(analyzer=PLAIN),  # a drug rule's drug: brand, generic name, aliases (as written)
    spell=TEXT(analyzer=PLAIN, phrase=False),
    # filters and facets (exact values)
    payer_type=ID(stored=True),
    topic=ID(stored=True),
    footing=ID(),  # sourced / unconfirmed / gap (db.search_documents.footing): ranking tiers
    meta=STORED(),
)


class IndexUnavailable(Exception):
    """The index is missing, unreadable or was built by another version: rebuild it."""


def normalize(word: str) -> str:
    """The form the index stores a word in (lower case, stemmed): "Invoices" -> "invoic"."""
    tokens = [t.text for t in STEM(word, removestops=False)]
    return " ".join(tokens) if tokens else word.lower()


BUILD_TABLE = "payerkb_build"


def index_root(db_path: Path | str) -> Path:
    """The folder that holds the index folders of a database path (one per build id)."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.stem + ".whoosh")


def read_build_id(db_path: Path | str) -> str | None:
    """The build id written into the database (None: no such database, or one built before ids)."""
    try:
        conn = sqlite3.connect(f"file:{Path(db_path)}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute(f"select build_id from {BUILD_TABLE} limit 1").fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return str(row[0]) if row and row[0] else None


def index_path(db_path: Path | str, build_id: str | None = None) -> Path:
    """The index folder of the database at db_path: <db>.whoosh/<its build id>/."""
    build_id = build_id or read_build_id(db_path)
    root = index_root(db_path)
    return root / build_id if build_id else root


# ---------------------------------------------------------------------------------------------
# Building


def _plain_words(text: str) -> list[str]:
    return [t.text for t in PLAIN(text)]


def _new_words_splitter():
    """_plain_words for the vocabulary, skipping texts already split (rules repeat them)."""
    seen: set[str] = set()

    def split(text: str) -> list[str]:
        if text in seen:
            return []
        seen.add(text)
        return _plain_words(text)
    return split


def build_search_index(db_path, kb=None, *, serves: Path | str | None = None) -> Path:
    """Index every rule of the database at db_path into the folder of its build id, beside the
    database path it `serves` (default: db_path itself; the build passes the final path while
    db_path is still the temporary file). Returns the index folder."""
    db_path = Path(db_path)
    build_id = read_build_id(db_path)
    final = index_path(serves or db_path, build_id)
    final.parent.mkdir(parents=True, exist_ok=True)
    for leftover in final.parent.glob("*.tmp-*"):
        if not owner_running(leftover):
            shutil.rmtree(leftover, ignore_errors=True)  # left by a build that was killed half-way
    tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
    started = time.perf_counter()
    try:
        tmp.mkdir(parents=True)
        ix = index.create_in(tmp, SCHEMA)
        ix.close()
        entries = _write_segments(tmp, db_path)
        rules = sum(e is not None for e in entries)
        table = DocTable.from_entries(entries)
        (tmp / DOCS_FILE).write_text(json.dumps(table.to_json(), separators=(",", ":")))
        stat = db_path.stat()
        (tmp / META_FILE).write_text(json.dumps({
            "version": INDEX_VERSION, "build_id": build_id, "rules": rules, "db_size": stat.st_size,
            "db_mtime_ns": stat.st_mtime_ns, "seconds": round(time.perf_counter() - started, 3),
        }))
        _swap_in(tmp, final)
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        from db.errors import BuildError

        raise BuildError(
            f"the search index {final} was not rebuilt ({exc.__class__.__name__}: {exc}); "
            f"{db_path} is built, and search keeps using the previous index, if any"
        ) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


# Above this many rules the index is written by two processes, one segment each (the machine's
# cores permitting): analysis and posting lists are pure Python, and the GIL keeps one process
# to one core.
PARALLEL_MIN_DOCS = 20_000


def _doc_count(db_path: Path) -> int:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        n = conn.execute("select count(*) from rules").fetchone()[0]
        if conn.execute("select 1 from sqlite_master where name = 'drug_rules'").fetchone():
            n += conn.execute("select count(*) from drug_rules").fetchone()[0]
        return n + 1  # and the vocabulary document
    finally:
        conn.close()


def _write_segments(folder: Path, db_path: Path) -> list:
    """Write every document of db_path into the empty index at folder; returns the document
    table's entries in document-number order."""
    n = _doc_count(db_path)
    procs = min(2, os.cpu_count() or 1) if n >= PARALLEL_MIN_DOCS else 1
    bounds = [(n * i // procs, n * (i + 1) // procs if i < procs - 1 else None) for i in range(procs)]
    if procs == 1:
        segment, entries = _write_segment(str(folder), str(db_path), 0, None)
        parts = [(segment, entries)]
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
        with ProcessPoolExecutor(procs, mp_context=context) as pool:
            futures = [pool.submit(_write_segment, str(folder), str(db_path), lo, hi) for lo, hi in bounds]
            parts = [f.result() for f in futures]
    # The table of contents lists the segments in document order: part 0's documents first.
    ix = index.open_dir(str(folder))
    writer = ix.writer()
    try:
        writer._close_segment()
        writer._commit_toc([segment for segment, _ in parts if segment is not None])
    finally:
        writer._finish()
        ix.close()
    return [e for _, entries in parts for e in entries]


class _Lengths:
    """A segment's field lengths read a whole column at a time: Whoosh's writer asks for the
    length of every posting's document, and its reader answers each from disk (40% of the time
    spent writing posting lists)."""

    def __init__(self, perdoc, doc_count: int):
        self._perdoc, self._n, self._fields = perdoc, doc_count, {}

    def doc_field_length(self, docnum: int, fieldname: str, default=0):
        lengths = self._fields.get(fieldname)
        if lengths is None:
            lengths = self._fields[fieldname] = _lengths_column(self._perdoc, fieldname, self._n).astype(int).tolist()
        return lengths[docnum] if docnum < len(lengths) else default

    def close(self) -> None:
        self._perdoc.close()


class _SegmentWriter(SegmentWriter):
    def _flush_segment(self):
        # SegmentWriter._flush_segment (Whoosh-Reloaded 2.7.5) with the lengths read by _Lengths
        self.perdocwriter.close()
        pdr = _Lengths(self.per_document_reader(), self.docnum) if self.codec.length_stats else None
        self.fieldwriter.add_postings(self.schema, pdr, self.pool.iter_postings())
        self.fieldwriter.close()
        if pdr:
            pdr.close()


def _write_segment(folder: str, db_path: str, first: int, stop: int | None):
    """Index documents first..stop (stop None: to the end) into a new segment of the index at
    folder, the way Whoosh's own multiprocessing writer does (a SegmentWriter without the lock,
    finalized; the caller commits the table of contents). Returns (segment or None, entries)."""
    ix = index.open_dir(folder)
    writer = _SegmentWriter(ix, _lk=False, limitmb=128)
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    entries = []
    try:
        for i, doc in enumerate(documents(conn, _new_words_splitter())):
            if stop is not None and i >= stop:
                break
            if i >= first:
                writer.add_document(**doc)
                entries.append(DocTable.entry(doc))
        segment = writer._finalize_segment() if entries else None
        if segment is None:
            writer.cancel()
    except BaseException:
        writer.cancel()
        raise
    finally:
        conn.close()
        _ANALYSED.clear()
    return segment, entries


def prune_indexes(db_path: Path | str, keep: set[str]) -> None:
    """Remove the index folders of builds other than `keep`, and leftovers of killed builds."""
    root = index_root(db_path)
    if not root.is_dir():
        return
    for child in root.iterdir():
        if ".tmp-" in child.name:
            if not owner_running(child):
                shutil.rmtree(child, ignore_errors=True)
        elif child.is_dir() and child.name not in keep:
            shutil.rmtree(child, ignore_errors=True)
        elif child.is_file() and child.name != META_FILE and not keep:
            child.unlink(missing_ok=True)


def _swap_in(new: Path, final: Path) -> None:
    # Two renames: a reader that finds no folder in between retries (see open_index).
    old = final.with_name(f"{final.name}.tmp-old-{os.getpid()}")
    if final.exists():
        os.rename(final, old)
    os.rename(new, final)
    shutil.rmtree(old, ignore_errors=True)


class DocTable:
    """Per document number: the payer, the topic, the rule id and the group of rules shared word
    for word (same kind, topic, summary, requirement, status, setting and drug); the payers'
    ids, names and types once. Search merges shared rules and lists gaps from this table without
    reading Whoosh's stored fields document by document."""

    def __init__(self, payers: list[list[str]], topics: list[str], payer_of: list[int],
                 topic_of: list[int], group_of: list[int], rule_ids: list[str]):
        self.payers, self.topics, self.rule_ids = payers, topics, rule_ids
        self.payer_of = np.asarray(payer_of, np.int32)
        self.topic_of = np.asarray(topic_of, np.int16)
        self.group_of = np.asarray(group_of, np.int32)
        self.group_count = int(self.group_of.max()) + 1 if len(self.group_of) else 0

    @staticmethod
    def entry(doc: dict) -> tuple | None:
        """What the table keeps of one index document (None for the vocabulary document)."""
        if doc["kind"] != "rule":
            return None
        meta = doc["meta"]
        shared = (meta.get("kind"), doc["topic"], doc["summary"], meta.get("requirement"), meta.get("status"),
                  meta.get("setting"), meta.get("drug_id"), doc.get("footing"))
        return (doc["payer_id"], doc["payer_name"], doc["payer_type"], doc["topic"], shared, doc["rule_id"])

    @classmethod
    def from_entries(cls, entries: list[tuple | None]) -> DocTable:
        payers, topics, groups = {}, {}, {}
        payer_of, topic_of, group_of, rule_ids = [], [], [], []
        for e in entries:
            if e is None:
                payer_of.append(-1), topic_of.append(-1), group_of.append(-1), rule_ids.append("")
                continue
            payer_id, name, payer_type, topic, shared, rule_id = e
            payer_of.append(payers.setdefault(payer_id, (len(payers), [payer_id, name, payer_type]))[0])
            topic_of.append(topics.setdefault(topic, len(topics)))
            group_of.append(groups.setdefault(shared, len(groups)))
            rule_ids.append(rule_id)
        return cls([p for _, p in payers.values()], list(topics), payer_of, topic_of, group_of, rule_ids)

    def to_json(self) -> dict:
        return {"payers": self.payers, "topics": self.topics, "payer_of": self.payer_of.tolist(),
                "topic_of": self.topic_of.tolist(), "group_of": self.group_of.tolist(), "rule_ids": self.rule_ids}

    @classmethod
    def from_json(cls, data: dict) -> DocTable:
        return cls(data["payers"], data["topics"], data["payer_of"], data["topic_of"], data["group_of"],
                   data["rule_ids"])


# ---------------------------------------------------------------------------------------------
# Reading


@contextmanager
def as_unavailable(path: Path):
    """Report any failure to read the index at path as IndexUnavailable."""
    try:
        yield
    except IndexUnavailable:
        raise
    except FileNotFoundError as exc:
        raise IndexUnavailable(f"no search index at {path}") from exc
    except Exception as exc:  # whoosh raises many kinds on a damaged folder
        raise IndexUnavailable(f"the search index at {path} cannot be read ({exc.__class__.__name__})") from exc


class IndexFiles:
    """An opened index folder. Not thread-safe: its user runs one call at a time."""

    def __init__(self, path: Path):
        self.path = Path(path)
        with as_unavailable(self.path):
            meta = json.loads((self.path / META_FILE).read_text())
            if meta.get("version") != INDEX_VERSION:
                raise IndexUnavailable(f"the index at {self.path} was built by another payerkb version")
            self.meta = meta
            self._ix = index.open_dir(str(self.path))
            self._reader = self._ix.reader()
            self._searcher = Searcher(self._reader)  # only for phrase matching
            self.doc_count = self._reader.doc_count_all()
            self.docs = DocTable.from_json(json.loads((self.path / DOCS_FILE).read_text()))
            if len(self.docs.rule_ids) != self.doc_count:
                raise IndexUnavailable(f"the index at {self.path} is incomplete (its document table does not match)")
        self.identity = _identity(self.path)

    def close(self) -> None:
        self._searcher.close()

    def built_from(self, db_path: Path) -> bool:
        """False when the database at db_path is of another build than this index."""
        if self.meta.get("build_id"):
            return _current_build_id(Path(db_path)) == self.meta["build_id"]  # remembered per file
        return _db_identity(db_path) == (self.meta.get("db_size"), self.meta.get("db_mtime_ns"))

    # words --------------------------------------------------------------------------------

    def analyze(self, fieldname: str, word: str) -> list[str]:
        """The tokens the field stores for word (stemmed or not, as the field is)."""
        return list(_analyze(fieldname, word))

    def has_positions(self, fieldname: str) -> bool:
        return SCHEMA[fieldname].format.supports("positions")

    def lexicon(self, fieldname: str) -> set[str]:
        fobj = SCHEMA[fieldname]
        return {fobj.from_bytes(b) for b in self._reader.lexicon(fieldname)}

    def doc_frequency(self, fieldname: str, token: str) -> int:
        return self._reader.doc_frequency(fieldname, token)

    def spelling_candidates(self, word: str, maxdist: int) -> list[str]:
        """Words as written (the vocabulary) within maxdist edits of word, with its first letter."""
        return list(self._reader.terms_within("spell", word, maxdist, prefix=1))

    def words_starting(self, prefix: str, limit: int) -> list[str]:
        """Up to limit words as written (the vocabulary) that start with prefix, in order."""
        spell = SCHEMA["spell"]
        return [spell.from_bytes(b) for b in islice(self._reader.expand_prefix("spell", prefix), limit)]

    # documents ----------------------------------------------------------------------------

    def postings(self, fieldname: str, token: str) -> tuple[np.ndarray, np.ndarray]:
        """Document numbers and term weights (frequency times document boost) of one token."""
        return _postings(self._reader, fieldname, SCHEMA[fieldname].to_bytes(token))

    def value_docs(self, fieldname: str) -> dict[str, np.ndarray]:
        """For each token of the field, the document numbers that have it."""
        fobj = SCHEMA[fieldname]
        return {fobj.from_bytes(btext): _postings(self._reader, fieldname, btext)[0]
                for btext in self._reader.lexicon(fieldname)}

    def field_lengths(self, fieldname: str) -> np.ndarray:
        """The length (in words) of the field in every document."""
        return _field_lengths(self._reader, fieldname, self.doc_count)

    def phrase_docs(self, fieldname: str, tokens: list[str]) -> list[int]:
        """The documents where the tokens occur next to each other, in this order."""
        return list(wq.Phrase(fieldname, tokens).matcher(self._searcher).all_ids())

    def stored_fields(self, docnum: int) -> dict:
        return self._reader.stored_fields(docnum)

    def highlight(self, text: str, tokens: set[str]) -> str:
        """Up to two passages of text with the words whose stems are tokens between MARK_OPEN and
        MARK_CLOSE; "" when none occurs."""
        return highlight_passages(text, tokens)


_WORD = re.compile(r"\w+(?:\.?\w+)*")  # STEM's tokenizer
PASSAGE_CHARS, SURROUND_CHARS = 240, 60


@lru_cache(maxsize=20_000)
def _analyze(fieldname: str, word: str) -> tuple[str, ...]:
    return tuple(SCHEMA[fieldname].process_text(word, mode="query"))


@lru_cache(maxsize=100_000)
def _stem(word: str) -> str:
    return normalize(word)


def highlight_passages(text: str, tokens: set[str]) -> str:
    """The text (whole when it is short, else up to two passages around the matches, joined by
    " … ") with every word whose stem is one of tokens marked. A word is stemmed once per process:
    Whoosh's highlighter re-analyses the whole text on every call."""
    spans = [m.span() for m in _WORD.finditer(text) if _stem(m.group()) in tokens]
    if not spans:
        return ""
    if len(text) <= PASSAGE_CHARS:
        windows = [(0, len(text))]
    else:
        windows = []
        for start, end in spans:
            lo, hi = max(0, start - SURROUND_CHARS), min(len(text), end + SURROUND_CHARS)
            if windows and lo <= windows[-1][1]:
                lo = windows[-1][0]
                windows.pop()
            windows.append((lo, min(hi, lo + PASSAGE_CHARS)))
        best = sorted(windows, key=lambda w: -sum(1 for s, e in spans if w[0] <= s and e <= w[1]))[:2]
        windows = sorted(best)
    out = []
    for lo, hi in windows:
        if lo > 0 and " " in text[lo:hi]:
            lo = text.index(" ", lo) + 1  # start and end on whole words
        if hi < len(text) and " " in text[lo:hi]:
            hi = text.rindex(" ", lo, hi)
        piece, at = [], lo
        for start, end in spans:
            if lo <= start and end <= hi:
                piece += [text[at:start], MARK_OPEN, text[start:end], MARK_CLOSE]
                at = end
        out.append("".join(piece) + text[at:hi])
    return " … ".join(out)


def _postings(reader, fieldname: str, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
    if not reader.is_atomic():  # one part per segment (a build in parallel writes several)
        parts = [(_postings(sub, fieldname, btext), offset) for sub, offset in reader.leaf_readers()
                 if (fieldname, btext) in sub]
        if not parts:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        return (np.concatenate([ids + offset for (ids, _), offset in parts]).astype(np.int32),
                np.concatenate([w for (_, w), _ in parts]))
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
    if not reader.is_atomic():
        return np.concatenate([_field_lengths(sub, fieldname, sub.doc_count_all())
                               for sub, _ in reader.leaf_readers()] or [np.zeros(0, np.float32)])
    perdoc = getattr(reader, "_perdoc", None)
    if perdoc is not None and hasattr(perdoc, "_cached_reader"):
        return _lengths_column(perdoc, fieldname, n)
    length = reader.doc_field_length
    return np.fromiter((length(d, fieldname, 0) or 0 for d in range(n)), np.float32, n)


def _lengths_column(perdoc, fieldname: str, n: int) -> np.ndarray:
    if hasattr(perdoc, "_cached_reader"):
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
    return np.fromiter((perdoc.doc_field_length(d, fieldname, 0) or 0 for d in range(n)), np.float32, n)


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
_opened: dict[Path, IndexFiles] = {}


_build_ids: dict[Path, tuple] = {}


def _current_build_id(db_path: Path) -> str | None:
    """read_build_id, remembered while the database file stays the same file."""
    key = Path(db_path).resolve()
    ident = _db_identity(key)
    try:
        ident = ident + (key.stat().st_ino,) if ident else None
    except OSError:
        ident = None
    cached = _build_ids.get(key)
    if cached and cached[0] == ident and ident is not None:
        return cached[1]
    build_id = read_build_id(key)
    _build_ids[key] = (ident, build_id)
    return build_id


def open_index(db_path) -> IndexFiles:
    """The index of the build of the database at db_path, opened once per build.
    Raises IndexUnavailable with a message a user can act on."""
    build_id = _current_build_id(Path(db_path))
    path = index_path(db_path, build_id).resolve()
    with _open_lock:
        current = _opened.get(path)
        if current is not None and current.identity == _identity(path):
            return current
        for attempt in range(2):
            try:
                fresh = IndexFiles(path)
                break
            except IndexUnavailable:
                if attempt or path.exists():
                    raise
                time.sleep(0.05)  # a build may be between its two renames
        _opened[path] = fresh
        return fresh


def forget(db_path) -> None:
    """Drop the opened index of db_path (tests that damage an index on purpose)."""
    with _open_lock:
        current = _opened.pop(index_path(db_path).resolve(), None)
    if current is not None:
        current.close()
