"""The invoice as a PDF document: what the customer receives, rendered from a plain, database-free snapshot.

The document is a frozen dataclass built by the caller from a billing, so rendering needs no ORM and can be
tested on its own. It holds only what may be printed: there is deliberately no internal comment field, so an
internal note can never reach the customer. The same document always renders the same bytes (the PDF's creation
date comes from the invoice date), so a re-rendered invoice is recognisably the same file.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from fpdf import FPDF, XPos, YPos
from fpdf.enums import TableBordersLayout
from fpdf.fonts import FontFace

from domain.currencies import STORED_DECIMALS, is_currency, minor_unit

MAX_DESCRIPTION = 400  # characters of a line's description printed; longer ones are cut with an ellipsis
TAX_KIND = "TAX"
FONT = "Helvetica"  # a core font: no font file to ship, latin-1 only


@dataclass(frozen=True)
class InvoiceLine:
    """One printed line of the invoice; `kind` is the billing detail kind (TAX lines are printed as tax)."""

    description: str
    amount: Decimal
    kind: str


@dataclass(frozen=True)
class InvoiceDocument:
    """Everything printed on an invoice, and nothing else (no internal comment, by design)."""

    number: str
    invoice_date: date
    due_date: date
    currency: str
    issuer: str
    account_number: str
    account_name: str
    billing_email: str
    period_start: date  # the first and last day billed (a contract starting on the 16th: from the 16th)
    period_end: date
    lines: tuple[InvoiceLine, ...]
    tax_amount: Decimal
    total: Decimal
    external_comment: str
    title: str = "Invoice"  # or "Credit note": same layout, no due date
    references: tuple[str, ...] = ()  # printed under the dates: what a credit note credits, and why


def is_invoice(doc: InvoiceDocument) -> bool:
    return doc.title == "Invoice"


def format_money(amount: Decimal, currency: str) -> str:
    """`1,234.50 USD`, `123,457 JPY`: the currency's decimals, thousands separators, the currency code after.

    Amounts are rounded to the currency already; a code not in circulation (an old invoice) prints as stored."""
    places = minor_unit(currency) if is_currency(currency) else STORED_DECIMALS
    return f"{amount:,.{places}f} {currency}"


def _text(value: str) -> str:
    """What the latin-1 core font can print: characters outside latin-1 become '?'."""
    return value.encode("latin-1", "replace").decode("latin-1")


def _description(line: InvoiceLine) -> str:
    text = " ".join(line.description.split())  # no stray newlines or runs of blanks in a table cell
    if line.kind == TAX_KIND:
        text = f"Tax: {text}" if text else "Tax"
    if len(text) > MAX_DESCRIPTION:
        text = text[: MAX_DESCRIPTION - 3].rstrip() + "..."
    return _text(text)


def render_invoice_pdf(doc: InvoiceDocument) -> bytes:
    """Render the invoice as an A4 PDF; deterministic for a given document."""
    pdf = FPDF(format="A4")
    pdf.set_creation_date(datetime.combine(doc.invoice_date, time(), tzinfo=UTC))
    pdf.set_title(_text(f"{doc.title} {doc.number}"))
    pdf.set_author(_text(doc.issuer))
    pdf.set_creator("billrun")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    width = pdf.epw

    def line(text: str, *, style: str = "", size: float = 10, align: str = "L") -> None:
        pdf.set_font(FONT, style=style, size=size)
        pdf.multi_cell(width, size * 0.5, _text(text), align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    line(doc.issuer, style="B", size=16)
    pdf.ln(4)
    line(f"{doc.title} {doc.number}", style="B", size=14)
    line(f"{doc.title} date: {doc.invoice_date.isoformat()}")
    if is_invoice(doc):
        line(f"Due date: {doc.due_date.isoformat()}")
    line(f"Billing period: {doc.period_start.isoformat()} to {doc.period_end.isoformat()}")
    for reference in doc.references:
        line(reference)
    pdf.ln(4)
    line("Bill to", style="B", size=11)
    line(doc.account_name)
    line(f"Account {doc.account_number}")
    line(doc.billing_email)
    pdf.ln(6)

    pdf.set_font(FONT, size=10)
    with pdf.table(col_widths=(75, 25), text_align=("LEFT", "RIGHT"), v_align="TOP", line_height=6,
                   borders_layout=TableBordersLayout.SINGLE_TOP_LINE) as table:
        table.row(("Description", "Amount"))
        for item in doc.lines:
            style = FontFace(emphasis="ITALICS") if item.kind == TAX_KIND else None
            table.row((_description(item), _text(format_money(item.amount, doc.currency))), style=style)
    pdf.ln(4)

    totals = (("Subtotal", doc.total - doc.tax_amount, ""), ("Tax", doc.tax_amount, ""), ("Total", doc.total, "B"))
    for label, amount, emphasis in totals:
        pdf.set_font(FONT, style=emphasis, size=11 if emphasis else 10)
        pdf.cell(width * 0.75, 6, label, align="R")
        pdf.cell(width * 0.25, 6, _text(format_money(amount, doc.currency)), align="R",
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    if doc.external_comment.strip():
        pdf.ln(6)
        line("Note", style="B", size=11)
        line(doc.external_comment.strip())
    return bytes(pdf.output())
