"""Just enough SQL lexing to wrap a check's SELECT safely and to bind its parameters.

A check's SQL is authored once and executed two ways: bound by psycopg (the SQL engine) and
rendered as text for SQLAlchemy's ``text()`` inside Great Expectations (the GX engine). Both have
their own meta-characters (``%`` for psycopg; ``{``/``}`` for GX's ``str.format``, ``:name`` for
SQLAlchemy), so the placeholders are found by a lexer that knows strings, quoted identifiers,
dollar quotes and comments, and everything else is escaped for the target.

Placeholders are ``:name`` (lower-case, outside strings and comments; ``::type`` casts are not
placeholders).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from decimal import Decimal

from ..errors import CheckDefinitionError

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
PLACEHOLDER = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


def tokens(sql: str) -> Iterator[tuple[str, str]]:
    """Split SQL into ("code" | "string" | "ident" | "dollar" | "comment", text) pieces."""
    i, n, start = 0, len(sql), 0
    while i < n:
        ch = sql[i]
        nxt = sql[i + 1] if i + 1 < n else ""
        kind, end = None, i
        if ch == "-" and nxt == "-":
            kind, end = "comment", _find(sql, "\n", i + 2)
        elif ch == "/" and nxt == "*":
            kind, end = "comment", _block_comment_end(sql, i)
        elif ch == "'" and _escape_string_prefix(sql, i):
            kind, end = "string", _escaped_end(sql, i)
        elif ch == "'":
            kind, end = "string", _quoted_end(sql, i, "'")
        elif ch == '"':
            kind, end = "ident", _quoted_end(sql, i, '"')
        elif ch == "$" and (m := _DOLLAR_TAG.match(sql, i)) and not (i and sql[i - 1].isalnum()):
            close = sql.find(m.group(0), m.end())
            kind, end = "dollar", (n if close < 0 else close + len(m.group(0)))
        if kind is None:
            i += 1
            continue
        if start < i:
            yield "code", sql[start:i]
        yield kind, sql[i:end]
        i = start = end
    if start < n:
        yield "code", sql[start:n]


def _find(sql: str, needle: str, pos: int) -> int:
    found = sql.find(needle, pos)
    return len(sql) if found < 0 else found


def _quoted_end(sql: str, i: int, quote: str) -> int:
    j = i + 1
    while True:
        j = sql.find(quote, j)
        if j < 0:
            return len(sql)
        if j + 1 < len(sql) and sql[j + 1] == quote:  # doubled quote inside
            j += 2
            continue
        return j + 1


def _escape_string_prefix(sql: str, i: int) -> bool:
    """Whether the quote at ``i`` opens an escape string, E'…' (where \\' does not end it): the
    E stands alone, not as the end of a word (``some'`` is not)."""
    return i >= 1 and sql[i - 1] in "eE" and not (i >= 2 and (sql[i - 2].isalnum()
                                                            or sql[i - 2] in "_$"))


def _escaped_end(sql: str, i: int) -> int:
    j = i + 1
    while j < len(sql):
        if sql[j] == "\\":
            j += 2
        elif sql[j] == "'":
            if j + 1 < len(sql) and sql[j + 1] == "'":
                j += 2
                continue
            return j + 1
        else:
            j += 1
    return len(sql)


def _block_comment_end(sql: str, i: int) -> int:
    depth, j = 0, i
    while j < len(sql):
        if sql.startswith("/*", j):
            depth, j = depth + 1, j + 2
        elif sql.startswith("*/", j):
            depth, j = depth - 1, j + 2
            if depth == 0:
                return j
        else:
            j += 1
    return len(sql)


def clean_select(sql: str, where: str) -> str:
    """The statement without trailing semicolons and comments, checked to be one statement.

    The result can be placed inside ``( … )`` as a subquery: CTEs and ORDER BY are legal there in
    PostgreSQL; a trailing ``;`` or ``-- comment`` would not be.
    """
    pieces = list(tokens(sql))
    while pieces and (pieces[-1][0] == "comment" or
                      (pieces[-1][0] == "code" and not pieces[-1][1].strip(" \t\r\n;"))):
        pieces.pop()
    if pieces and pieces[-1][0] == "code":
        pieces[-1] = ("code", pieces[-1][1].rstrip(" \t\r\n;"))
    if any(kind == "code" and ";" in text for kind, text in pieces):
        raise CheckDefinitionError(f"{where}: holds more than one statement; a check is one "
                                   "SELECT (remove the ';' in the middle)")
    body = "".join(text for _, text in pieces)
    if not any(kind == "code" and text.strip() for kind, text in pieces):
        raise CheckDefinitionError(f"{where}: is empty; write the SELECT that returns the "
                                   "failing rows")
    first_word = re.match(r"\s*(\w+)", "".join(t for k, t in pieces if k == "code"))
    if not first_word or first_word.group(1).lower() not in ("select", "with", "values", "table"):
        raise CheckDefinitionError(f"{where}: must be a SELECT (or WITH … SELECT) that returns "
                                   "the failing rows")
    return body


def placeholders(sql: str) -> set[str]:
    """The ``:name`` placeholders used outside strings and comments."""
    return {m.group(1) for kind, text in tokens(sql) if kind == "code"
            for m in PLACEHOLDER.finditer(text)}


def for_psycopg(sql: str) -> str:
    """``:name`` → ``%(name)s``; every literal ``%`` doubled (psycopg reads the whole text)."""
    out = []
    for kind, text in tokens(sql):
        text = text.replace("%", "%%")
        if kind == "code":
            text = PLACEHOLDER.sub(lambda m: f"%({m.group(1)})s", text)
        out.append(text)
    return "".join(out)


def render_literals(sql: str, params: Mapping[str, Decimal | int]) -> str:
    """``:name`` → the parameter as a validated numeric literal (for engines without binding)."""
    out = []
    for kind, text in tokens(sql):
        if kind == "code":
            text = PLACEHOLDER.sub(lambda m: numeric_literal(m.group(1), params[m.group(1)]), text)
        out.append(text)
    return "".join(out)


def numeric_literal(name: str, value: Decimal | int) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise CheckDefinitionError(f"parameter {name} must be a number to be rendered into SQL, "
                                   f"got {type(value).__name__}")
    number = Decimal(value)
    if not number.is_finite():
        raise CheckDefinitionError(f"parameter {name} must be finite, got {value}")
    text = format(number, "f")
    if not re.fullmatch(r"-?\d+(\.\d+)?", text):  # belt and braces: only digits reach the SQL
        raise CheckDefinitionError(f"parameter {name} renders as {text!r}, not a plain number")
    return f"({text})" if text.startswith("-") else text


def strip_comments(sql: str) -> str:
    """The SQL without comments: GX re-parses query text, where a comment's ``:word`` breaks."""
    return "".join(" " if kind == "comment" and text.startswith("/*") else
                   "\n" if kind == "comment" else text for kind, text in tokens(sql))


def escape_binds(sql: str) -> str:
    """Escape what SQLAlchemy ``text()`` would read as a bind parameter (``:name``)."""
    return re.sub(r"(?<![:\w\\]):(?=\w)", r"\\:", sql)


def escape_for_gx(sql: str) -> str:
    """Escape text for a GX query: ``str.format`` braces doubled, ``:name`` binds escaped."""
    return escape_binds(sql.replace("{", "{{").replace("}", "}}"))
