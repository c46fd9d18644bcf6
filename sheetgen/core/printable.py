"""Text from files made safe to print: no character of a file name or a cell can act on a terminal.

A file name, a sheet name or a student's label may hold control characters: ESC starts a terminal
command (ESC[8m hides everything after it), BEL rings, a newline splits one report line in two,
and the bidirectional overrides reorder what is shown. Every such character is printed as an
escape instead (\\x1b, \\n, \\u202e), so what the terminal shows is exactly what the name holds.
Letters of any script, combining marks and emoji pass unchanged.
"""

from __future__ import annotations

import re

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# C0 controls, DEL, C1 controls (U+009B is an 8-bit CSI), the line and paragraph separators, and the
# bidirectional embeddings, overrides and isolates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# What json.dumps(ensure_ascii=False) leaves raw in a string (it escapes C0 itself, and the line
# breaks of its indentation must stay).
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(value: object) -> str:
    """`value` as text, every control character written as an escape (one line, inert)."""
    return _UNSAFE.sub(_escape, str(value))


def shown_lines(text: str) -> str:
    """Several lines of output: each line made safe, the line breaks between them kept."""
    return "\n".join(shown(line) for line in text.split("\n"))


def json_safe(text: str) -> str:
    """JSON text with the characters json.dumps leaves raw (DEL, C1, separators, bidi) as \\u escapes:
    still the same JSON value, but inert on a terminal."""
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
