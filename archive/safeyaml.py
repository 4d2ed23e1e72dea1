"""Read YAML that people hand us without letting it hurt us, or guessing what they meant.

``yaml.safe_load`` already refuses to build arbitrary objects, but an alias bomb (a few
anchors referencing each other) expands to billions of nodes as soon as anything walks the
result, and deep nesting exhausts the stack. Here aliases are refused outright (no metadata
or profile needs them) and nesting is bounded. A scalar that parses but cannot be built (a date
like ``2024-13-45``, a number of more than 4,300 digits) is a ``yaml.YAMLError`` like any
other syntax problem, never a bare ``ValueError`` from deep inside PyYAML.

Nothing is resolved silently:

* a key given twice in one mapping (at any depth) is :class:`DuplicateKeys`, naming every
  repeat with both line numbers, where PyYAML keeps the last one. Keys are compared the way the
  profile checker uses them: as text (``1`` and ``"1"``, ``true`` and ``"True"`` are one name),
  with surrounding spaces and Unicode normalisation ignored, and also as values (``1`` and
  ``true`` are one Python dict key);
* merge keys (``<<``) are refused: explicit keys silently win over merged ones;
* YAML 1.1 numbers nobody means (``0012`` is octal 10, ``12:30`` is base-60 750) are refused
  with a hint to quote them, and so are the tags for sets, ordered maps, pairs and binary
  (values are text, numbers, booleans, dates, lists and mappings).

:func:`shown` makes the short, escaped excerpt of a value that messages may carry.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_DEPTH = 64
#: longest excerpt of a value a message shows
EXCERPT = 40

_MERGE_TAG = "tag:yaml.org,2002:merge"
_VALUE_TAG = "tag:yaml.org,2002:value"
_REFUSED_TAGS = {
    "tag:yaml.org,2002:set": "!!set",
    "tag:yaml.org,2002:omap": "!!omap",
    "tag:yaml.org,2002:pairs": "!!pairs",
    "tag:yaml.org,2002:binary": "!!binary",
}


def shown(value: Any, limit: int = EXCERPT) -> str:
    """A short, escaped excerpt of ``value`` for a message: never the whole of a long value.

    Text is quoted and escaped like ``repr`` (control, format and line-break characters come out
    as ``\\x1b``, ``\\u202e``, ``\\n``), cut after ``limit`` characters with its length said;
    numbers, booleans and dates are written as in YAML; a list or mapping is only described.
    """
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return f"{repr(value[:limit])[:-1]}...{repr(value[:1])[-1]} ({len(value):,} characters)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        digits = str(value)
        return digits if len(digits) <= limit else f"a number of {len(digits):,} digits"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return f"a mapping of {len(value):,} keys"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value):,} values"
    if isinstance(value, (bytes, bytearray)):
        return f"{len(value):,} bytes"
    return f"a {type(value).__name__}"


def key_text(key: Any) -> str:
    """A mapping key as the profile checker names it (``str``), before normalisation."""
    return key if isinstance(key, str) else str(key)


def key_identity(key: Any) -> str:
    """What makes two keys the same name: the text, NFC-normalised, without surrounding spaces."""
    return unicodedata.normalize("NFC", key_text(key)).strip()


def label(key: Any) -> str:
    """A key as it may appear in a finding's path: itself when short and printable, else excerpted."""
    text = key_text(key)
    return text if text and len(text) <= 64 and text.isprintable() and text == text.strip() else shown(text)


def short_path(path: str, limit: int = 160) -> str:
    """A path into a document (``creators[1].name``) cut to its last ``limit`` characters."""
    return path if len(path) <= limit else "..." + path[-limit:]


@dataclass(frozen=True)
class Duplicate:
    """A key given again in the same mapping. Lines are 1-based; None when unknown."""

    path: str  # where the repeated key is: "access_level", "creators[1].name"
    key: Any  # the repeated key as written
    first: Any  # the key it repeats, as written
    line: int | None
    first_line: int | None
    column: int | None = None  # 1-based; shown when both keys are on one line
    first_column: int | None = None

    @property
    def same_spelling(self) -> bool:
        return key_text(self.key) == key_text(self.first)

    def describe(self) -> str:
        """The problem in words, for a finding on ``path``."""
        one_line = self.line == self.first_line and self.column and self.first_column
        where = (f" on line {self.line}" + (f", column {self.column}" if one_line else "")) if self.line else ""
        there = (
            (f" on line {self.first_line}" + (f", column {self.first_column}" if one_line else ""))
            if self.first_line
            else ""
        )
        if self.same_spelling:
            return (
                f"is given twice, first{there} and again{where}; give each key once (the archive "
                "does not guess which value was meant)"
            )
        return (
            f"{shown(key_text(self.key))}{where} names the same key as {shown(key_text(self.first))}{there} "
            "(names are compared as text, ignoring surrounding spaces and Unicode normalisation); "
            "give each key once"
        )


