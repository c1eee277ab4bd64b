"""The report as a document: a list of blocks (headings, paragraphs, tables, figures) with inline parts, which
render.py turns into Markdown and HTML, so both say the same."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

__all__ = ["Code", "Bold", "Link", "Inline", "Heading", "Para", "Banner", "Bullets", "Table", "Image", "Gallery",
           "CodeBlock", "Block"]

@dataclass
class Code:
    text: str


@dataclass
class Bold:
    text: str


@dataclass
class Link:
    text: str
    href: str                # relative to the study directory


Inline = Union[str, Code, Bold, Link]


@dataclass
class Heading:
    level: int
    text: str

    @property
    def anchor(self) -> str:
        """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
        return re.sub(r"[^\w\- ]", "", self.text.lower()).replace(" ", "-")


@dataclass
class Para:
    parts: list[Inline]


@dataclass
class Banner:
    kind: str                # "warning" (loud) or "note"
    parts: list[Inline]


@dataclass
class Bullets:
    items: list[list[Inline]]


@dataclass
class Table:
    header: list[str]
    rows: list[list[Inline]]
    numeric: list[bool] = field(default_factory=list)   # right-align these columns


@dataclass
class Image:
    path: Path               # the PNG on disk
    href: str                # relative to the study directory
    caption: str


@dataclass
class Gallery:
    """Images shown side by side in HTML (one after the other in Markdown)."""
    images: list[Image]


@dataclass
class CodeBlock:
    text: str
    lang: str = ""


Block = Union[Heading, Para, Banner, Bullets, Table, Image, Gallery, CodeBlock]
