"""The house's import rules (docs/architecture.md), read from the source with `ast`.

Data flows web -> scrapers/ -> policies/ -> db/ -> payerkb/ and Datasette. The formats of the
files in policies/, the contract between the two sides, live at the bottom in formats/. So:

- MAY_IMPORT below is the one statement of the direction: a package may import itself and the
  packages listed for it, nothing else of the project's;
- within payerkb/, only the commands that run the scrapers (SCRAPER_COMMANDS) import scrapers/;
- db/ is the build: every module of it is reached from db.build, the build's entry point
  (serve-time code such as search ranking belongs in payerkb/);
- there is no import cycle among the project's modules.

What counts as an import: every `import` and `from ... import` statement anywhere in a module, at
the top or inside a function (the CLI's and the plugin's lazy imports are imports too: a cycle
through a lazy import is still a cycle, and a lazy import still runs against the flow), and a
string that is exactly the dotted name of a project module below a package (`importlib.import_module`
of the CLI's LAZY_COMMANDS; a bare "payerkb" is the database's name far more often). A statement is taken at its word: `from payerkb import x12` names the package
`payerkb` (whose __init__ is the Datasette plugin) as well as payerkb.x12, while `import
payerkb.x12 as x12` and `from payerkb.x12 import ...` name payerkb.x12 only. The parent packages
Python initialises on the way to a submodule are not counted: every module would otherwise be in
a cycle with a package whose __init__ imports anything below it, as payerkb's must.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from paths import ROOT

# The direction, in one place. Bottom first.
MAY_IMPORT: dict[str, set[str]] = {
    "formats": set(),  # policies/' on-disk formats and vocabulary: imports nothing of ours
    "scrapers": {"formats"},  # web -> policies/: never the build, never serve-time code
    "db": {"formats"},  # policies/ -> SQLite: never the scrapers, never serve-time code
    "payerkb": {"formats", "db", "scrapers"},  # the CLI, search, check and the Datasette plugin
}
# The commands that fetch pages or parse CMS files: the only payerkb modules that import scrapers/.
SCRAPER_COMMANDS = {"payerkb.scrape", "payerkb.ingest"}
BUILD_ENTRY = "db.build"
# Folders under the packages that hold no code of the house.
NOT_CODE = {"fixtures"}


def project_modules(root: Path, packages) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package) for every .py file of the packages."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if NOT_CODE & set(parts):
                continue
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            modules[".".join(parts)] = (path, is_package)
    return modules


def _known(name: str | None, modules) -> str | None:
    """The longest prefix of a dotted name that is a project module (None: not ours)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(name: str, path: Path, is_package: bool, modules) -> dict[str, int]:
    """The project modules one module imports, each with the line of its first import."""
    package = name if is_package else name.rpartition(".")[0]
    found: dict[str, int] = {}

    def add(target: str | None, line: int) -> None:
        target = _known(target, modules)
        if target and target != name:
            found.setdefault(target, line)

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            add(source, node.lineno)
            for alias in node.names:
                if f"{source}.{alias.name}" in modules:
                    add(f"{source}.{alias.name}", node.lineno)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "." in node.value \
                and node.value in modules:
            add(node.value, node.lineno)  # importlib.import_module("payerkb.x12_cmd") and the like
    return found


def import_graph(root: Path, packages) -> tuple[dict, dict]:
    modules = project_modules(root, packages)
    graph = {name: imports_of(name, path, is_package, modules) for name, (path, is_package) in modules.items()}
    return modules, graph


def layering_violations(modules, graph, may_import=MAY_IMPORT) -> list[str]:
    out = []
    for name, targets in sorted(graph.items()):
        own = name.split(".")[0]
        for target, line in sorted(targets.items()):
            other = target.split(".")[0]
            if other != own and other not in may_import[own]:
                out.append(f"{modules[name][0].relative_to(ROOT) if modules[name][0].is_relative_to(ROOT) else modules[name][0]}"
                           f":{line}: {name} imports {target}: {own}/ may import only "
                           f"{', '.join(sorted(may_import[own])) or 'nothing of the project'}")
    return out


