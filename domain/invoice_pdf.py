"""The invoice as a PDF document: what the customer receives, rendered from a plain, database-free snapshot.

The document is a frozen dataclass built by the caller from a billing, so rendering needs no ORM and can be
tested on its own. It holds only what may be printed: there is deliberately no internal comment field, so an
internal note can never reach the customer. The same document always renders the same bytes (the PDF's creation
date comes from the invoice date), so a re-rendered invoice is recognisably the same file.

What a customer's accounts-payable clerk looks for is all there (docs/POSTING.md, "The invoice PDF"): the issuer
with its address, tax id and contact; the bill-to name and address; number, invoice and due dates; each line's
period, quantity, unit price and amount; subtotal, tax by rate, total, what was paid and what is still due; the
payment terms and, for an account paying by token, the auto-pay note. Long documents carry "Page n of m" and
repeat the table header on every page. A credit note is the same document titled "Credit note", with the invoice
it credits, its reason and where its total goes (the invoice's balance, account credit, a refund).
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from fpdf import FPDF, XPos, YPos
from fpdf.enums import TableBordersLayout

from domain.currencies import STORED_DECIMALS, is_currency, minor_unit
from domain.trace import Trace, number_text, price_text

MAX_DESCRIPTION = 400  # characters of a line's description printed; longer ones are cut with an ellipsis
TAX_KIND = "TAX"
FONT = "Helvetica"  # a core font: no font file to ship, latin-1 only
ZERO = Decimal("0")


@dataclass(frozen=True)
class Issuer:
    """Who sends the document (BILLRUN_ISSUER_*): name, postal address lines, tax id, contact."""

    name: str
    address: tuple[str, ...] = ()
    tax_id: str = ""
    contact: str = ""


@dataclass(frozen=True)
class InvoiceLine:
    """One printed line of the invoice; `kind` is the billing detail kind (TAX lines are printed as tax by rate).

    The period, quantity, unit price and days come from the line's typed trace (`printed_line`); a line without
    them (an old or hand-built one) prints its description and amount only."""

    description: str
    amount: Decimal
    kind: str
    period_start: date | None = None
    period_end: date | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    days_billed: int | None = None
    days_in_period: int | None = None
    tax_rate: Decimal | None = None  # a TAX line's rate (0.0825 for 8.25%) and the amount it was applied to
    tax_base: Decimal | None = None


@dataclass(frozen=True)
class InvoiceDocument:
    """Everything printed on an invoice, and nothing else (no internal comment, by design)."""

    number: str
    invoice_date: date
    due_date: date
    currency: str
    issuer: Issuer
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
    bill_to_address: tuple[str, ...] = ()
    # Printed under the total: an invoice's "Amount paid" and "Amount due", a credit note's split of its total.
    settlement: tuple[tuple[str, Decimal], ...] = ()
    payment_terms_days: int | None = None  # "Net N days" (invoices)
    autopay: bool = False  # the account pays by token: the invoice is charged, nothing to do


def is_invoice(doc: InvoiceDocument) -> bool:
    return doc.title == "Invoice"


def address_lines(text: str) -> tuple[str, ...]:
    """A postal address held as one text, its lines separated by newlines or `|`, as printed lines."""
    return tuple(part.strip() for part in text.replace("|", "\n").splitlines() if part.strip())


def printed_line(description: str, amount: Decimal, kind: str, trace: Trace | None,
                 *, whole: bool = True) -> InvoiceLine:
    """A detail line as printed, its period, quantity and unit price from its composed trace. `whole=False` (a
    credit note crediting part of a line) keeps the period but not the quantity and unit price, which would no
    longer multiply to the amount."""
    if trace is None:
        return InvoiceLine(description, amount, kind)
    return InvoiceLine(
        description, amount, kind, period_start=trace.billing_start, period_end=trace.billing_end,
        quantity=trace.quantity if whole else None, unit_price=trace.unit_price if whole else None,
        days_billed=trace.days_billed if whole else None, days_in_period=trace.days_in_period if whole else None,
        tax_rate=trace.tax_rate, tax_base=trace.tax_base if whole else None)


def format_money(amount: Decimal, currency: str) -> str:
    """`1,234.50 USD`, `123,457 JPY`: the currency's decimals, thousands separators, the currency code after.

    Amounts are rounded to the currency already; a code not in circulation (an old invoice) prints as stored."""
    return f"{amount:,.{_places(currency)}f} {currency}"


def _places(currency: str) -> int:
    return minor_unit(currency) if is_currency(currency) else STORED_DECIMALS


def percent_text(rate: Decimal) -> str:
    """0.0825 as `8.25%`."""
    return f"{number_text(rate * 100)}%"


def _text(value: str) -> str:
    """What the latin-1 core font can print: characters outside latin-1 become '?'."""
    return value.encode("latin-1", "replace").decode("latin-1")


def _description(line: InvoiceLine) -> str:
    text = " ".join(line.description.split())  # no stray newlines or runs of blanks in a table cell
    if len(text) > MAX_DESCRIPTION:
        text = text[: MAX_DESCRIPTION - 3].rstrip() + "..."
    if line.days_billed is not None and line.days_in_period and line.days_billed != line.days_in_period:
        text += f" (prorated: {line.days_billed} of {line.days_in_period} days)"
    return _text(text)


def _period(line: InvoiceLine) -> str:
    if line.period_start is None or line.period_end is None:
        return ""
    return f"{line.period_start.isoformat()} to {line.period_end.isoformat()}"


def tax_by_rate(doc: InvoiceDocument) -> list[tuple[str, Decimal]]:
    """The tax lines summed per rate, each labelled with its names, its rate and the amount it applies to."""
    groups: dict[Decimal | None, list[InvoiceLine]] = defaultdict(list)
    for line in doc.lines:
        if line.kind == TAX_KIND:
            groups[line.tax_rate].append(line)
    found = []
    for rate, lines in groups.items():
        names = "; ".join(dict.fromkeys(" ".join(line.description.split()) for line in lines if line.description))
        label = names or "Tax"
        if rate is not None:
            bases = [line.tax_base for line in lines if line.tax_base is not None]
            on = f" on {format_money(sum(bases, ZERO), doc.currency)}" if len(bases) == len(lines) else ""
            label += f" at {percent_text(rate)}{on}"
        found.append((_text(label[:MAX_DESCRIPTION]), sum((line.amount for line in lines), ZERO)))
    if not found and doc.tax_amount:
        found.append(("Tax", doc.tax_amount))
    return found or [("Tax", ZERO)]


def terms(doc: InvoiceDocument) -> list[str]:
    """The payment terms and the auto-pay note (invoices only)."""
    if not is_invoice(doc):
        return []
    found = []
    if doc.payment_terms_days is not None:
        found.append(f"Payment terms: Net {doc.payment_terms_days} days. Please pay by {doc.due_date.isoformat()}, "
                     f"quoting invoice {doc.number}.")
    if doc.autopay:
        found.append("Auto-pay: this invoice is charged to the payment method on file; no payment is needed "
                     "from you.")
    return found


class _Pdf(FPDF):
    """A4 with a footer on every page: the document's title and number, and "Page n of m"."""

    def __init__(self, footer_text: str) -> None:
        super().__init__(format="A4")
        self.footer_text = footer_text

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.cell(self.epw / 2, 6, self.footer_text)
        self.cell(self.epw / 2, 6, f"Page {self.page_no()} of {{nb}}", align="R")


