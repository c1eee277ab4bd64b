"""Markdown (GitHub) and HTML (one self-contained file: inline CSS, figures as data URIs) from the same blocks.
User text is escaped in both."""
from __future__ import annotations

import base64
import html
import re
import urllib.parse
from pathlib import Path
from typing import Iterable, Sequence

from .document import Banner, Block, Bold, Bullets, Code, CodeBlock, Gallery, Heading, Image, Inline, Link, Para, Table

__all__ = ["render_markdown", "render_html"]

# ---------------------------------------------------------------------------------------------- markdown

def _md_escape(text: str) -> str:
    """Plain text safe in GitHub Markdown: no accidental emphasis, links, HTML or table breaks."""
    text = text.replace("\\", "\\\\")
    text = re.sub(r"([`*\[\]|#])", r"\\\1", text)
    # a run of _ inside a word (conv_layers, base__s0) is literal on GitHub; elsewhere it could start emphasis
    text = re.sub(r"(?<![A-Za-z0-9])_+|_+(?![A-Za-z0-9])", lambda m: m.group().replace("_", "\\_"), text)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _md_href(href: str) -> str:
    return href if href.startswith("#") else urllib.parse.quote(href, safe="/#.-_~")


def _md_inline(parts: Iterable[Inline], in_table: bool = False) -> str:
    out = []
    for p in parts:
        if isinstance(p, Code):
            # GitHub splits table cells on | even inside code spans
            text = p.text.replace("|", "\\|") if in_table else p.text
            # a fence longer than any run of backticks inside, so user text cannot close the span early
            fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
            pad = " " if "`" in text else ""
            out.append(f"{fence}{pad}{text}{pad}{fence}")
        elif isinstance(p, Bold):
            out.append(f"**{_md_escape(p.text.strip())}**" + (" " if p.text.endswith(" ") else ""))
        elif isinstance(p, Link):
            out.append(f"[{_md_escape(p.text)}]({_md_href(p.href)})")
        else:
            out.append(_md_escape(str(p)))
    return "".join(out).replace("\n", " ")


def render_markdown(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {_md_escape(b.text)}")
        elif isinstance(b, Para):
            out.append(_md_inline(b.parts))
        elif isinstance(b, Banner):
            out.append(f"> [!{'WARNING' if b.kind == 'warning' else 'NOTE'}]\n> {_md_inline(b.parts)}")
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {_md_inline(item)}" for item in b.items))
        elif isinstance(b, Table):
            numeric = b.numeric or [False] * len(b.header)
            lines = ["| " + " | ".join(_md_escape(h) or " " for h in b.header) + " |",
                     "|" + "|".join("---:" if n else ":---" for n in numeric) + "|"]
            lines += ["| " + " | ".join(_md_inline([c], in_table=True) for c in row) + " |" for row in b.rows]
            out.append("\n".join(lines))
        elif isinstance(b, (Image, Gallery)):
            out += [f"![{_md_escape(i.caption)}]({_md_href(i.href)})\n\n*{_md_escape(i.caption)}*"
                    for i in (b.images if isinstance(b, Gallery) else [b])]
        elif isinstance(b, CodeBlock):
            fence = "````" if "```" in b.text else "```"
            out.append(f"{fence}{b.lang}\n{b.text}\n{fence}")
    return "\n\n".join(out) + "\n"


# -------------------------------------------------------------------------------------------------- html

_CSS = """
body { font: 15px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328; margin: 0;
       background: #f6f8fa; }
main { max-width: 1320px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 28px; border-bottom: 1px solid #d0d7de; padding-bottom: 8px; }
h2 { font-size: 22px; border-bottom: 1px solid #d0d7de; padding-bottom: 6px; margin-top: 36px; }
h3 { font-size: 17px; margin-top: 26px; }
code, pre { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code { background: #eff1f3; padding: 1px 5px; border-radius: 4px; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; padding: 12px; border-radius: 6px; overflow-x: auto; }
pre code { background: none; padding: 0; }
.scroll { overflow-x: auto; margin: 12px 0; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 5px 9px; vertical-align: top; }
th { background: #f6f8fa; text-align: left; }
tr:nth-child(even) td { background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.text { min-width: 6em; max-width: 34em; }
.banner { border-radius: 6px; padding: 10px 14px; margin: 14px 0; }
.banner.warning { background: #fff1e5; border: 2px solid #d1242f; color: #6e1b10; font-size: 16px; }
.banner.note { background: #ddf4ff; border: 1px solid #54aeff; }
figure { margin: 16px 0 28px; }
figure img { max-width: 100%; height: auto; border: 1px solid #d0d7de; border-radius: 4px; }
figcaption { color: #59636e; font-size: 13px; margin-top: 4px; }
a { color: #0969da; }
nav ul { columns: 2; }
.gallery { display: flex; flex-wrap: wrap; gap: 0 24px; }
.gallery figure { flex: 1 1 560px; max-width: calc(50% - 12px); min-width: 420px; }
"""


def _html_inline(parts: Iterable[Inline]) -> str:
    out = []
    for p in parts:
        if isinstance(p, Code):
            out.append(f"<code>{html.escape(p.text)}</code>")
        elif isinstance(p, Bold):
            out.append(f"<strong>{html.escape(p.text)}</strong>")
        elif isinstance(p, Link):
            out.append(f'<a href="{html.escape(_md_href(p.href), quote=True)}">{html.escape(p.text)}</a>')
        else:
            out.append(html.escape(str(p)))
    return "".join(out)


def _html_figure(img: Image) -> str:
    return (f'<figure><img src="{_data_uri(img.path)}" alt="{html.escape(img.caption, quote=True)}">'
            f"<figcaption>{html.escape(img.caption)}</figcaption></figure>")


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def render_html(blocks: Sequence[Block], title: str) -> str:
    body: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            body.append(f'<h{b.level} id="{html.escape(b.anchor, quote=True)}">{html.escape(b.text)}</h{b.level}>')
        elif isinstance(b, Para):
            body.append(f"<p>{_html_inline(b.parts)}</p>")
        elif isinstance(b, Banner):
            body.append(f'<div class="banner {b.kind}">{"⚠ " if b.kind == "warning" else ""}'
                        f"{_html_inline(b.parts)}</div>")
        elif isinstance(b, Bullets):
            items = "".join(f"<li>{_html_inline(i)}</li>" for i in b.items)
            body.append(f"<nav><ul>{items}</ul></nav>" if all(isinstance(i[0], Link) and i[0].href.startswith("#")
                                                              for i in b.items if i) else f"<ul>{items}</ul>")
        elif isinstance(b, Table):
            numeric = b.numeric or [False] * len(b.header)
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b.header)
            rows = "".join("<tr>" + "".join(f'<td class="{"num" if n else "text"}">{_html_inline([c])}</td>'
                                            for c, n in zip(row, numeric)) + "</tr>" for row in b.rows)
            body.append(f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>'
                        f"</table></div>")
        elif isinstance(b, Image):
            body.append(_html_figure(b))
        elif isinstance(b, Gallery):
            body.append('<div class="gallery">' + "".join(_html_figure(i) for i in b.images) + "</div>")
        elif isinstance(b, CodeBlock):
            body.append(f"<pre><code>{html.escape(b.text)}</code></pre>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(body) + "\n</main>\n</body>\n</html>\n")
