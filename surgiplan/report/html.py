"""Write the report blocks as one self-contained HTML file.

Same blocks as the PDF (:mod:`surgiplan.report.document`); text escaped with
:func:`html.escape`; pictures embedded as base64 PNG data URIs and the style sheet inline, so
the file opens anywhere on its own. Written atomically.
"""

from __future__ import annotations

import base64
import os
from html import escape
from pathlib import Path

from surgiplan.io.atomic import atomic_path
from surgiplan.report.document import (
    Block,
    Figures,
    Heading,
    KeyValues,
    PageBreak,
    Table,
    Text,
    Title,
)
from surgiplan.report.model import ReportModel

STYLE = """
body { font-family: Helvetica, Arial, sans-serif; font-size: 14px; color: #1d2433;
       max-width: 1000px; margin: 24px auto; padding: 0 16px; line-height: 1.4; }
h1.title { color: #1f3b73; font-size: 32px; margin: 32px 0 4px; }
p.subtitle { color: #44506a; font-size: 17px; margin-top: 0; }
h1 { color: #1f3b73; font-size: 22px; border-bottom: 2px solid #1f3b73; margin-top: 36px; }
h2 { color: #1f3b73; font-size: 17px; }
h3 { font-size: 15px; margin-bottom: 4px; }
p.note { color: #44506a; font-size: 12.5px; }
p.disclaimer { border: 1px solid #d0342c; background: #fff4f2; padding: 10px 12px;
               font-size: 15px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 14px; font-size: 12.5px; }
th { background: #1f3b73; color: #fff; text-align: left; padding: 4px 6px; }
td { border: 1px solid #b8c2d6; padding: 3px 6px; vertical-align: top; }
td.num { text-align: right; }
table.kv td { border: none; border-bottom: 1px solid #b8c2d6; }
table.kv td.key { font-weight: bold; width: 30%; }
.figures { display: flex; gap: 16px; flex-wrap: wrap; margin: 8px 0 18px; }
figure { flex: 1 1 300px; margin: 0; }
figure img { width: 100%; height: auto; border: 1px solid #b8c2d6; }
figcaption { color: #44506a; font-size: 12px; }
footer { color: #44506a; font-size: 12px; border-top: 1px solid #b8c2d6; margin-top: 32px;
         padding-top: 8px; }
"""


def _key_values(block: KeyValues) -> str:
    rows = "".join(f'<tr><td class="key">{escape(k)}</td><td>{escape(v)}</td></tr>'
                   for k, v in block.rows)
    return f'<table class="kv">{rows}</table>'


def _table(block: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in block.headers)
    rows = []
    for r, row in enumerate(block.rows):
        colour = block.row_colours[r] if r < len(block.row_colours) else None
        style = f' style="background:{colour}"' if colour else ""
        cells = []
        for i, cell in enumerate(row):
            extra = ""
            if i == 0 and r < len(block.swatches):
                extra = f' style="border-left: 6px solid {block.swatches[r]}"'
            css = ' class="num"' if i in block.numeric else ""
            cells.append(f"<td{css}{extra}>{escape(cell)}</td>")
        rows.append(f"<tr{style}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _figures(block: Figures) -> str:
    parts = []
    for picture in block.pictures:
        data = base64.b64encode(picture.png).decode("ascii")
        parts.append(f"<figure><h3>{escape(picture.title)}</h3>"
                     f'<img alt="{escape(picture.title)}" width="{picture.size[0]}" '
                     f'height="{picture.size[1]}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{escape(picture.caption)}</figcaption></figure>")
    return f'<div class="figures">{"".join(parts)}</div>'


def _block(block: Block) -> str:
    if isinstance(block, Title):
        return (f'<h1 class="title">{escape(block.text)}</h1>'
                f'<p class="subtitle">{escape(block.subtitle)}</p>')
    if isinstance(block, Heading):
        level = min(max(block.level, 1), 3)
        return f"<h{level}>{escape(block.text)}</h{level}>"
    if isinstance(block, Text):
        css = "" if block.style == "body" else f' class="{block.style}"'
        return f"<p{css}>{escape(block.text)}</p>"
    if isinstance(block, KeyValues):
        return _key_values(block)
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figures):
        return _figures(block)
    if isinstance(block, PageBreak):
        return ""
    raise TypeError(f"unknown report block {type(block).__name__}")


def report_html(model: ReportModel, blocks: list[Block]) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    cover = model.cover
    body = "\n".join(part for part in map(_block, blocks) if part)
    footer = (f"SurgiPlan {escape(cover.software_version)} - "
              f"{escape(cover.patient_reference)} - {escape(cover.disclaimer)}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(cover.title)} - {escape(cover.patient_reference)}</title>"
            f'<meta name="generator" content="SurgiPlan {escape(cover.software_version)}">'
            f"<style>{STYLE}</style></head><body>\n{body}\n<footer>{footer}</footer>"
            "</body></html>\n")


def write_html(model: ReportModel, blocks: list[Block], path: str | os.PathLike[str]) -> Path:
    """Write :func:`report_html` to ``path`` atomically; return the path."""
    target = Path(path)
    text = report_html(model, blocks)
    with atomic_path(target) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return target