COLUMNS = (("Description", 66, "LEFT"), ("Period", 44, "LEFT"), ("Qty", 16, "RIGHT"), ("Unit price", 28, "RIGHT"),
           ("Amount", 36, "RIGHT"))


def render_invoice_pdf(doc: InvoiceDocument) -> bytes:
    """Render the invoice as an A4 PDF; deterministic for a given document."""
    pdf = _Pdf(_text(f"{doc.issuer.name} - {doc.title} {doc.number}"))
    pdf.set_creation_date(datetime.combine(doc.invoice_date, time(), tzinfo=UTC))
    pdf.set_title(_text(f"{doc.title} {doc.number}"))
    pdf.set_author(_text(doc.issuer.name))
    pdf.set_creator("billrun")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()
    width = pdf.epw
    half = width / 2

    def lines(texts: list[str] | tuple[str, ...], *, x: float, w: float, style: str = "",
              size: float = 10) -> None:
        for text in texts:
            pdf.set_x(x)
            pdf.set_font(FONT, style=style, size=size)
            pdf.multi_cell(w, size * 0.5, _text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    top, left = pdf.get_y(), pdf.l_margin
    issuer = doc.issuer
    lines([issuer.name], x=left, w=half, style="B", size=14)
    lines([*issuer.address, *([f"Tax ID: {issuer.tax_id}"] if issuer.tax_id else []),
           *([issuer.contact] if issuer.contact else [])], x=left, w=half, size=9)
    issuer_bottom = pdf.get_y()
    pdf.set_y(top)
    lines([f"{doc.title} {doc.number}"], x=left + half, w=half, style="B", size=14)
    dated = [f"{doc.title} date: {doc.invoice_date.isoformat()}"]
    if is_invoice(doc):
        dated.append(f"Due date: {doc.due_date.isoformat()}")
    dated += [f"Account: {doc.account_number}",
              f"Billing period: {doc.period_start.isoformat()} to {doc.period_end.isoformat()}", *doc.references]
    lines(dated, x=left + half, w=half, size=9)
    pdf.set_y(max(issuer_bottom, pdf.get_y()) + 6)

    lines(["Bill to"], x=left, w=width, style="B", size=10)
    lines([doc.account_name, *doc.bill_to_address, doc.billing_email], x=left, w=width, size=10)
    pdf.ln(5)

    places = _places(doc.currency)
    pdf.set_font(FONT, size=9)
    with pdf.table(col_widths=tuple(c[1] for c in COLUMNS), text_align=tuple(c[2] for c in COLUMNS),
                   v_align="TOP", line_height=5, borders_layout=TableBordersLayout.SINGLE_TOP_LINE) as table:
        table.row(tuple(c[0] for c in COLUMNS))
        for item in doc.lines:
            if item.kind == TAX_KIND:
                continue  # summed per rate under the subtotal
            table.row((_description(item), _period(item),
                       "" if item.quantity is None else number_text(item.quantity),
                       "" if item.unit_price is None else price_text(item.unit_price, places),
                       _text(format_money(item.amount, doc.currency))))
    pdf.ln(4)

    def amount_row(label: str, amount: Decimal, emphasis: str = "") -> None:
        pdf.set_font(FONT, style=emphasis, size=11 if emphasis else 10)
        pdf.cell(width * 0.75, 6, label[:110], align="R")
        pdf.cell(width * 0.25, 6, _text(format_money(amount, doc.currency)), align="R",
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    amount_row("Subtotal", doc.total - doc.tax_amount)
    for label, amount in tax_by_rate(doc):
        amount_row(label, amount)
    amount_row("Total" if is_invoice(doc) else "Total credited", doc.total, "B")
    for n, (label, amount) in enumerate(doc.settlement):
        amount_row(label, amount, "B" if is_invoice(doc) and n == len(doc.settlement) - 1 else "")

    closing = terms(doc)
    if closing:
        pdf.ln(4)
        lines(closing, x=left, w=width, size=10)
    if doc.external_comment.strip():
        pdf.ln(4)
        lines(["Note"], x=left, w=width, style="B", size=11)
        lines([doc.external_comment.strip()], x=left, w=width)
    return bytes(pdf.output())
