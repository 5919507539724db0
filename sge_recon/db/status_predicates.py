"""Status predicates on a profile's mapped statuses, rewritten to the platform's own labels.

A profile maps a platform status (SGE: the enum ``"IntentStatus"``) to the contract's values with
a CASE (profiles/model.py, ``StatusMap``). A predicate on the CASE — ``i.status = 'completed'`` —
is opaque to PostgreSQL: it has no statistics for it (it guesses 0.5 % of the rows, and plans
nested loops for the 97 % that match) and no index can serve it. The relation therefore also
carries, per contract value, a flag ``<column>__is_<value>``: the platform's own predicate on its
labels (``i.status IN ('CONFIRMED')``, written in the body of the relation's function,
profile_views.py, so that PostgreSQL inlines it onto the platform's column, its statistics and
its index). :func:`rewrite` turns a predicate on the contract value into the flags::

    i.status = 'completed'                    ->  (i."status__is_completed")
    status IN ('payment_pending', 'verifying') ->  ("status__is_payment_pending")
    b.status NOT IN ('executed', 'rejected')  ->  (NOT (b."status__is_executed" OR b."status__is_rejected"))

Exact, NULLs included: the CASE gives a contract value only for its labels, ``unmapped:<label>``
(equal to no contract value) for any other label and NULL for a NULL source; a flag is true for
its value's labels, false for any other label and NULL for a NULL source, so "status is one of
these values" is "one of their flags" on every row. Values that no label maps to have no flag and
are dropped; a predicate left with none is not rewritten (the CASE still answers it).

Only the simplest forms are rewritten: ``[<alias>.]<column> = | <> | != | IN | NOT IN`` plain
string literals, where ``<alias>`` is the alias (or name) of a ``platform.<table>`` that maps that
column, and a bare ``<column>`` only in a statement that reads one relation and nothing else. A
rewrite can never silently change a result: the flags exist only on the profile's relations, so a
predicate taken for another relation's would fail loudly (column does not exist).
"""

from __future__ import annotations

import re

_KEYWORDS = {"where", "join", "left", "right", "inner", "full", "cross", "on", "group", "order",
             "limit", "union", "window", "having", "using", "natural", "except", "intersect",
             "offset", "fetch", "for", "returning", "set", "and", "or", "with", "select", "from",
             "lateral", "tablesample", "as"}
_REFERENCE = re.compile(r'(?<![\w."$])platform\.([A-Za-z_]\w*)\b(?:\s+(?:AS\s+)?([A-Za-z_]\w*))?',
                        re.IGNORECASE)
# what follows a closing parenthesis (a subquery's or a function's alias; a column alias too,
# which can only make the rewrite more careful) or a relation that is not the platform's
_OTHER_ALIAS = re.compile(r'\)\s*(?:AS\s+)?([A-Za-z_]\w*)|\b(?:FROM|JOIN)\s+(?!platform\.)'
                          r'(?:[A-Za-z_][\w$]*\.)?[A-Za-z_][\w$]*\s+(?:AS\s+)?([A-Za-z_]\w*)',
                          re.IGNORECASE)
_RELATIONS = re.compile(r"\b(?:FROM|JOIN)\b", re.IGNORECASE)
_NOT_A_RELATION = re.compile(r"\bextract\s*\(\s*\w+\s+FROM\b|\bDISTINCT\s+FROM\b", re.IGNORECASE)
_ALONE = re.compile(r'(?<![\w."$])platform\.[A-Za-z_]\w*(?:\s+(?:AS\s+)?(?!(?:WHERE|GROUP|ORDER|'
                    r'LIMIT)\b)[A-Za-z_]\w*)?\s*(?:\bWHERE\b|\bGROUP\b|\bORDER\b|\bLIMIT\b|\)|$)',
                    re.IGNORECASE)
# what is not code for the decisions below: a comment ("… read from these rows …" is no FROM) or a
# string literal (its text is no relation)
_NOT_CODE = re.compile(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/", re.DOTALL)
_LITERALS = r"(\(\s*'[^']*'(?:\s*,\s*'[^']*')*\s*\)|'[^']*')"
_OPERATOR = r"\s*(=|<>|!=|\bNOT\s+IN\b|\bIN\b)\s*"

StatusLabels = tuple[tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...]], ...]
FLAG_INFIX = "__is_"


def flag_column(column: str, value: str) -> str:
    """The quoted name of the flag "``column`` is ``value``" on a profile's relation."""
    return '"' + f"{column}{FLAG_INFIX}{value}".replace('"', '""') + '"'


def rewrite(sql: str, status_labels: StatusLabels) -> str:
    """``sql`` with its status predicates on ``platform.<table>`` relations made on the labels
    (``status_labels``: (table, column, ((contract value, labels), …)) per status map)."""
    code = _NOT_CODE.sub(lambda m: "''" if m.group(0).startswith("'") else " ", sql)
    references = [(m.group(1), m.group(2)) for m in _REFERENCE.finditer(code)]
    if not references:
        return sql
    maps = {(t, c): dict(values) for t, c, values in status_labels}
    qualifiers: dict[str, str | None] = {}
    for table, alias in references:
        name = alias if alias and alias.lower() not in _KEYWORDS else table
        qualifiers[name] = table if qualifiers.get(name, table) == table else None  # ambiguous
    # an alias that also names something else in the statement (`) AS e` over a subquery,
    # `JOIN recon.x e`) is not certainly the platform relation's: left alone (it would fail
    # loudly, column does not exist, but fail all the same)
    for other in _OTHER_ALIAS.finditer(code):
        alias = other.group(1) or other.group(2)
        if alias in qualifiers and alias.lower() not in _KEYWORDS:
            qualifiers[alias] = None
    single = len(references) == 1 and _reads_one_relation(code)
    for column in sorted({c for _, c, _ in status_labels}):
        pattern = re.compile(rf'(?<![\w."$])(?:([A-Za-z_]\w*)\.)?{re.escape(column)}\b'
                             rf"{_OPERATOR}{_LITERALS}", re.IGNORECASE)

        def on_labels(m: re.Match, column: str = column) -> str:
            qualifier = m.group(1)
            table = qualifiers.get(qualifier) if qualifier else \
                (references[0][0] if single else None)
            values = maps.get((table, column)) if table else None
            if values is None:
                return m.group(0)
            literals = re.findall(r"'([^']*)'", m.group(3))
            mapped = [v for v in dict.fromkeys(literals) if values.get(v)]
            if not mapped:
                return m.group(0)
            negated = m.group(2).upper().startswith("NOT") or m.group(2) in ("<>", "!=")
            prefix = f"{qualifier}." if qualifier else ""
            flags = " OR ".join(prefix + flag_column(column, v) for v in mapped)
            return f"(NOT ({flags}))" if negated else f"({flags})"

        sql = pattern.sub(on_labels, sql)
    return sql


def _reads_one_relation(sql: str) -> bool:
    """One FROM, no JOIN, and its one item the platform relation (no comma, no subquery);
    ``sql`` without its comments and literals."""
    relations = _RELATIONS.findall(_NOT_A_RELATION.sub("", sql))
    return len(relations) == 1 and relations[0].upper() == "FROM" and bool(_ALONE.search(sql))
