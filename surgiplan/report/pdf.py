"""Typeset the report blocks as a PDF with reportlab's platypus (A4, no Qt).

reportlab, not Qt's QPdfWriter: the report is core code, which never imports Qt, and platypus
flows tables across pages with repeated headers. Every page carries a footer with the case
reference, the planning-aid statement and the page number. The file is written atomically.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)
from reportlab.platypus import PageBreak as PdfPageBreak
from reportlab.platypus import Table as PdfTable

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

MARGIN = 16 * mm
WIDTH = A4[0] - 2 * MARGIN
HEADER_COLOUR = colors.HexColor("#1f3b73")
GRID_COLOUR = colors.HexColor("#b8c2d6")


@dataclass(frozen=True)
class PdfResult:
    """The PDF written and its page count."""

    path: Path
    pages: int


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontName="Helvetica", fontSize=9.5,
                          leading=12.5, spaceAfter=4)
    return {
        "title": ParagraphStyle("title", parent=base["Title"], fontSize=24, leading=29,
                                textColor=HEADER_COLOUR, spaceAfter=6),
        "subtitle": ParagraphStyle("subtitle", parent=body, fontSize=12, leading=15,
                                   textColor=colors.HexColor("#44506a"), spaceAfter=14),
        "h1": ParagraphStyle("h1", parent=base["Heading1"], fontSize=16, leading=20,
                             textColor=HEADER_COLOUR, spaceBefore=6, spaceAfter=6),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontSize=12.5, leading=16,
                             textColor=HEADER_COLOUR, spaceBefore=8, spaceAfter=4),
        "h3": ParagraphStyle("h3", parent=base["Heading3"], fontSize=11, leading=14,
                             spaceBefore=8, spaceAfter=3),
        "body": body,
        "note": ParagraphStyle("note", parent=body, fontSize=8.5, leading=11,
                               textColor=colors.HexColor("#44506a")),
        "disclaimer": ParagraphStyle("disclaimer", parent=body, fontSize=10.5, leading=14,
                                     borderColor=colors.HexColor("#d0342c"), borderWidth=1,
                                     borderPadding=8, backColor=colors.HexColor("#fff4f2"),
                                     spaceBefore=14, spaceAfter=18),
        "cell": ParagraphStyle("cell", parent=body, fontSize=8, leading=10, spaceAfter=0),
        "cell_right": ParagraphStyle("cell_right", parent=body, fontSize=8, leading=10,
                                     spaceAfter=0, alignment=TA_RIGHT),
        "head": ParagraphStyle("head", parent=body, fontName="Helvetica-Bold", fontSize=8,
                               leading=10, spaceAfter=0, textColor=colors.white),
        "caption": ParagraphStyle("caption", parent=body, fontSize=8, leading=10,
                                  textColor=colors.HexColor("#44506a")),
        "key": ParagraphStyle("key", parent=body, fontName="Helvetica-Bold", spaceAfter=0),
        "value": ParagraphStyle("value", parent=body, spaceAfter=0),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text (markup characters escaped; long tokens may wrap)."""
    return Paragraph(escape(text), style)


def _key_values(block: KeyValues, styles) -> Flowable:
    rows = [[_p(k, styles["key"]), _p(v, styles["value"])] for k, v in block.rows]
    table = PdfTable(rows, colWidths=[0.3 * WIDTH, 0.7 * WIDTH], hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LINEBELOW", (0, 0), (-1, -1), 0.25, GRID_COLOUR),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                               ("TOPPADDING", (0, 0), (-1, -1), 3)]))
    return table


def _table(block: Table, styles) -> Flowable:
    header = [_p(h, styles["head"]) for h in block.headers]
    body = [[_p(cell, styles["cell_right" if i in block.numeric else "cell"])
             for i, cell in enumerate(row)] for row in block.rows]
    widths = [w / sum(block.widths) * WIDTH for w in block.widths]
    table = PdfTable([header, *body], colWidths=widths, repeatRows=1, hAlign="LEFT")
    style = [("BACKGROUND", (0, 0), (-1, 0), HEADER_COLOUR),
             ("VALIGN", (0, 0), (-1, -1), "TOP"),
             ("GRID", (0, 0), (-1, -1), 0.25, GRID_COLOUR),
             ("TOPPADDING", (0, 0), (-1, -1), 2.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5)]
    for row, colour in enumerate(block.row_colours, start=1):
        if colour:
            style.append(("BACKGROUND", (0, row), (-1, row), colors.HexColor(colour)))
    for row, colour in enumerate(block.swatches, start=1):
        style += [("LINEBEFORE", (0, row), (0, row), 5, colors.HexColor(colour))]
    table.setStyle(TableStyle(style))
    return table


def _figures(block: Figures, styles) -> Flowable:
    count = len(block.pictures)
    gap = 4 * mm
    width = (WIDTH - gap * (count - 1)) / count if count > 1 else 0.82 * WIDTH
    cells = []
    for picture in block.pictures:
        w, h = picture.size
        image = Image(io.BytesIO(picture.png), width=width, height=width * h / w)
        cells.append([_p(picture.title, styles["h3"]), image,
                      _p(picture.caption, styles["caption"])])
    table = PdfTable([cells], colWidths=[width + (gap if count > 1 else 0)] * count,
                     hAlign="CENTER")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    return KeepTogether([table, Spacer(1, 4 * mm)])


def _flowables(blocks: list[Block], styles) -> list[Flowable]:
    out: list[Flowable] = []
    for block in blocks:
        if isinstance(block, Title):
            out += [Spacer(1, 20 * mm), _p(block.text, styles["title"]),
                    _p(block.subtitle, styles["subtitle"])]
        elif isinstance(block, Heading):
            out.append(_p(block.text, styles[f"h{min(block.level, 3)}"]))
        elif isinstance(block, Text):
            out.append(_p(block.text, styles[block.style]))
        elif isinstance(block, KeyValues):
            out += [_key_values(block, styles), Spacer(1, 3 * mm)]
        elif isinstance(block, Table):
            out += [_table(block, styles), Spacer(1, 3 * mm)]
        elif isinstance(block, Figures):
            out.append(_figures(block, styles))
        elif isinstance(block, PageBreak):
            out.append(PdfPageBreak())
    return out


def _footer(model: ReportModel):
    text = (f"SurgiPlan {model.cover.software_version} - {model.cover.patient_reference} - "
            "planning aid, not a medical device")

    def draw(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(colors.HexColor("#44506a"))
        canvas.drawString(MARGIN, 9 * mm, text)
        canvas.drawRightString(A4[0] - MARGIN, 9 * mm, f"page {doc.page}")
        canvas.restoreState()

    return draw


def write_pdf(model: ReportModel, blocks: list[Block], path: str | os.PathLike[str]
              ) -> PdfResult:
    """Typeset ``blocks`` into the PDF ``path`` (atomically); return it with its page count.

    The PDF's metadata carry the report title, the author and "SurgiPlan <version>", all
    taken from ``model.cover`` (so de-identified with it).
    """
    target = Path(path)
    with atomic_path(target) as temporary:
        doc = SimpleDocTemplate(
            str(temporary), pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN,
            topMargin=MARGIN, bottomMargin=MARGIN + 4 * mm, title=model.cover.title,
            author=model.cover.author, subject=f"Surgical plan {model.cover.patient_reference}",
            creator=f"SurgiPlan {model.cover.software_version}", producer="SurgiPlan (reportlab)")
        footer = _footer(model)
        doc.build(_flowables(blocks, _styles()), onFirstPage=footer, onLaterPages=footer)
        pages = int(doc.page)
    return PdfResult(target, pages)