class UnsafeYAML(ValueError):
    """The document uses a YAML feature that is refused (aliases, merge keys, ...) or nests too deeply."""


class DuplicateKeys(UnsafeYAML):
    """A mapping names a key twice. ``duplicates`` lists every repeat; ``data`` is what PyYAML
    would have made of it (last value wins), for checking the rest of the document."""

    def __init__(self, duplicates: list[Duplicate], data: Any = None) -> None:
        self.duplicates = duplicates
        self.data = data
        super().__init__(
            "; ".join(f"{d.path}: {d.describe()}" for d in duplicates[:10])
            + (f"; and {len(duplicates) - 10} more" if len(duplicates) > 10 else "")
        )


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _StrictLoader(yaml.SafeLoader):
    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise UnsafeYAML(
                f"line {event.start_mark.line + 1}: YAML aliases (*{shown(event.anchor)}) are not accepted"
            )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            event = self.peek_event()
            raise UnsafeYAML(f"line {event.start_mark.line + 1}: nested more than {MAX_DEPTH} levels deep")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_int(self, node: Any) -> int:
        text = str(self.construct_scalar(node))
        digits = text.replace("_", "").lstrip("+-")
        if ":" in digits:
            raise UnsafeYAML(
                f"line {_line(node)}: {shown(text)} is a base-60 number in YAML 1.1 "
                f"({shown(super().construct_yaml_int(node))}); put quotes around it if it is text"
            )
        if len(digits) > 1 and digits[0] == "0" and digits[1] not in "bx":
            raise UnsafeYAML(
                f"line {_line(node)}: {shown(text)} is an octal number in YAML 1.1 "
                f"({shown(super().construct_yaml_int(node))}); put quotes around it if it is text, "
                "or write it without leading zeros"
            )
        return int(super().construct_yaml_int(node))

    def construct_yaml_float(self, node: Any) -> float:
        text = str(self.construct_scalar(node))
        if ":" in text:
            raise UnsafeYAML(
                f"line {_line(node)}: {shown(text)} is a base-60 number in YAML 1.1; put quotes around it if it is text"
            )
        return float(super().construct_yaml_float(node))

    def refuse_tag(self, node: Any) -> Any:
        raise UnsafeYAML(
            f"line {_line(node)}: the tag {_REFUSED_TAGS[node.tag]} is not accepted; values are "
            "text, numbers, true/false, dates, lists and mappings"
        )

    def find_duplicates(self, root: Node) -> list[Duplicate]:
        """Every key repeated in a mapping of the tree under ``root`` (walked without recursion)."""
        found: list[Duplicate] = []
        stack: list[tuple[Node, str]] = [(root, "")]
        while stack:
            node, path = stack.pop()
            if isinstance(node, SequenceNode):
                stack += [(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
                continue
            if not isinstance(node, MappingNode):
                continue
            by_value: dict[Any, tuple[Any, Node]] = {}
            by_text: dict[str, tuple[Any, Node]] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    raise UnsafeYAML(f"line {_line(key_node)}: merge keys (<<) are not accepted; write the keys out")
                if key_node.tag == _VALUE_TAG:  # a plain '=' key is text, as PyYAML's flatten_mapping makes it
                    key_node.tag = "tag:yaml.org,2002:str"
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark, "found unhashable key", key_node.start_mark
                    ) from None
                child = f"{path}.{label(key)}" if path else label(key)
                seen = by_value.get(key) or by_text.get(key_identity(key))
                if seen is not None:
                    found.append(
                        Duplicate(
                            short_path(child),
                            key,
                            seen[0],
                            _line(key_node),
                            _line(seen[1]),
                            key_node.start_mark.column + 1,
                            seen[1].start_mark.column + 1,
                        )
                    )
                # a repeat is remembered too: "0" and false do not collide, but 0 after both does, with either
                by_value.setdefault(key, (key, key_node))
                by_text.setdefault(key_identity(key), (key, key_node))
                stack.append((value_node, child))
        return sorted(found, key=lambda d: (d.line or 0, d.path))


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:float", _StrictLoader.construct_yaml_float)
for _tag in _REFUSED_TAGS:
    _StrictLoader.add_constructor(_tag, _StrictLoader.refuse_tag)


def load(text: str) -> Any:
    """Parse one YAML document; raises ``yaml.YAMLError``, :class:`UnsafeYAML` or :class:`DuplicateKeys`.

    Without duplicates, refused features or over-deep nesting the result is exactly what
    ``yaml.safe_load`` gives.
    """
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        duplicates = loader.find_duplicates(node)
        data = loader.construct_document(node)
        if duplicates:
            raise DuplicateKeys(duplicates, data)
        return data
    except UnsafeYAML:
        raise
    except (ValueError, TypeError, OverflowError) as exc:  # raised by constructors (dates, ints, ...)
        raise yaml.YAMLError(f"a value cannot be read: {str(exc).split(';')[0][:200]}") from exc
    finally:
        loader.dispose()
