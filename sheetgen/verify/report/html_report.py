"""The class report: one self-contained HTML page (inline CSS, no script, nothing fetched).

Everything shown comes from students' files (file names, sheet names, formulas, labels), so every
piece of text is escaped and every link is percent-encoded, and a Content-Security-Policy forbids
the page from loading or running anything should something slip through.
"""

from __future__ import annotations

import html
import os
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from sheetgen.core.printable import shown
from sheetgen.verify.report.annotate import unproven, verdict_text, wrong_cells
from sheetgen.verify.report.census import Mistake
from sheetgen.verify.report.verdicts import reference

# Most severe first, as the batch's exit status ranks them; unknown verdicts sort last.
ORDER = (
    "wrong",
    "incomplete",
    "right_only_at_its_numbers",
    "not_gradient_descent",
    "different_network",
    "unreadable",
    "verified",
)
COLOURS = {
    "verified": "#1e7b34",
    "wrong": "#b3261e",
    "incomplete": "#b45f06",
    "right_only_at_its_numbers": "#7b3fa0",
    "different_network": "#1f5fa8",
    "not_gradient_descent": "#00796b",
    "unreadable": "#5f6368",
}

_STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:24px 32px;
color:#1f1f1f}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}
.meta{color:#5f6368;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #dadce0;border-radius:8px;padding:8px 14px;min-width:96px}
.card b{display:block;font-size:22px}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #e3e3e3;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6;font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.verdict{display:inline-block;color:#fff;border-radius:4px;padding:1px 7px;font-size:12px;font-weight:600;
white-space:nowrap}
code{font-family:"DejaVu Sans Mono",Consolas,monospace;font-size:13px;overflow-wrap:anywhere}
.books{color:#3c4043;font-size:13px}
td.file{min-width:10em}td.where{min-width:9em}td.copy{min-width:8em}
td.file code,.books span,td.copy a{overflow-wrap:anywhere}
.books{min-width:12em}.books span{display:inline-block;max-width:100%}
.none{color:#80868b}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _badge(verdict: str) -> str:
    colour = COLOURS.get(verdict, "#5f6368")
    return f'<span class="verdict" style="background:{colour}">{_e(verdict_text(verdict))}</span>'


def _shown_path(target: Path, page: Path) -> str:
    """The copy as the reader finds it from the page's folder (annotated/late/x.xlsx): unique, short."""
    try:
        return os.path.relpath(Path(target).resolve(), Path(page).resolve().parent)
    except ValueError:  # another drive (Windows)
        return str(target)


def _href(target: Path, page: Path) -> str:
    """A percent-encoded link from the page's folder to `target` (relative when possible)."""
    try:
        relative = os.path.relpath(Path(target).resolve(), Path(page).resolve().parent)
    except ValueError:  # another drive (Windows): link absolutely
        return _e(Path(target).resolve().as_uri())
    return _e(quote(relative.replace(os.sep, "/"), safe="/"))


def counts(results) -> list[tuple[str, int]]:
    found = Counter(r.verdict for r in results)
    return sorted(found.items(), key=lambda kv: (ORDER.index(kv[0]) if kv[0] in ORDER else len(ORDER), kv[0]))


def _name(name: object) -> str:
    """A file name as the page shows it: control characters written as escapes, then HTML-escaped,
    with a break allowed after each '/' so a long path wraps between folders, not inside words."""
    return _e(shown(name)).replace("/", "/<wbr>")


def _listed(names) -> str:
    """Names in order, comma-separated, each kept whole with its comma when the list wraps."""
    ordered = sorted(names)
    return " ".join(
        f"<span>{_name(name)}{',' if n < len(ordered) - 1 else ''}</span>" for n, name in enumerate(ordered)
    )


def _reason(result) -> str:
    """Why a book has its verdict, when that is not a wrong cell: said as the verdict says it."""
    verdict = result.verdict
    if verdict == "different_network":
        return getattr(result, "network_difference", None) or ""
    if verdict == "unreadable":
        return result.error or ""
    if verdict == "not_gradient_descent":
        return getattr(result, "learning_rule", None) or ""
    if verdict == "incomplete":
        return next((t.incomplete for t in result.tables if getattr(t, "incomplete", None)), "")
    return "; ".join(result.problems)


def _first_wrong(result) -> tuple[str, str]:
    """(where, why) for the books table, each agreeing with the book's verdict."""
    none = '<span class="none">—</span>'
    if result.verdict in ("different_network", "unreadable", "incomplete", "not_gradient_descent"):
        return none, _e(_reason(result))
    for table in result.tables:
        cells = wrong_cells(table)
        if cells:
            f = cells[0]
            more = len({c.label for t in result.tables for c in wrong_cells(t)}) - 1
            where = f"<code>{_e(reference(f.sheet, f.address))}</code> ({_e(f.label)})"
            if more > 0:
                where += f' <span class="none">+{more} more column{"s" if more > 1 else ""}</span>'
            why = _e(f.diagnosis) if f.diagnosis else '<span class="none">no known mistake fits</span>'
            formula = f"<br><code>={_e(f.formula)}</code>" if f.formula else "<br><i>typed value</i>"
            return where, why + formula
    if result.verdict == "wrong" and result.problems:  # a built book's broken promise, not a cell's value
        return none, _e(_reason(result))
    for table in result.tables:
        items = unproven(table)
        if items:
            item = items[0]
            return f"<code>{_e(reference(item.sheet, item.cells))}</code> ({_e(item.label)})", _e(
                item.message
            )
    return none, _e(_reason(result))


def render(results, names, copies, mistakes: list[Mistake], identical, page: Path, engine: str) -> str:
    """The page. copies[i]: the annotated copy's path, or a str saying why there is none, or None."""
    cards = [f'<div class="card"><b>{len(results)}</b>workbooks</div>']
    cards += [
        f'<div class="card" style="border-color:{COLOURS.get(v, "#dadce0")}"><b>{n}</b>'
        f"{_e(verdict_text(v).lower())}</div>"
        for v, n in counts(results)
    ]
    rows = []
    order = sorted(range(len(results)), key=lambda i: str(names[i]))
    for i in order:
        result, copy = results[i], copies[i]
        where, why = (
            _first_wrong(result) if result.verdict != "verified" else ('<span class="none">—</span>', "")
        )
        if isinstance(copy, Path):
            link = f'<a href="{_href(copy, page)}">{_name(_shown_path(copy, page))}</a>'
        else:
            link = f'<span class="none">{_e(copy or "—")}</span>'
        network = (getattr(result, "network", None) or {}).get("text")
        if network:  # a network read from its formulas: say which
            why = (
                f"{why}<br><small>network: {_e(network)}</small>"
                if why
                else f"<small>network: {_e(network)}</small>"
            )
        rows.append(
            f'<tr data-verdict="{_e(result.verdict)}"><td class="file"><code>{_name(names[i])}</code></td>'
            f'<td>{_badge(result.verdict)}</td><td class="where">{where}</td><td>{why}</td>'
            f'<td class="copy">{link}</td></tr>'
        )
    if mistakes:
        census = "".join(
            f'<tr><td>{_e(m.text)}</td><td class="n">{len(m.books)} '
            f"book{'s' if len(m.books) != 1 else ''}</td>"
            f'<td class="books">{_listed(m.books)}</td></tr>'
            for m in mistakes
        )
        census = f"<table><tr><th>mistake</th><th>books</th><th>which</th></tr>{census}</table>"
    else:
        census = '<p class="none">No mistakes found.</p>'
    if identical:
        same = "".join(
            f"<li>{len(g)} books: " + ", ".join(f"<code>{_name(n)}</code>" for n in g) + "</li>"
            for g in identical
        )
        same = f"<ul>{same}</ul>"
    else:
        same = '<p class="none">No two books are identical.</p>'
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime())
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>sheetgen verify: class report ({len(results)} workbooks)</title>"
        f"<style>{_STYLE}</style></head>"
        "<body><h1>Class report</h1>"
        f'<p class="meta">sheetgen verify, {_e(stamp)}, engine {_e(engine)}</p>'
        f'<section id="summary"><div class="cards">{"".join(cards)}</div></section>'
        f'<section id="mistakes"><h2>Mistakes by kind</h2>{census}</section>'
        f'<section id="identical"><h2>Identical books (same formulas and values)</h2>{same}</section>'
        '<section id="books"><h2>Workbooks</h2><table><tr><th>file</th><th>verdict</th>'
        "<th>first wrong cell</th>"
        f"<th>diagnosis</th><th>annotated copy</th></tr>{''.join(rows)}</table></section>"
        "</body></html>\n"
    )
