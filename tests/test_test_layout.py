"""The tests and the benchmarks stand apart: neither imports the other, and no test imports
conftest (shared test code lives in helper modules such as tests/servers.py and tests/paths.py;
what both sides need lives in payerkb/dev/)."""
from __future__ import annotations

import ast

from paths import ROOT


def _imported_modules(path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _top(name: str) -> str:
    return name.split(".")[0]


def test_no_test_imports_the_benchmarks_or_conftest():
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in _imported_modules(path)
                                            if _top(m) == "benchmarks" or m.split(".")[-1] == "conftest")
        for path in (ROOT / "tests").rglob("*.py")
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_no_benchmark_imports_the_tests():
    test_modules = {p.stem for p in (ROOT / "tests").rglob("*.py")} | {"tests"}
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in _imported_modules(path) if _top(m) in test_modules)
        for path in (ROOT / "benchmarks").rglob("*.py")
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_browser_tests_skip_without_chromium_unless_ci_requires_them(monkeypatch, tmp_path):
    import pytest

    import servers

    monkeypatch.setattr(servers, "CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.delenv("PAYERKB_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="make browser"):
        servers.chromium_or_skip()
    monkeypatch.setenv("PAYERKB_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="make browser"):
        servers.chromium_or_skip()
