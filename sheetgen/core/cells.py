"""Compact cell stores for the xlsx reader: (row, col) -> value, and (row, col) -> formula text.

A dict keyed by (row, col) tuples costs about 300 bytes a cell; these keep ~17 bytes a value and
~13 bytes plus the UTF-8 text a formula, in arrays, so the largest workbook sheetgen accepts
(core.xlsx.MAX_CELLS) reads within a few hundred MB. Cells arrive in file order, row by row as
every spreadsheet program writes them, and are found by binary search; a file out of order is
sorted once when reading ends (the last of duplicate cells wins, as in a dict).

Both stores are read-only Mappings: `in`, `get`, `[]`, `items()` and iteration behave as a dict's.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from array import array
from bisect import bisect_left
from collections.abc import ItemsView, Mapping

import numpy as np

_COL_BITS = 15  # a sheet has at most 16,384 columns
_COL_MASK = (1 << _COL_BITS) - 1

# Value kinds: a number, an index into the shared strings, an index into the store's own objects
# (inline text, spreadsheet errors, formula text results, dates), true, false, a formula cell without value.
NUMBER, SHARED_STRING, OBJECT, TRUE, FALSE, EMPTY = range(6)


def _cell_key(cell) -> int:
    """The packed key of (row, col), or -1 for anything that is not a cell position."""
    try:
        row, col = cell
        if row >= 1 and 1 <= col <= _COL_MASK:
            return (row << _COL_BITS) | col
    except (TypeError, ValueError):
        pass
    return -1


def extent(keys: np.ndarray) -> tuple[int, int]:
    """(last row, last column) among packed keys, in one pass over the array; (0, 0) for none."""
    if not len(keys):
        return 0, 0
    return int(keys.max()) >> _COL_BITS, int((keys & _COL_MASK).max())


def unpack(key: int) -> tuple[int, int]:
    """(row, col) of a packed key, as packed() and lookup() use them."""
    return key >> _COL_BITS, key & _COL_MASK


class _Items(ItemsView):
    def __iter__(self):
        return self._mapping._iter_items()


class _Store(Mapping):
    """Sorted packed keys plus per-cell columns (the subclass's `_columns`), appended while reading."""

    def __init__(self):
        self._keys = array("q")
        self._ordered = True

    @abstractmethod
    def _columns(self) -> list[array]:
        """The per-cell arrays, kept in step with the keys when they are sorted."""

    @abstractmethod
    def _at(self, index: int):
        """The value stored for the cell at sorted position `index`."""

    def _slot(self, row: int, col: int) -> int:
        """Where the cell's columns go: -1 to append, or the index of the cell just read (a repeat)."""
        key = (row << _COL_BITS) | col
        keys = self._keys
        if keys:
            last = keys[-1]
            if key == last:
                return len(keys) - 1
            if key < last:
                self._ordered = False
        keys.append(key)
        return -1

    def finish(self) -> None:
        """Sort the cells once if the file listed them out of order; the last of duplicates wins."""
        if self._ordered:
            return
        keys = np.frombuffer(self._keys, dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        ranked = keys[order]
        last_of_each = np.append(ranked[1:] != ranked[:-1], True)
        chosen = order[last_of_each]
        self._keys = array("q", keys[chosen].tobytes())
        for column in self._columns():
            values = np.frombuffer(column, dtype=column.typecode)[chosen]
            column[:] = array(column.typecode, values.tobytes())
        self._ordered = True

    def _index(self, cell) -> int:
        key = _cell_key(cell)
        keys = self._keys
        i = bisect_left(keys, key)
        return i if key >= 0 and i < len(keys) and keys[i] == key else -1

    def __getitem__(self, cell):
        i = self._index(cell)
        if i < 0:
            raise KeyError(cell)
        return self._at(i)

    def get(self, cell, default=None):
        i = self._index(cell)
        return default if i < 0 else self._at(i)

    def __contains__(self, cell) -> bool:
        return self._index(cell) >= 0

    def __len__(self) -> int:
        return len(self._keys)

    def column(self, rows: list[int], col: int) -> list:
        """What `get` gives for (row, col) of each row, found by one search for them all."""
        packed = (np.asarray(rows, dtype=np.int64) << _COL_BITS) | col
        at, hit = self._positions(packed)
        value = self._at
        return [value(i) if found else None for i, found in zip(at.tolist(), hit.tolist(), strict=True)]

    def _positions(self, packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(where each packed key would sit in this store, whether it is there), in one search."""
        keys = self.packed()
        if not len(keys):
            return np.zeros(len(packed), np.int64), np.zeros(len(packed), bool)
        at = np.minimum(np.searchsorted(keys, packed), len(keys) - 1)
        return at, keys[at] == packed

    def packed(self) -> np.ndarray:
        """The cells' packed keys ((row << 15) | col), sorted: an argument for CellValues.lookup."""
        return np.frombuffer(self._keys, dtype=np.int64) if self._keys else np.zeros(0, np.int64)

    def __iter__(self):
        for key in self._keys:
            yield key >> _COL_BITS, key & _COL_MASK

    def items(self):
        return _Items(self)

    def _iter_items(self):
        at = self._at
        for i, key in enumerate(self._keys):
            yield (key >> _COL_BITS, key & _COL_MASK), at(i)


class CellValues(_Store):
    """(row, col) -> float, str, bool, ErrorValue or None; shared strings are kept once, by index."""

    def __init__(self, strings: list[str] | None = None):
        super().__init__()
        self._kinds = array("b")
        self._numbers = array("d")  # the number, or the index of a string or object
        self._strings = strings if strings is not None else []
        self._objects: list = []
        self._object_ids: dict = {}
        self._texts: tuple[int, list] | None = None  # (cells when listed, text_items()), kept while unchanged

    def _columns(self):
        return [self._kinds, self._numbers]

    def finish(self) -> None:
        super().finish()
        self._texts = None

    def add(self, row: int, col: int, kind: int, number: float = 0.0, obj=None) -> None:
        if kind == OBJECT:
            # (type, value): an ErrorValue '#N/A' must not come back as the plain text '#N/A'.
            number = self._object_ids.setdefault((type(obj), obj), len(self._objects))
            if number == len(self._objects):
                self._objects.append(obj)
        slot = self._slot(row, col)
        if slot < 0:
            self._kinds.append(kind)
            self._numbers.append(number)
        else:
            self._kinds[slot], self._numbers[slot] = kind, number
            self._texts = None

    def text_items(self) -> list[tuple[tuple[int, int], str]]:
        """((row, col), value) of the text cells alone (shared or inline strings, errors, text results),
        in order: what a search for labels needs, without walking every number of the sheet."""
        if self._texts is None or self._texts[0] != len(self._keys):
            kinds = np.frombuffer(self._kinds, dtype=np.int8)
            positions = np.flatnonzero((kinds == SHARED_STRING) | (kinds == OBJECT)).tolist()
            keys, at = self._keys, self._at
            found = [((keys[i] >> _COL_BITS, keys[i] & _COL_MASK), at(i)) for i in positions]
            self._texts = (len(self._keys), found)
        return self._texts[1]

    @classmethod
    def of(cls, cells: Mapping) -> CellValues:
        """A store holding a plain {(row, col): value} mapping (numbers, text, errors, booleans, None)."""
        store = cls()
        for (row, col), value in sorted(cells.items()):
            if isinstance(value, bool):
                store.add(row, col, TRUE if value else FALSE)
            elif isinstance(value, (int, float)):
                store.add(row, col, NUMBER, float(value))
            elif value is None:
                store.add(row, col, EMPTY)
            else:
                store.add(row, col, OBJECT, obj=value)
        return store

    def lookup(self, packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(kinds, numbers) of the cells with these packed keys, at once; kind -1 where there is none.

        A number cell's number is its value; other kinds' numbers mean nothing outside this store."""
        kinds = np.full(len(packed), -1, dtype=np.int8)
        numbers = np.full(len(packed), np.nan)
        at, hit = self._positions(packed)
        if hit.any():
            kinds[hit] = np.frombuffer(self._kinds, dtype=np.int8)[at[hit]]
            numbers[hit] = np.frombuffer(self._numbers, dtype=np.float64)[at[hit]]
        return kinds, numbers

    def _at(self, i: int):
        kind = self._kinds[i]
        if kind == NUMBER:
            return self._numbers[i]
        if kind == SHARED_STRING:
            return self._strings[int(self._numbers[i])]
        if kind == OBJECT:
            return self._objects[int(self._numbers[i])]
        return True if kind == TRUE else False if kind == FALSE else None


class CellFormulas(_Store):
    """(row, col) -> formula text without '=', or ("shared", si) for a cell of a shared formula."""

    def __init__(self):
        super().__init__()
        self._shared = array("b")
        self._starts = array("q")
        self._lengths = array("i")
        self._text = bytearray()

    def _columns(self):
        return [self._shared, self._starts, self._lengths]

    @classmethod
    def of(cls, cells: Mapping) -> CellFormulas:
        """A store holding a plain {(row, col): formula text} mapping."""
        store = cls()
        for (row, col), text in sorted(cells.items()):
            store.add(row, col, text)
        return store

    def any_text_matches(self, pattern: re.Pattern[bytes]) -> bool:
        """Whether a bytes pattern occurs in any formula's text, in one search over all of them (the
        texts are stored end to end, so a match could straddle two: fit for a cheap first test)."""
        return pattern.search(self._text) is not None

    @property
    def text_bytes(self) -> int:
        return len(self._text)

    def add(self, row: int, col: int, text: str, shared: bool = False) -> None:
        encoded = text.encode("utf-8")
        start = len(self._text)
        self._text += encoded
        slot = self._slot(row, col)
        if slot < 0:
            self._shared.append(shared)
            self._starts.append(start)
            self._lengths.append(len(encoded))
        else:
            self._shared[slot], self._starts[slot], self._lengths[slot] = shared, start, len(encoded)

    def _at(self, i: int):
        start = self._starts[i]
        text = self._text[start : start + self._lengths[i]].decode("utf-8")
        return ("shared", text) if self._shared[i] else text
