"""The catalog's error boundary itself (``archive.catalog.guard``): calls, iteration, messages.

``tests/test_boundaries.py`` proves every catalog function is guarded and fails as it should;
this file proves what ``@guarded`` does with any function: what it translates and what it lets
through, while the function runs and while its caller iterates what it returned.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy.exc

from archive.catalog.guard import GUARDED, guarded, is_database_error, redact, translate
from archive.errors import CatalogError, NotFound


def _db_error() -> BaseException:
    return sqlalchemy.exc.OperationalError("SELECT secret FROM t", {"p": "x"}, sqlite3.OperationalError("disk I/O"))


class _PsycopgLike(Exception):
    """An error of the PostgreSQL driver, recognised by its module (psycopg is not imported)."""


_PsycopgLike.__module__ = "psycopg.errors"

DATABASE_ERRORS = [
    _db_error,
    lambda: sqlite3.DatabaseError("database disk image is malformed"),
    lambda: OSError(5, "Input/output error"),
    lambda: sqlalchemy.exc.InvalidRequestError("the session is in a broken state"),
    lambda: _PsycopgLike("connection lost"),
]


def _failing_rows(exc: BaseException, after: int) -> Iterator[int]:
    yield from range(after)
    raise exc


@pytest.mark.parametrize("make", DATABASE_ERRORS)
def test_a_database_failure_in_the_call_is_a_catalog_error(make: Any) -> None:
    @guarded("read package {package_id}")
    def read(package_id: str) -> None:
        raise make()

    with pytest.raises(CatalogError) as caught:
        read("p-1")
    assert caught.value.message.startswith("cannot read package p-1: ")
    assert isinstance(caught.value.__cause__, type(make()))
    assert "SELECT" not in caught.value.message and "[SQL:" not in caught.value.message
    assert getattr(read, GUARDED) == "read package {package_id}"


@pytest.mark.parametrize("make", DATABASE_ERRORS)
def test_a_database_failure_while_a_generator_is_iterated_is_a_catalog_error(make: Any) -> None:
    ran: list[str] = []

    @guarded("list the rows of {table}")
    def rows(table: str) -> Iterator[int]:
        ran.append("started")
        yield from _failing_rows(make(), 2)

    items = rows("t")
    assert not ran, "a generator function runs only when it is iterated"
    assert next(items) == 0 and next(items) == 1
    with pytest.raises(CatalogError, match=r"^cannot list the rows of t: "):
        next(items)


@pytest.mark.parametrize("make", DATABASE_ERRORS)
def test_a_database_failure_while_a_returned_iterator_is_iterated_is_a_catalog_error(make: Any) -> None:
    @guarded("read the log")
    def log() -> Iterator[int]:
        return iter(_failing_rows(make(), 1))  # not a generator function: it returns a lazy iterator

    items = log()
    assert next(items) == 0
    with pytest.raises(CatalogError, match=r"^cannot read the log: "):
        list(items)


def test_archive_errors_and_programming_errors_pass_through_the_guard_unchanged() -> None:
    missing = NotFound("no package p-1")
    for exc in (missing, ValueError("a bug"), TypeError("another bug"), KeyError("k")):

        @guarded("read package")
        def call(exc: BaseException = exc) -> None:
            raise exc

        @guarded("read packages")
        def lazy(exc: BaseException = exc) -> Iterator[int]:
            yield from _failing_rows(exc, 1)

        with pytest.raises(type(exc)) as caught:
            call()
        assert caught.value is exc
        with pytest.raises(type(exc)) as caught:
            list(lazy())
        assert caught.value is exc
        assert not is_database_error(exc)


def test_what_a_guarded_function_returns_is_handed_back_as_it_is() -> None:
    values: list[Any] = [[1, 2], {"a": 1}, {1}, (1,), "text", None, 3]
    for value in values:

        @guarded("read")
        def read(value: Any = value) -> Any:
            return value

        assert read() is value


def test_a_guarded_generator_closed_early_closes_the_inner_one() -> None:
    closed: list[bool] = []

    @guarded("read")
    def rows() -> Iterator[int]:
        try:
            yield from range(10)
        finally:
            closed.append(True)  # e.g. a session's ``with`` block

    items = rows()
    assert next(items) == 0
    items.close()  # type: ignore[attr-defined]
    assert closed == [True]


def test_an_unknown_template_name_falls_back_to_the_template() -> None:
    @guarded("read {nothing}")
    def read() -> None:
        raise _db_error()

    with pytest.raises(CatalogError, match=r"^cannot read \{nothing\}: "):
        read()


def test_long_arguments_are_cut_in_the_message() -> None:
    @guarded("read file {path}")
    def read(path: str) -> None:
        raise _db_error()

    with pytest.raises(CatalogError) as caught:
        read("x" * 1000)
    assert "x" * 119 + "…" in caught.value.message and "x" * 120 not in caught.value.message


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql://postgres:s3cret@db.example:5432/archive", "postgresql://postgres:***@db.example:5432/archive"),
        ("postgresql+psycopg://u:p@ss@host/db", "postgresql+psycopg://u:***@host/db"),  # "@" in the password
        ("postgresql://postgres@127.0.0.1:1/none", "postgresql://postgres:***@127.0.0.1:1/none"),
        ("sqlite:////var/archive/catalog.sqlite3", "sqlite:////var/archive/catalog.sqlite3"),
        ("sqlite:///relative/with@sign.sqlite3", "sqlite:///relative/with@sign.sqlite3"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
    ],
)
def test_redact_hides_the_password_of_a_url(url: str, shown: str) -> None:
    assert redact(url) == shown
    assert redact(f"cannot reach {url}: refused; retried {url}") == f"cannot reach {shown}: refused; retried {shown}"


def test_no_catalog_error_holds_a_password() -> None:
    """Whatever names the URL (the template, an argument's attribute, the driver's message)."""
    url = "postgresql://archivist:hunter2@db/archive"

    class Handle:
        def __init__(self) -> None:
            self.url = url

    @guarded("reach the catalog {handle.url}")
    def ping(handle: Handle) -> None:
        raise _PsycopgLike(f"connection to {url} failed")

    with pytest.raises(CatalogError) as caught:
        ping(Handle())
    assert "hunter2" not in caught.value.message and "archivist:***@db" in caught.value.message
    assert "hunter2" not in translate(OSError(13, f"denied: {url}"), f"open {url}").message
