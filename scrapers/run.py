"""Run sources from the registry: fetch, parse, check, write; report each source's outcome.

A source that fails (a fetch error, a page whose structure changed, nothing found) writes
nothing: its last good files stay, and its report says why. Every fetch, failed or not, goes
into the fetch log.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from scrapers import registry
from scrapers.fetch import Fetcher, FetchError, ResponseCache, last_hashes, now_iso, read_fetch_log
from scrapers.html import ParseError
from scrapers.writer import FETCH_LOG, UnsafeOutput, is_knowledge_base, Vocabulary, append_fetch_log, fit_to_vocabulary, write_result


@dataclass
class SourceReport:
    name: str
    fetched: int = 0
    changed: int = 0
    rules: int = 0
    documents: int = 0
    status: str = "ok"  # ok | failed
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    fixture: bool = False
    written: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _used_fixture(fetcher: Fetcher, start: int) -> bool:
    return any(r.fixture for r in fetcher.log[start:])


def run_source(spec: registry.SourceSpec, fetcher: Fetcher, out_dir: Path, vocab: Vocabulary,
               tick: Callable | None = None) -> SourceReport:
    report = SourceReport(spec.name)
    fetcher.scraper = spec.name
    start = len(fetcher.log)
    try:
        module = spec.load()
        fetched = module.fetch(spec, fetcher, tick)
        result = module.parse(spec, fetched)
        fit_to_vocabulary(result, vocab)
        report.warnings = result.warnings
        report.fixture = _used_fixture(fetcher, start)
        if result.empty:
            why = "; ".join(result.warnings) or "the pages yielded no rules, documents or articles"
            raise ParseError(f"parsed to nothing ({why})")
        report.rules = len(result.rules) + len(result.drug_rules)
        report.documents = len(result.documents) + len(result.coverage_articles)
        report.written = write_result(out_dir, spec.name, result, now_iso(), from_fixture=report.fixture)
    except (FetchError, ParseError, UnsafeOutput, ValueError, KeyError, TypeError) as exc:
        report.status = "failed"
        report.message = f"{exc}; the last good records were kept"
    except Exception as exc:  # noqa: BLE001 - one broken source must not stop the others
        report.status = "failed"
        report.message = f"unexpected {type(exc).__name__}: {exc}; the last good records were kept"
    finally:
        mine = fetcher.log[start:]
        report.fetched = len(mine)
        report.changed = sum(r.changed for r in mine)
        report.fixture = report.fixture or any(r.fixture for r in mine)
    return report


def make_fetcher(*, offline: bool, out_dir: Path, cache_dir: Path | None = None, specs=None, **kwargs) -> Fetcher:
    fixtures = {}
    for spec in specs or registry.SOURCES:
        fixtures.update(spec.fixtures())
    known = last_hashes(read_fetch_log(Path(out_dir) / FETCH_LOG))
    cache = ResponseCache(cache_dir) if cache_dir else ResponseCache()
    return Fetcher(cache=cache, offline=offline, fixtures=fixtures, known_hashes=known, **kwargs)


def run(names: list[str] | None, *, out_dir: Path, policies_dir: Path, fetcher: Fetcher,
        progress: Callable | None = None) -> list[SourceReport]:
    """Run the named sources (all when empty); `progress(spec)` returns a context manager with tick()."""
    specs = [registry.get(n) for n in names] if names else list(registry.SOURCES)
    vocab = Vocabulary.from_policies(policies_dir)
    reports = []
    try:
        for spec in specs:
            if progress:
                with progress(spec) as tick:
                    reports.append(run_source(spec, fetcher, out_dir, vocab, tick))
            else:
                reports.append(run_source(spec, fetcher, out_dir, vocab))
    finally:
        # fixture reads are never logged into the real knowledge base
        records = [r for r in fetcher.log if not (r.fixture and is_knowledge_base(out_dir))]
        if records:
            append_fetch_log(out_dir, records)
        fetcher.log.clear()
    return reports
