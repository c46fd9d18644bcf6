"""What `sheetgen verify` says: a verdict per workbook, as text lines, JSON or CSV rows."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from sheetgen.verify.prove.checks import TableCheck

VERIFIED, WRONG, UNREADABLE = "verified", "wrong", "unreadable"
RIGHT_ONLY, DIFFERENT_NETWORK, INCOMPLETE = "right_only_at_its_numbers", "different_network", "incomplete"
NOT_GRADIENT_DESCENT = "not_gradient_descent"  # learning by another rule (the perceptron's step rule)
VERDICTS = (VERIFIED, WRONG, UNREADABLE, RIGHT_ONLY, DIFFERENT_NETWORK, INCOMPLETE, NOT_GRADIENT_DESCENT)
# How each verdict is shouted in text, and the exit status of a single book with it.
SHOUTED = {
    VERIFIED: "VERIFIED",
    WRONG: "WRONG",
    UNREADABLE: "UNREADABLE",
    RIGHT_ONLY: "RIGHT ONLY AT ITS NUMBERS",
    DIFFERENT_NETWORK: "DIFFERENT NETWORK",
    INCOMPLETE: "INCOMPLETE",
    NOT_GRADIENT_DESCENT: "NOT GRADIENT DESCENT",
}
EXIT_STATUS = {
    VERIFIED: 0,
    WRONG: 1,
    UNREADABLE: 2,
    RIGHT_ONLY: 3,
    DIFFERENT_NETWORK: 4,
    INCOMPLETE: 5,
    NOT_GRADIENT_DESCENT: 6,
}
# A batch's status is its most severe verdict's (all verified: 0; all unreadable: 2).
SEVERITY = (WRONG, INCOMPLETE, RIGHT_ONLY, NOT_GRADIENT_DESCENT, DIFFERENT_NETWORK)
CSV_FIELDS = (
    "file",
    "verdict",
    "sheet",
    "cell",
    "column",
    "expected",
    "found",
    "formula",
    "diagnosis",
    "wrong_columns",
    "tables",
    "rows",
    "max_rel_error",
    "engine",
    "message",
)


@dataclass
class BookResult:
    path: Path
    engine: str
    tables: list[TableCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # broken promises of a built book
    error: str | None = None  # why the book could not be verified at all
    notes: list[str] = field(default_factory=list)
    network_difference: str | None = None  # what differs from the 2-2-2 network (DIFFERENT NETWORK)
    network: dict | None = None  # the network read from the formulas (verify/graph_check.describe)
    learning_rule: str | None = None  # what it learns by when that is not gradient descent on a loss

    @property
    def verdict(self) -> str:
        if self.network_difference:
            return DIFFERENT_NETWORK
        if self.error:
            return UNREADABLE
        if self.learning_rule:
            return NOT_GRADIENT_DESCENT
        if self.problems or any(t.first_wrong for t in self.tables):
            return WRONG
        if any(t.incomplete for t in self.tables):
            return INCOMPLETE
        if any(t.unproven for t in self.tables):
            return RIGHT_ONLY
        return VERIFIED

    @property
    def first_wrong(self):
        if self.network_difference:
            return None  # not a mistake: another network, which sheetgen does not verify
        return next((t.first_wrong for t in self.tables if t.first_wrong), None)

    @property
    def max_rel_error(self) -> float:
        return max((t.max_rel_error for t in self.tables), default=0.0)


def reference(sheet: str, cells: str) -> str:
    """'Sheet'!A1 (or a range); a range already naming its sheets (Mazur's layout) is kept as it is."""
    return cells if "!" in cells else f"'{sheet}'!{cells}"


def table_place(check) -> str:
    """Where a table is: its header's cell, or what the reading says it spans (Mazur's layout)."""
    return getattr(check, "place", None) or reference(check.table.sheet, check.table.address)


def counted(n: int, noun: str) -> str:
    """'1 row', '3 rows'."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _finding_text(finding) -> str:
    formula = f", formula ={finding.formula}" if finding.formula else ", typed value (no formula)"
    expected = "a number" if finding.expected != finding.expected else f"{finding.expected:.12g}"
    text = (
        f"first wrong cell '{finding.sheet}'!{finding.address} ({finding.label}): expected "
        f"{expected}, found {finding.describe_found()}{formula}"
    )
    return text + (f"; diagnosis: {finding.diagnosis}" if finding.diagnosis else "; no known mistake fits")


def _unproven_text(result: BookResult) -> str:
    messages = [u.message for t in result.tables for u in t.unproven]
    return "; ".join(messages[:3]) + (f"; and {len(messages) - 3} more" if len(messages) > 3 else "")


def one_line(result: BookResult) -> str:
    """The batch line: file, verdict and, when wrong, where and why (and the network read from its
    formulas)."""
    line = _one_line(result)
    if result.network and result.verdict != NOT_GRADIENT_DESCENT:
        line += f" [network: {result.network['text']}]"
    return line


def _one_line(result: BookResult) -> str:
    name = str(result.path)
    verdict = result.verdict
    if verdict == UNREADABLE:
        return f"{name}: UNREADABLE: {result.error}"
    if verdict == DIFFERENT_NETWORK:
        return f"{name}: DIFFERENT NETWORK: {result.network_difference}"
    if verdict == NOT_GRADIENT_DESCENT:
        return f"{name}: NOT GRADIENT DESCENT: {result.learning_rule}"
    rows = sum(t.rows for t in result.tables)
    if verdict == VERIFIED:
        forms = sum(t.proven_forms for t in result.tables)
        proven = f"{forms} distinct formulas proven at random inputs, " if forms else ""
        return (
            f"{name}: VERIFIED ({len(result.tables)} table(s), {counted(rows, 'row')}, {proven}"
            f"largest relative error {result.max_rel_error:.1e}, {result.engine})"
        )
    if verdict == INCOMPLETE:
        reason = next(t.incomplete for t in result.tables if t.incomplete)
        return f"{name}: INCOMPLETE: {reason}"
    if verdict == RIGHT_ONLY:
        return f"{name}: RIGHT ONLY AT ITS NUMBERS: {_unproven_text(result)}"
    finding = result.first_wrong
    if finding:
        others = [c for t in result.tables for c in t.wrong_columns if c != finding.label]
        more = f"; also wrong: {', '.join(dict.fromkeys(others))}" if others else ""
        return f"{name}: WRONG: {_finding_text(finding)}{more}"
    return f"{name}: WRONG: {'; '.join(result.problems)}"


def details(result: BookResult) -> list[str]:
    """The single-workbook report: the verdict, then one block per table."""
    lines = [one_line(result)]
    if result.network:
        lines.append(f"  network (read from its formulas): {result.network['text']}")
    for table in result.tables:
        where = table_place(table)
        verdict = "verified" if table.verified else "NOT verified"
        lines.append(
            f"  {where}: {verdict}, {counted(table.rows, 'row')}, "
            f"largest relative error {table.max_rel_error:.1e}"
            + (f"; {table.eta_note}" if table.eta_note else "")
        )
        if table.first_wrong and table.first_wrong is not result.first_wrong:
            lines.append(f"    {_finding_text(table.first_wrong)}")
        for finding in table.wrong_cells:
            if finding is not table.first_wrong:
                lines.append(f"    also: {_finding_text(finding).removeprefix('first wrong cell ')}")
        lines.extend(
            f"    {'not proven' if u.kind == 'unproven' else 'right only at its numbers'}: {u.message}"
            for u in table.unproven
        )
        lines.extend(
            f"    column {letter} headed '{header}' read as {quantity} (by its formulas)"
            for header, letter, quantity in table.identified
        )
        lines.extend(f"    note: {note}" for note in table.notes)
        if table.wrong_columns:
            lines.append("    columns with wrong cells: " + ", ".join(table.wrong_columns))
        if table.missing:
            lines.append(
                "    no column for (computed from the oracle, not checked): " + ", ".join(table.missing)
            )
        if table.unchecked:
            lines.append(f"    {table.unchecked} empty cell(s) not checked")
    lines.extend(f"  problem: {problem}" for problem in result.problems)
    lines.extend(f"  note: {note}" for note in result.notes)
    return lines


def summary_line(results: list[BookResult]) -> str:
    counts = {v: sum(r.verdict == v for r in results) for v in VERDICTS}
    text = (
        f"{len(results)} workbook(s): {counts[VERIFIED]} verified, {counts[WRONG]} wrong, "
        f"{counts[UNREADABLE]} unreadable"
    )
    others = [
        (RIGHT_ONLY, "right only at their numbers"),
        (INCOMPLETE, "incomplete"),
        (DIFFERENT_NETWORK, "of a different network"),
        (NOT_GRADIENT_DESCENT, "not learning by gradient descent"),
    ]
    return text + "".join(f", {counts[v]} {words}" for v, words in others if counts[v])


def _finding_dict(finding) -> dict:
    return {
        "sheet": finding.sheet,
        "cell": finding.address,
        "column": finding.label,
        "key": finding.key,
        "expected": finding.expected,
        "found": finding.found
        if isinstance(finding.found, (float, bool, type(None)))
        else str(finding.found),
        "formula": finding.formula,
        "diagnosis": finding.diagnosis,
    }


def as_dict(result: BookResult) -> dict:
    finding = result.first_wrong
    return {
        "file": str(result.path),
        "verdict": result.verdict,
        "engine": result.engine,
        "error": result.error,
        "network_difference": result.network_difference,
        "network": result.network,
        "learning_rule": result.learning_rule,
        "problems": result.problems,
        "notes": result.notes,
        "first_wrong": None if finding is None else _finding_dict(finding),
        "tables": [
            {
                "sheet": t.table.sheet,
                "header": t.table.address,
                "place": table_place(t),  # the sheets and cells as the book has them
                "verified": t.verified,
                "rows": t.rows,
                "max_rel_error": t.max_rel_error,
                "eta": t.eta,
                "eta_note": t.eta_note,
                "wrong_columns": t.wrong_columns,
                "missing_columns": t.missing,
                "empty_cells": t.unchecked,
                "incomplete": t.incomplete,
                "network_difference": t.network_difference,
                "proven_forms": t.proven_forms,
                "unproven": [vars(u) for u in t.unproven],
                "identified": [
                    {"header": header, "column": letter, "quantity": quantity}
                    for header, letter, quantity in t.identified
                ],
                "unmapped": t.unmapped,
                "notes": t.notes,
                "wrong_cells": [_finding_dict(f) for f in t.wrong_cells],
            }
            for t in result.tables
        ],
    }


def as_json(results: list[BookResult]) -> str:
    from sheetgen.verify.report import census

    counts = {v: sum(r.verdict == v for r in results) for v in VERDICTS}
    kinds = census.mistakes(results, [str(r.path) for r in results])
    return json.dumps(
        {
            "workbooks": [as_dict(r) for r in results],
            "summary": counts,
            "mistakes": [{"mistake": m.text, "books": m.books} for m in kinds],
        },
        ensure_ascii=False,
        indent=1,
    )


def csv_row(result: BookResult) -> dict:
    finding = result.first_wrong
    row = {
        "file": str(result.path),
        "verdict": result.verdict,
        "engine": result.engine,
        "tables": len(result.tables),
        "rows": sum(t.rows for t in result.tables),
        "max_rel_error": f"{result.max_rel_error:.3e}" if result.tables else "",
        "wrong_columns": "; ".join(c for t in result.tables for c in t.wrong_columns),
        "message": result.network_difference
        or result.error
        or result.learning_rule
        or "; ".join(result.problems)
        or next((t.incomplete for t in result.tables if t.incomplete), None)
        or _unproven_text(result),
    }
    if finding:
        row.update(
            sheet=finding.sheet,
            cell=finding.address,
            column=finding.label,
            expected=repr(finding.expected),
            found=finding.describe_found(),
            formula=("=" + finding.formula) if finding.formula else "",
            diagnosis=finding.diagnosis or "",
        )
    return row


# A field a spreadsheet would read as a formula (OWASP, "CSV Injection"): = + - @, tab, carriage
# return, and a line feed, which some importers strip before looking.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def inert(value: object) -> object:
    """A CSV field no spreadsheet evaluates: text starting as a formula gets a leading apostrophe
    ('=A1*B1 still reads as the formula it quotes); a plain number such as -0.25 stays a number."""
    if not isinstance(value, str) or _NUMBER.fullmatch(value.strip()):
        return value
    if not value.lstrip(" ").startswith(_FORMULA_START):  # (an importer may trim leading spaces)
        return value
    return "'" + value


def write_csv(results: list[BookResult], handle) -> None:
    """One row per book. Every field comes from a student's file (its name, sheet names, formulas,
    labels), so each is made inert (see inert) before a teacher opens the file in a spreadsheet."""
    writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for result in results:
        writer.writerow({key: inert(value) for key, value in csv_row(result).items()})
