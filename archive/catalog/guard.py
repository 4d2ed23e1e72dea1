"""The catalog's one error boundary: whatever the database does, callers see :class:`CatalogError`.

Every public function and method of :mod:`archive.catalog` that reaches the database is decorated
with :func:`guarded`, and that is the only way the catalog translates errors (a test,
``tests/test_boundaries.py``, lists them all and fails on one that is not, or on a hand-written
``except`` that translates). Inside it, an exception from SQLAlchemy
(``sqlalchemy.exc.SQLAlchemyError``: operational errors, integrity errors, errors of the ORM),
from the database driver itself (``sqlite3.Error``, ``psycopg.Error``, which SQLAlchemy does not
always wrap) or from the operating system (``OSError``: an SQLite file or its folder that cannot
be read or written) becomes a ``CatalogError`` naming what was being done, ``raise ... from`` the
original; so does one raised while the caller iterates what the function returned (a generator,
any other iterator). :class:`~archive.errors.ArchiveError` subclasses raised on purpose inside
(``NotFound``, ``InvalidRequest``, ``AlreadyRecorded``) pass through unchanged; anything else (a
programming error) is not disguised as a database failure.

The message says what the catalog could not do and, in one line, why (the driver's own message,
never the SQL statement or its parameters); it never holds a database password (:func:`redact`).
"""

from __future__ import annotations

import functools
import inspect
import re
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from archive.errors import ArchiveError, CatalogError

__all__ = ["GUARDED", "guarded", "is_database_error", "redact", "translate"]

F = TypeVar("F", bound=Callable[..., Any])

#: set on every function :func:`guarded` wraps (tests look for it)
GUARDED = "__catalog_guarded__"
#: what always counts as a database failure; psycopg's errors are recognised by their module
#: (importing psycopg here would cost every SQLite user its import time)
_ERRORS: tuple[type[BaseException], ...] = (SQLAlchemyError, sqlite3.Error, OSError)
_DRIVER_MODULES = ("psycopg", "psycopg2", "psycopg_pool")
_MAX_REASON = 300
#: the user (and password, if any) of a URL: ``postgresql://user:secret@host`` (a password may hold "@")
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^\s/@:]*)(?::[^\s/]*)?@")


def is_database_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure of the database, its driver or its files (not a bug, not ours)."""
    if isinstance(exc, ArchiveError):
        return False
    if isinstance(exc, _ERRORS):
        return True
    return any(cls.__module__.split(".", 1)[0] in _DRIVER_MODULES for cls in type(exc).__mro__)


def _reason(exc: BaseException) -> str:
    """One line on why: the driver's message (no SQL, no parameters, no link to SQLAlchemy's site)."""
    inner: BaseException = exc
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        inner = exc.orig
    if isinstance(inner, OSError) and inner.strerror:
        text = inner.strerror
    elif isinstance(inner, SQLAlchemyError):
        # an SQLAlchemy error without a driver error: its message is enough, without the
        # "[SQL: ...]" and "(Background on this error at: ...)" it may append
        text = str(inner.args[0]) if inner.args else type(inner).__name__
    else:
        text = str(inner)
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    line = line.split("[SQL:", 1)[0].strip()
    if len(line) > _MAX_REASON:
        line = line[: _MAX_REASON - 1] + "…"
    return f"{type(inner).__name__}: {line}" if line else type(inner).__name__


def redact(text: str) -> str:
    """``text`` with the password of every URL in it shown as ``***`` (``scheme://user:***@host``)."""
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


def translate(exc: BaseException, what: str) -> CatalogError:
    """The ``CatalogError`` to raise (``from exc``) for a failure while doing ``what`` (no password in it)."""
    return CatalogError(redact(f"cannot {what}: {_reason(exc)}"))


def _describe(template: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """``template`` filled with the call's arguments by name (only when something failed)."""
    try:
        bound = inspect.signature(fn).bind_partial(*args, **kwargs)
        bound.apply_defaults()
        values = {k: _short(v) for k, v in bound.arguments.items()}
        return template.format(**values)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError):
        return template


def _short(value: Any) -> Any:
    """An argument as a message shows it: text cut to 120 characters; other values as they are
    (so a template may name their attributes, ``{pkg.id}``)."""
    if isinstance(value, str) and len(value) > 120:
        return value[:119] + "…"
    return value


def _iterated(items: Iterator[Any], describe: Callable[[], str]) -> Iterator[Any]:
    """``items`` as a caller iterates them, database failures on the way becoming CatalogError."""
    try:
        yield from items
    except Exception as exc:
        if not is_database_error(exc):
            raise
        raise translate(exc, describe()) from exc


def guarded(what: str) -> Callable[[F], F]:
    """Decorate a public catalog function: database failures become ``CatalogError("cannot <what>")``.

    ``what`` may name the function's arguments (``"read package {package_id}"``, ``"{self.url}"``);
    it is filled in only when something failed. What the function returns that is iterated later
    (a generator function's generator, any other iterator) is guarded while it is iterated too.
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                if not is_database_error(exc):
                    raise
                raise translate(exc, _describe(what, fn, args, kwargs)) from exc
            if isinstance(result, Iterator):
                return _iterated(result, lambda: _describe(what, fn, args, kwargs))
            return result

        setattr(wrapper, GUARDED, what)
        return cast(F, wrapper)

    return decorate
