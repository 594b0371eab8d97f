"""One rule for free text that people type or files bring: labels, notes, case titles, tag labels.

Unsafe characters are the ones that are invisible or steer a display rather than show:

- C0 controls U+0000-U+001F (tab and newline included: these fields are one line), DEL U+007F
  and C1 controls U+0080-U+009F: ESC and BEL make terminal sequences (``ESC ] 0 ; ... BEL`` sets
  the window title, ``ESC ] 52`` writes the clipboard), and XML cannot carry most C0 at all;
- the bidi embeddings, overrides and isolates U+202A-U+202E and U+2066-U+2069, which reorder
  what a reader sees ("Trojan Source");
- the non-characters U+FFFE, U+FFFF and lone surrogates, which XML and UTF-8 cannot carry.

At input (`check_text`) they are refused, naming the field. At output (`visible`) anything
already stored, or coming from tag files and explorers, shows them as visible escapes
(``\\x0b``, ``\\u202e``), so no file format breaks and no terminal obeys them.
"""

from __future__ import annotations

import re

from btcwatch.errors import InputError

__all__ = ["check_text", "safe_terminal_text", "unsafe_char", "visible"]

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffe\uffff\ud800-\udfff]")
_UNSAFE_KEEP_LINES = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffe\uffff\ud800-\udfff]"
)


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def unsafe_char(text: str) -> str | None:
    """The first unsafe character of text, or None."""
    m = _UNSAFE.search(text)
    return m.group() if m else None


def check_text(field: str, value: str) -> str:
    """Return value, or raise InputError naming the field and the first unsafe character."""
    bad = unsafe_char(value)
    if bad is not None:
        raise InputError(
            f"{field} contains the control character U+{ord(bad):04X}; "
            "use printable text on one line"
        )
    return value


def visible(text: str, *, lines: bool = False) -> str:
    """text with every unsafe character shown as an escape; ``lines`` keeps tab and newline."""
    return (_UNSAFE_KEEP_LINES if lines else _UNSAFE).sub(_escape, text)


def safe_terminal_text(text: object, *, lines: bool = False) -> str:
    """What may reach a terminal: str(text) without ESC, BEL, C1 or bidi controls."""
    return visible(str(text), lines=lines)