def import_cycles(graph) -> list[list[str]]:
    """Every strongly connected group of two or more modules, as one cycle through it."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v):  # Tarjan's algorithm (the graph is a few hundred modules: recursion is fine)
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(set(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_cycle_in(group, graph) for group in groups]


def _cycle_in(group: set[str], graph) -> list[str]:
    """One cycle through a strongly connected group, for the failure message."""
    start = min(group)
    paths, seen = {start: [start]}, {start}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v]):
            if w == start:
                return paths[v] + [start]
            if w in group and w not in seen:
                seen.add(w)
                paths[w] = paths[v] + [w]
                queue.append(w)
    return sorted(group)


def reached_from(start: str, graph) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for w in graph[todo.pop()]:
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


@pytest.fixture(scope="module")
def house():
    return import_graph(ROOT, MAY_IMPORT)


def test_every_package_of_the_house_is_in_the_rule(house):
    modules, _ = house
    top = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name != "tests"}
    assert top - {"benchmarks"} == set(MAY_IMPORT), "a new top-level package needs its place in MAY_IMPORT"
    assert len(modules) > 100  # the walk found the house, not an empty folder


def test_imports_follow_the_data_flow(house):
    modules, graph = house
    assert layering_violations(modules, graph) == [], ("what both sides need belongs in formats/; "
                                                       "see MAY_IMPORT and docs/architecture.md")


def test_only_the_scraping_commands_import_the_scrapers(house):
    _, graph = house
    importers = {name for name, targets in graph.items()
                 if name.startswith("payerkb") and any(t.startswith("scrapers") for t in targets)}
    assert importers <= SCRAPER_COMMANDS, f"{sorted(importers - SCRAPER_COMMANDS)} import scrapers/"


def test_db_holds_only_the_build(house):
    modules, graph = house
    build = reached_from(BUILD_ENTRY, graph)
    loose = sorted(m for m in modules if m.startswith("db.") and m not in build)
    assert loose == [], f"{loose} are not part of the build (serve-time code belongs in payerkb/)"


def test_no_import_cycles(house):
    _, graph = house
    cycles = [" -> ".join(cycle) for cycle in import_cycles(graph)]
    assert cycles == [], ("break each cycle: move what both sides need into a module below them (as "
                          "db/errors.py, payerkb/settings.py), or import a sibling by its full name "
                          "(import payerkb.x12 as x12), not from its package")


# --- the checker itself: it finds what it is there to find ---

def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_the_checker_finds_a_cycle_through_a_lazy_import(tmp_path):
    root = _tree(tmp_path, {
        "db/__init__.py": "",
        "db/build.py": "from db import steps\n",
        "db/steps.py": "def run():\n    from db.build import BuildError\n",
        "db/errors.py": "",
    })
    _, graph = import_graph(root, ["db"])
    assert import_cycles(graph) == [["db.build", "db.steps", "db.build"]]


def test_the_checker_reads_a_package_import_as_an_import_of_the_package(tmp_path):
    root = _tree(tmp_path, {
        "payerkb/__init__.py": "from payerkb.plugin import hook\n",
        "payerkb/plugin.py": "def hook():\n    import payerkb.web.check\n",
        "payerkb/web/__init__.py": "",
        "payerkb/web/check.py": "from payerkb import x12\n",
        "payerkb/x12.py": "",
    })
    _, graph = import_graph(root, ["payerkb"])
    assert import_cycles(graph) == [["payerkb", "payerkb.plugin", "payerkb.web.check", "payerkb"]]
    (root / "payerkb/web/check.py").write_text("import payerkb.x12 as x12\n")
    _, graph = import_graph(root, ["payerkb"])
    assert import_cycles(graph) == []


def test_the_checker_finds_an_import_against_the_flow_and_a_dynamic_one(tmp_path):
    root = _tree(tmp_path, {
        "formats/__init__.py": "",
        "db/__init__.py": "",
        "db/cms_tables.py": "def load():\n    from scrapers.cms.kinds import KINDS\n",
        "scrapers/__init__.py": "",
        "scrapers/cms/__init__.py": "",
        "scrapers/cms/kinds.py": "",
        "payerkb/__init__.py": "",
        "payerkb/cli.py": "LAZY = {'deploy': ('payerkb.deploy', 'deploy')}\n",
        "payerkb/deploy.py": "",
    })
    modules, graph = import_graph(root, MAY_IMPORT)
    [problem] = layering_violations(modules, graph)
    assert "db.cms_tables imports scrapers.cms.kinds" in problem and ":2:" in problem
    assert "payerkb.deploy" in graph["payerkb.cli"]
