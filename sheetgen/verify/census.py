"""What a class did, counted: each kind of mistake with the books that made it, and books that are copies.

A kind of mistake is a wrong column with its diagnosis ("uses a_h1·(1−a_h1) in place of
a_h2·(1−a_h2)" in ∂E/∂w3), or a column holding typed values or constants where formulas belong.
Each book counts once per kind, however many of its cells show it. Two books are identical when
every sheet holds the same formulas and the same saved values, whatever their file names (a
shared formula is compared as its master's text and the cell's offset from it, which is exact
for copies of one file and cheaper than translating every cell).
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field

from sheetgen.core.columns import BY_KEY
from sheetgen.verify.annotate import unproven, wrong_cells


@dataclass
class Mistake:
    text: str  # "uses … in ∂E/∂w3"
    books: list[str] = field(default_factory=list)


def _quantity(finding) -> str:
    column = BY_KEY.get(finding.key)
    return column.label if column is not None else finding.label


_WEIGHT_NUMBER = re.compile(r"(?<=w)[1-8]\b")


def _cell_kinds(findings) -> set[str]:
    """One kind per diagnosis; one mistake repeated over several weights (the update's sign in
    w1 … w8) is one kind naming them all, rather than eight."""
    groups: dict[str, list] = defaultdict(list)
    for finding in findings:
        diagnosis = finding.diagnosis or "no known mistake fits"
        groups[_WEIGHT_NUMBER.sub("N", diagnosis)].append(finding)
    kinds = set()
    for shape, group in groups.items():
        quantities = ", ".join(dict.fromkeys(_quantity(f) for f in group))
        diagnosis = group[0].diagnosis if len(group) == 1 else shape.replace("wN", "w…")
        if group[0].diagnosis:
            kinds.add(f"{diagnosis} in {quantities}")
        else:
            kinds.add(f"wrong {quantities}, no known mistake fits")
    return kinds


def mistakes(results, names: list[str]) -> list[Mistake]:
    """Every kind of mistake in the class, the most common first (ties: alphabetically)."""
    kinds: dict[str, list[str]] = defaultdict(list)
    for result, name in zip(results, names, strict=True):
        seen = set()
        for table in result.tables:
            seen |= _cell_kinds(wrong_cells(table))
            for item in unproven(table):
                kind = "constant typed into the formulas" if item.kind == "constant" else "typed values"
                seen.add(f"{kind} where formulas belong in {item.label}")
        difference = getattr(result, "network_difference", None) or next(
            (t.network_difference for t in result.tables if getattr(t, "network_difference", None)), None
        )
        if result.verdict == "different_network" and difference:
            seen.add(f"a different network: {difference}")
        if result.verdict == "incomplete":
            seen.add("incomplete: nothing (or no weight update) computed")
        for text in seen:
            kinds[text].append(name)
    found = [Mistake(text, books) for text, books in kinds.items()]
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
