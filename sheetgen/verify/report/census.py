"""What a class did, counted: each kind of mistake with the books that made it, and books that are copies.

A kind of mistake is a diagnosis in a quantity ("uses a_h1·(1−a_h1) in place of a_h2·(1−a_h2) in
∂E/∂w3"), written with the column table's labels whatever the sheet's headers (out_o1 and a_o1
are one quantity), and without the numbers of the random inputs that showed it. The census counts
books, not sheets or cells: a book with one mistake on six sheets is one book of that kind, and a
mistake repeated over the weights (the update's sign in w1 … w8) is one kind, naming each weight.
Wrong values no known mistake explains are one kind, "other". A sheet holding values only, no
formulas (pasted from another), says nothing about how its numbers were computed: its cells are
not counted as mistakes; a book with nothing else to count is counted as such.

Two books are identical when every sheet holds the same formulas and the same saved values,
whatever their file names (a shared formula is compared as its master's text and the cell's
offset from it, which is exact for copies of one file and cheaper than translating every cell).
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field

from sheetgen.core.columns import BY_KEY
from sheetgen.verify.report.annotate import unproven, wrong_cells

OTHER = "other: wrong values no known mistake explains"
PASTED = "sheets of values only, no formulas (pasted or typed)"
TYPED_VALUES = "values typed where formulas belong"
_UNEXPLAINED = re.compile(r"no known mistake fits|no one-edit change makes (the|its) formula right")
# The tail of a diagnosis saying where a wrong formula shows (at random inputs): not the mistake.
_WHERE_IT_SHOWS = re.compile(r"; (?:with |at the sheet's numbers|shows with ).*$", re.DOTALL)
_ORDER = {key: n for n, key in enumerate(BY_KEY)}
_OWN_WEIGHT = re.compile(r"w([1-8])$")


@dataclass
class Mistake:
    text: str  # "uses … in ∂E/∂w3"
    books: list[str] = field(default_factory=list)


def _quantity(finding) -> str:
    column = BY_KEY.get(finding.key)
    return column.label if column is not None else finding.label


def _canonical(text: str, table) -> str:
    """`text` with the table's own header spellings (out_o1, ∂E_total/∂w1) written as the column
    table's labels (a_o1, ∂E/∂w1), in one pass so no label is rewritten twice."""
    headers = getattr(getattr(table, "table", None), "headers", None) or {}
    spelled = {
        header: BY_KEY[key].label
        for key, header in headers.items()
        if key in BY_KEY and isinstance(header, str) and header and header != BY_KEY[key].label
    }
    if not spelled:
        return text
    pattern = "|".join(re.escape(h) for h in sorted(spelled, key=len, reverse=True))
    return re.sub(rf"(?<![\w])(?:{pattern})(?![\w])", lambda m: spelled[m.group(0)], text)


def _pasted(table) -> bool:
    """A table with values only: typed where formulas belong, no formula proven, none wrong."""
    return (
        any(getattr(item, "kind", "") == "values" for item in unproven(table))
        and not getattr(table, "proven_forms", 0)
        and not any(finding.formula for finding in wrong_cells(table))
    )


def _finding_kind(finding, table) -> tuple[tuple[str, str], str, str] | None:
    """((kind key), its text for this quantity, the quantity) of one wrong cell; None for "other"."""
    diagnosis = _WHERE_IT_SHOWS.sub("", finding.diagnosis or "").strip()
    if not diagnosis or _UNEXPLAINED.match(diagnosis):
        return None
    diagnosis = _canonical(diagnosis, table)
    quantity = _quantity(finding)
    own = _OWN_WEIGHT.search(finding.key or "")
    shape, family = diagnosis, quantity
    if own:  # the same mistake in another weight's column is the same kind: wN for its own number
        shape = re.sub(rf"(?<=w){own.group(1)}(?!\d)", "N", diagnosis)
        family = re.sub(rf"(?<=w){own.group(1)}(?!\d)", "N", quantity)
    return (shape, family), diagnosis, quantity


