"""The Inputs sheet: every value a user may edit, and where each one lives.

Layout: a title, the template's name, a header on row 3, then one labelled value per row (label in
A, value in B, meaning in C): i1.., t1.. (when the network has one sample), the initial weights
w1..wK and the biases. Below them the learning rates and iterations, how the initial weights were
drawn (when they were), and, for several samples, a table with one row per sample (Sample, i1..,
t1..): full-batch rows read each cell of it, online rows INDEX its columns by their sample number.
"""

from __future__ import annotations

from xlsxwriter.utility import xl_rowcol_to_cell

from sheetgen.build.styles import print_setup
from sheetgen.core.layout import INPUTS_SHEET, eta_label
from sheetgen.core.spec import NetworkSpec

# Header on row 3, then one row per labelled value: label in A, value in B.
INPUTS_HEADER_ROW = 2
INPUTS_FIRST_ROW = 3


def _and(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def meaning(spec: NetworkSpec, key: str) -> str:
    """What a labelled value is, in words: 'initial weight i1 → h1', 'bias added into h1 and h2'."""
    if key in spec.inputs:
        return f"input {key[1:]}"
    if key in spec.targets:
        return f"target of output {key[1:]} (a_o{key[1:]})"
    if key in spec.weights:
        source, unit = spec.source_of(key)
        return f"initial weight {source} → {unit}"
    return f"bias added into {_and(spec.bias_units(key))}"


class InputsLayout:
    """Where each editable value is: ref('w1') -> Inputs!$B$8, ref('i1_s2'), column_range('i1')."""

    def __init__(self, spec: NetworkSpec, drawn: str | None = None):
        self.spec = spec
        self.drawn = drawn  # how the initial weights were drawn, when they were
        self.keys = spec.initial_values
        self.rows = {key: INPUTS_FIRST_ROW + n for n, key in enumerate(self.keys)}
        self.notes_row = INPUTS_FIRST_ROW + len(self.keys) + 1
        self.samples_title_row = self.notes_row + 3 + (drawn is not None)
        self.samples_header_row = self.samples_title_row + 1
        self.sample_columns = spec.inputs + spec.targets  # B, C, ... of the samples table

    def ref(self, key: str) -> str:
        """Absolute reference to a value's cell: a labelled value, or sample s's i1 as i1_s<s>."""
        if key in self.rows:
            return f"{INPUTS_SHEET}!{xl_rowcol_to_cell(self.rows[key], 1, row_abs=True, col_abs=True)}"
        name, _, sample = key.rpartition("_s")
        row = self.samples_header_row + int(sample)
        col = 1 + self.sample_columns.index(name)
        return f"{INPUTS_SHEET}!{xl_rowcol_to_cell(row, col, row_abs=True, col_abs=True)}"

    def column_range(self, name: str) -> str:
        """The samples table's column of i1 (or t1, ...), for INDEX."""
        col = 1 + self.sample_columns.index(name)
        first = xl_rowcol_to_cell(self.samples_header_row + 1, col, row_abs=True, col_abs=True)
        last = xl_rowcol_to_cell(
            self.samples_header_row + self.spec.n_samples, col, row_abs=True, col_abs=True
        )
        return f"{INPUTS_SHEET}!{first}:{last}"


def write_inputs(book, styles, layout: InputsLayout, params, template_name, lrs, iterations) -> None:
    spec = layout.spec
    sheet = book.add_worksheet(INPUTS_SHEET)
    sheet.write_string(
        0,
        0,
        "Inputs: edit a yellow value and every LR sheet, the Summary and the charts follow",
        styles.title,
    )
    sheet.write_string(1, 0, f"Template: {template_name}", styles.note)
    for col, text in enumerate(("Name", "Value", "Meaning")):
        sheet.write_string(INPUTS_HEADER_ROW, col, text, styles.header)
    held = {"fixed": " (held fixed)", "trained": " (initial value; trained)"}.get(spec.biases, "")
    for key, row in layout.rows.items():
        sheet.write_string(row, 0, key, styles.label)
        sheet.write_number(row, 1, params[key], styles.input)
        sheet.write_string(row, 2, meaning(spec, key) + (held if key in spec.bias_names else ""))
    row = layout.notes_row
    lr_text = ", ".join(eta_label(eta) for eta in lrs)
    sheet.write_string(
        row, 0, f"Learning rates: {lr_text} (one sheet each; each sheet's η cell can be edited)", styles.note
    )
    sheet.write_string(
        row + 1,
        0,
        f"Iterations: {iterations} weight updates, rows for iterations 0..{iterations}",
        styles.note,
    )
    if layout.drawn is not None:
        sheet.write_string(row + 2, 0, layout.drawn, styles.note)
    if spec.samples is not None:
        _write_samples(sheet, styles, layout)
    sheet.set_column(0, 0, 10)
    sheet.set_column(1, 1, 14)
    # The Meaning column is wide, but with a samples table its column also holds a sample's value
    # (i2 or t1): keep it as narrow as the others and let each meaning run on into the empty cells to its
    # right, so that the table's columns come out even.
    sheet.set_column(2, 2, 40 if spec.samples is None else 14)
    sheet.freeze_panes(INPUTS_FIRST_ROW, 0)
    print_setup(sheet, INPUTS_HEADER_ROW, landscape=False)


def _write_samples(sheet, styles, layout: InputsLayout) -> None:
    spec = layout.spec
    if spec.batch == "full":
        how = "full batch: every LR row uses all of them; E_total and the gradients are their means"
    else:
        how = "online: iteration n trains on sample (n mod N) + 1, one sample per row, in order"
    sheet.write_string(layout.samples_title_row, 0, f"Training samples ({how})", styles.note)
    sheet.write_string(layout.samples_header_row, 0, "Sample", styles.header)
    for col, name in enumerate(layout.sample_columns, start=1):
        sheet.write_string(layout.samples_header_row, col, name, styles.header)
    for n, (x, t) in enumerate(spec.samples, start=1):
        row = layout.samples_header_row + n
        sheet.write_number(row, 0, n, styles.iteration)
        for col, value in enumerate(x + t, start=1):
            sheet.write_number(row, col, value, styles.input)
