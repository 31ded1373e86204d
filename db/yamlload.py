"""Load YAML while remembering the line of every key and list item.

Validation errors must point at `file.yml:LINE`, so the loader keeps, for each mapping and
sequence, the 1-based line where each key (or item) starts. Dates stay strings: PyYAML's own
timestamp resolver would turn an impossible date such as 2023-02-30 into a crash without a line
number, so dates are checked later by the schema, where the line is known.

Files are parsed by libyaml (PyYAML's C parser, about seven times faster) with the same
line-keeping constructors. Whenever the C parse stops for any reason (a syntax error, too many
aliases, nesting deeper than MAX_DEPTH), the file is read again by the pure-Python loader, whose
errors are the ones reported, so a message and its line do not depend on which parser ran.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class LineDict(dict):
    """A dict that knows the line of each of its keys (`key_lines`) and where it starts (`line`)."""

    line: int = 0
    key_lines: dict

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.key_lines = {}


class LineList(list):
    """A list that knows the line of each item (`item_lines`) and where it starts (`line`)."""

    line: int = 0
    item_lines: list

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.item_lines = []


class PolicyYAMLError(Exception):
    """A YAML file that cannot be read, with the line where reading failed."""

    def __init__(self, path: Path, line: int, message: str):
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


MAX_ALIASES = 20  # policy files need none; a few are harmless, thousands are a "billion laughs" bomb
MAX_DEPTH = 100


class _LineLoader(yaml.SafeLoader):
    aliases_seen = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.aliases_seen += 1
            if self.aliases_seen > MAX_ALIASES:
                raise yaml.composer.ComposerError(
                    None, None, f"more than {MAX_ALIASES} YAML aliases (*name): write the values out",
                    self.peek_event().start_mark)
        return super().compose_node(parent, index)


# Keep timestamps as plain strings (see module docstring).
_LineLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> LineDict:
    result = LineDict()
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be plain text", key_node.start_mark
            )
        if key in result:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first at line {result.key_lines[key]})",
                key_node.start_mark,
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode, deep: bool = False) -> LineList:
    result = LineList()
    result.line = node.start_mark.line + 1
    for item_node in node.value:
        result.append(loader.construct_object(item_node, deep=True))
        result.item_lines.append(item_node.start_mark.line + 1)
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


class _Unsure(Exception):
    """The C parse gave up on a file: the pure-Python loader reads it again and says why."""


_CSafeLoader = getattr(yaml, "CSafeLoader", None)  # None when PyYAML was built without libyaml

if _CSafeLoader is not None:
    class _CLineLoader(_CSafeLoader):
        """libyaml parses and composes; the constructors above build LineDict/LineList.

        libyaml resolves an alias to the anchored node itself, so each alias is a second
        construct_object() of a node already built: that is what is counted against MAX_ALIASES.
        """

        yaml_implicit_resolvers = _LineLoader.yaml_implicit_resolvers
        aliases_seen = 0
        depth = 0
        _scalar_tags: dict = {}  # (text, implicit) -> tag: the same words recur in every file

        def resolve(self, kind, value, implicit):
            if kind is not yaml.ScalarNode:
                return super().resolve(kind, value, implicit)
            key = (value, implicit)
            tag = self._scalar_tags.get(key)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(self._scalar_tags) < 100_000:
                    self._scalar_tags[key] = tag
            return tag

        def construct_object(self, node, deep=False):
            if node in self.constructed_objects:
                self.aliases_seen += 1
                if self.aliases_seen > MAX_ALIASES:
                    raise _Unsure
                return self.constructed_objects[node]
            if type(node) is yaml.ScalarNode:
                # what SafeConstructor.construct_object does for a scalar, minus its bookkeeping
                # for nested and recursive nodes (a scalar has none): most nodes are scalars
                if node.tag == "tag:yaml.org,2002:str":
                    data = node.value
                else:
                    constructor = self.yaml_constructors.get(node.tag)
                    if constructor is None:
                        return super().construct_object(node, deep)
                    data = constructor(self, node)
                self.constructed_objects[node] = data
                return data
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _Unsure
            try:
                return super().construct_object(node, deep)
            finally:
                self.depth -= 1

    _CLineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _CLineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _load_fast(text: str) -> Any:
    """The file read by libyaml, or _Unsure when only the pure-Python loader can tell what is wrong."""
    if _CSafeLoader is None:
        raise _Unsure
    try:
        return yaml.load(text, Loader=_CLineLoader)  # noqa: S506 - SafeLoader subclass
    except (yaml.YAMLError, RecursionError, ValueError, TypeError, _Unsure):
        raise _Unsure from None


def load_yaml(path: Path) -> Any:
    """Read one YAML file; raise PolicyYAMLError with the failing line on any problem."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise PolicyYAMLError(path, 1, f"cannot read file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise PolicyYAMLError(path, line, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {column}: {exc.reason})") from None
    try:
        return _load_fast(text)
    except _Unsure:
        pass
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except RecursionError:
        raise PolicyYAMLError(path, _too_deep_line(text), f"nested more than {MAX_DEPTH} levels deep") from None
    except yaml.reader.ReaderError as exc:
        # a bad character: PyYAML gives its position in the text, not a line
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise PolicyYAMLError(
            path, line, f"unacceptable character #x{ord(char):04x}: {exc.reason}"
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context_mark and exc.problem_mark and exc.problem_mark.index >= len(text.rstrip()):
            # the file ended inside something still open: point at where it was opened
            line = exc.context_mark.line + 1
            problem = f"{exc.context} was never closed ({problem})"
        if "\t" in text and "found character '\\t'" in str(problem):
            problem += " (YAML indentation must use spaces, not tabs)"
        raise PolicyYAMLError(path, line, f"YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise PolicyYAMLError(path, 1, f"YAML error: {exc}") from None



def _too_deep_line(text: str) -> int:
    """The line where nesting first passes MAX_DEPTH, found from parser events (no recursion)."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_LineLoader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    return event.start_mark.line + 1
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        pass
    return 1


def line_of(data: Any, loc: tuple) -> int:
    """The line of the deepest element of `loc` (a pydantic error location) found in `data`."""
    line = getattr(data, "line", 1) or 1
    node = data
    for part in loc:
        if isinstance(node, LineDict) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.item_lines[part]
            node = node[part]
        else:
            break
    return line


def compact_lines(data: Any) -> tuple:
    """The lines line_of() can find at the top two levels of a read file, without the values:
    (line, {key: (key line, item lines | "mapping" | None)}). A validated file is kept this way
    (db/validate.py Located): small to hold and to pass between processes."""
    if not isinstance(data, LineDict):
        return (getattr(data, "line", 1) or 1, {})
    keys = {}
    for key, value in data.items():
        if isinstance(value, LineList):
            inner = tuple(value.item_lines)
        elif isinstance(value, LineDict):
            inner = "mapping"
        else:
            inner = None
        keys[key] = (data.key_lines[key], inner)
    return (data.line or 1, keys)


def compact_line_of(lines: tuple, loc: tuple) -> int | None:
    """line_of() over compact_lines(); None when the answer lies deeper (read the file again)."""
    line, keys = lines
    if not loc:
        return line
    if loc[0] not in keys:
        return line
    key_line, inner = keys[loc[0]]
    if len(loc) == 1 or inner is None:
        return key_line
    if inner == "mapping":
        return None
    part = loc[1]
    if not (isinstance(part, int) and 0 <= part < len(inner)):
        return key_line
    return inner[part] if len(loc) == 2 else None
