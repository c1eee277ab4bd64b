"""User-given names that become paths (runs, studies) or labels (variants): checked here, once, before they touch
the filesystem, a log line, a shell or the HTML report.

A *name* becomes one directory name: one path component, no separators, not ``.``/``..``, no control, format or
bidi characters (a newline would forge log lines, U+202E reverses what a reader sees), none of the characters that
shells expand or Windows refuses (``< > : " | ? * $ `` and the backtick), no leading ``-`` (read as an option) or
surrounding space, and at most 255 bytes in UTF-8 (the file-name limit of ext4, APFS and NTFS).

A *label* (a study's variant name) is shown, not used as a path: run directories use a sanitized form of it
(``study.spec.run_name``). It obeys the character rules but may hold ``/``, ``:``, ``<`` etc., which reports
escape.
"""
from __future__ import annotations

import unicodedata

from .errors import ConfigError, clip

__all__ = ["check_name", "check_label", "NAME_BYTES"]

NAME_BYTES = 255                              # longest file name on common file systems, in bytes
_FORBIDDEN = set('/\\<>:"|?*$`')              # path separators, Windows-reserved and shell-expanded characters
# Unicode categories refused everywhere: control (Cc: newline, NUL, ESC), format (Cf: bidi overrides U+202A-202E,
# isolates U+2066-2069, zero-width characters), surrogates (Cs), private use (Co) and unassigned (Cn).
_BAD_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}


def _bad_character(text: str) -> str | None:
    for ch in text:
        if unicodedata.category(ch) in _BAD_CATEGORIES:
            return f"U+{ord(ch):04X} ({unicodedata.name(ch, 'a control character')})"
    return None


def _check_text(text: object, what: str) -> str:
    if not isinstance(text, str):
        raise ConfigError(f"{what} {clip(text)}: expected a string")
    if not text:
        raise ConfigError(f"{what}: must not be empty")
    bad = _bad_character(text)
    if bad:
        raise ConfigError(f"{what} '{clip(text.encode('unicode_escape').decode('ascii'))}': contains {bad}; use "
                          f"letters, digits and . _ - + = ,")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > NAME_BYTES:
        raise ConfigError(f"{what} '{clip(text)}': {size} bytes long, at most {NAME_BYTES} allowed")
    return text


def check_label(text: object, what: str = "variant name") -> str:
    """`text` if it is fit to show as a label; ConfigError (one line, value cut) otherwise."""
    return _check_text(text, what)


def check_name(text: object, what: str = "run name") -> str:
    """`text` if it is fit to be one directory name inside a folder nnstudy writes to; ConfigError otherwise."""
    text = _check_text(text, what)
    if text in (".", ".."):
        raise ConfigError(f"{what} {text!r}: not a name (it points at a folder itself)")
    bad = sorted(set(text) & _FORBIDDEN)
    if bad:
        raise ConfigError(f"{what} '{clip(text)}': contains {' '.join(bad)}; a name is one folder name: use "
                          f"letters, digits and . _ - + = ,")
    if text != text.strip() or text.startswith("-"):
        raise ConfigError(f"{what} '{clip(text)}': must not start with '-' or start or end with a space")
    return text
