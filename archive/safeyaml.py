"""Read YAML that people hand us without letting it hurt us.

``yaml.safe_load`` already refuses to build arbitrary objects, but an alias bomb (a few
anchors referencing each other) expands to billions of nodes as soon as anything walks the
result, and deep nesting exhausts the stack. Here aliases are refused outright (no metadata
or profile needs them) and nesting is bounded. A scalar that parses but cannot be built (a date
like ``2024-13-45``, a number of more than 4,300 digits) is a ``yaml.YAMLError`` like any
other syntax problem, never a bare ``ValueError`` from deep inside PyYAML.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_DEPTH = 64


class UnsafeYAML(ValueError):
    """The document uses aliases or nests too deeply."""


class _NoAliasLoader(yaml.SafeLoader):
    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise UnsafeYAML(f"line {event.start_mark.line + 1}: YAML aliases (*{event.anchor}) are not accepted")
        self._depth += 1
        if self._depth > MAX_DEPTH:
            event = self.peek_event()
            raise UnsafeYAML(f"line {event.start_mark.line + 1}: nested more than {MAX_DEPTH} levels deep")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load(text: str) -> Any:
    """Parse one YAML document; raises ``yaml.YAMLError`` or :class:`UnsafeYAML`."""
    loader = _NoAliasLoader(text)
    try:
        return loader.get_single_data()
    except UnsafeYAML:
        raise
    except (ValueError, TypeError, OverflowError) as exc:  # raised by constructors (dates, ints, ...)
        raise yaml.YAMLError(f"a value cannot be read: {str(exc).split(';')[0]}") from exc
    finally:
        loader.dispose()