def _book_kinds(result, texts: dict) -> set:
    """The kinds of mistake in one book (each once), filling texts[kind] with {quantity: text}."""
    verdict = result.verdict
    if verdict in ("verified", "unreadable"):
        return set()
    if verdict == "different_network":
        difference = getattr(result, "network_difference", None) or next(
            (t.network_difference for t in result.tables if getattr(t, "network_difference", None)), ""
        )
        kind = ("different network", difference)
        texts.setdefault(kind, {})[""] = f"a different network: {difference}"
        return {kind}
    kinds, pasted = set(), False
    for table in result.tables:
        if _pasted(table):
            pasted = True
            continue
        for finding in wrong_cells(table):
            found = _finding_kind(finding, table)
            if found is None:
                kinds.add((OTHER, ""))
                continue
            kind, text, quantity = found
            texts.setdefault(kind, {}).setdefault(quantity, text)
            kinds.add(kind)
        for item in unproven(table):
            if item.kind == "values":
                kinds.add((TYPED_VALUES, ""))
            elif item.kind == "constant":
                column = BY_KEY.get(item.quantity or "")
                name = column.label if column else ("η" if item.quantity in (None, "eta") else item.quantity)
                kinds.add(
                    (f"{name} typed into the formulas as a number where the sheet has a cell for it", "")
                )
    if verdict == "incomplete":
        kinds.add(("incomplete: nothing (or no weight update) computed", ""))
    if not kinds:
        kinds.add((PASTED, "") if pasted else (OTHER, ""))
    return kinds


def _text(kind: tuple[str, str], texts: dict) -> str:
    by_quantity = texts.get(kind)
    if not by_quantity:
        return kind[0]
    if "" in by_quantity:
        return by_quantity[""]
    quantities = sorted(by_quantity, key=lambda q: (_ORDER.get(_key_of(q), len(_ORDER)), q))
    first = quantities[0]
    text = f"{by_quantity[first]} in {first}"
    return text + (f"; likewise in {', '.join(quantities[1:])}" if len(quantities) > 1 else "")


def _key_of(label: str) -> str:
    return next((key for key, column in BY_KEY.items() if column.label == label), label)


def mistakes(results, names: list[str]) -> list[Mistake]:
    """Every kind of mistake in the class, each with the books that made it (each book once), the
    most common first (ties: alphabetically)."""
    books: dict[tuple[str, str], list[str]] = defaultdict(list)
    texts: dict = {}
    for result, name in zip(results, names, strict=True):
        for kind in _book_kinds(result, texts):
            books[kind].append(name)
    found = [Mistake(_text(kind, texts), sorted(names_)) for kind, names_ in books.items()]
    return sorted(found, key=lambda m: (-len(m.books), m.text))


def fingerprint(book) -> str:
    """A digest of every sheet's name, formulas and saved values: equal for identical books."""
    digest = hashlib.sha256()
    for sheet in book.sheets:
        digest.update(b"\x00sheet\x00" + sheet.name.encode("utf-8", "replace"))
        for cell in sorted(set(sheet.values) | set(sheet.formulas)):
            formula = sheet.formulas.get(cell)
            if isinstance(formula, tuple):  # shared: the master's text and where this cell sits from it
                text, origin = sheet.shared.get(formula[1], (None, cell))
                formula = (text, cell[0] - origin[0], cell[1] - origin[1])
            value = sheet.values.get(cell)
            digest.update(repr((cell, formula, type(value).__name__, value)).encode("utf-8", "replace"))
    return digest.hexdigest()


def identical_groups(prints: dict[str, str]) -> list[list[str]]:
    """Books (by name) sharing a fingerprint, two or more to a group, in name order."""
    groups: dict[str, list[str]] = defaultdict(list)
    for name, digest in prints.items():
        groups[digest].append(name)
    return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: g[0])
