"""Say how a workbook's network differs from the course's 2-2-2 one, from the quantities it labels.

A sheet of another network (biases, a 2-4-1 net, a single neuron) is no wrong sheet: it is right
or wrong for its own network, which sheetgen does not verify. Its labels give it away: weights
beyond w8, hidden units beyond h2, no hidden unit at all, a bias.
"""

from __future__ import annotations

import re
import unicodedata

from sheetgen.core.xlsx import Book


def _fold(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).strip().lower()
    return re.sub(r"[\s_{}$:=]+", "", folded.replace("δ", "d"))


def _labels(book: Book) -> set[str]:
    """Short texts of the workbook, folded: the candidates for quantity labels."""
    found = set()
    for sheet in book.sheets:
        for value in sheet.values.values():
            if isinstance(value, str) and 0 < len(value) <= 16:
                found.add(_fold(value))
    return found


def _indices(labels: set[str], pattern: str) -> set[int]:
    compiled = re.compile(pattern)
    return {int(m.group(1)) for text in labels if (m := compiled.fullmatch(text))}


def difference(book: Book, biases_known: bool = False) -> str | None:
    """What differs from the 2-2-2 sigmoid network (with one bias per layer or none), or None.

    biases_known: the tables were checked with their biases b1, b2, so those labels are no difference.
    """
    labels = _labels(book)
    weights = _indices(labels, r"(?:[∂d]e(?:total|tot|t)?/?[∂d])?w(\d+)")
    hidden = _indices(labels, r"(?:a|out|net|z)?\(?h(\d+)\)?(?:out)?")
    outputs = _indices(labels, r"(?:a|out|net|z)?\(?o(\d+)\)?(?:out)?")
    said = []
    if hidden and max(hidden) > 2:
        said.append(f"{max(hidden)} hidden units (h1…h{max(hidden)}), not 2")
    if weights and max(weights) > 8:
        said.append(f"{max(weights)} weights (w1…w{max(weights)}), not 8")
    if outputs and max(outputs) > 2:
        said.append(f"{max(outputs)} output units, not 2")
    elif outputs == {1} and "t2" not in labels and (hidden or weights):
        said.append("a single output unit (o1 only, no t2)")
    if not hidden and weights and max(weights) <= 4 and labels & {"a", "z", "out", "y", "yhat", "e", "error"}:
        said.append("a single neuron (perceptron): no hidden layer")
    bias = sorted(t for t in labels if re.fullmatch(r"b\d?", t))
    if not bias and any(re.fullmatch(r"bias\d?|biasb\d", t) for t in labels):
        bias = ["bias"]
    per_unit = _indices(labels, r"b(\d)")
    if per_unit and max(per_unit) > 2:  # Mazur's layout has b1 (hidden) and b2 (outputs) only
        said.append(f"{max(per_unit)} biases (b1…b{max(per_unit)}), not one per layer")
    elif bias and not biases_known:
        said.append("biases (" + ", ".join(bias) + ") the tables do not show as columns or labelled values")
    if not said:
        return None
    return "; ".join(said) + (
        ": sheetgen verifies the 2-2-2 sigmoid network, without biases or with one per layer "
        "(b1 into both hidden units, b2 into both outputs)"
    )


def sizes_differ(book: Book) -> bool:
    """Whether the labels name more units or weights than the course's 2-2-2 network has, or a single
    output: a book of another network, whose course-table check would only end in reading it by its
    formulas (labels of biases alone do not count: Mazur's course books have b1, b2)."""
    labels = _labels(book)
    sample = r"(?:s\d+)?"  # a_h3_s2: h3 of sample 2, as a book with a block of columns per sample names it
    weights = _indices(labels, r"(?:[∂d]e(?:total|tot|t)?/?[∂d])?w(\d+)")
    hidden = _indices(labels, rf"(?:a|out|net|z)?\(?h(\d+)\)?(?:out)?{sample}")
    outputs = _indices(labels, rf"(?:a|out|net|z)?\(?o(\d+)\)?(?:out)?{sample}")
    single = (
        outputs == {1}
        and not any(re.fullmatch(r"t2(?:s\d+)?", t) for t in labels)
        and bool(hidden or weights)
    )
    return max(hidden, default=0) > 2 or max(weights, default=0) > 8 or max(outputs, default=0) > 2 or single


def explain(checked: list, book: Book) -> str | None:
    """What differs, when that, not a mistake, is why a table's values are wrong.

    The loss without ½ shows in the value check itself (every wrong column exactly 2×); a bias or
    extra units show in the labels, and count only when the table's values disagree (a course
    sheet may mention a bias in its notes and still be the 2-2-2 network).
    """
    for table in checked:
        if table.network_difference:
            return table.network_difference
    if any(table.first_wrong for table in checked):
        return difference(book, biases_known=any(getattr(t, "biases", "none") != "none" for t in checked))
    return None
