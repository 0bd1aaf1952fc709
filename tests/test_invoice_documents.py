"""Invoice PDFs and their e-mail delivery: rendered text read back, a real local SMTP server, the outbox folder.

No database: documents are built by hand, as the caller would build them from a billing.
"""

import dataclasses
import email
import email.policy
import io
import socket
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pypdf import PdfReader

from domain.invoice_pdf import InvoiceDocument, InvoiceLine, Issuer, render_invoice_pdf
from domain.mailer import DeliveryFailed, invoice_message, send

INTERNAL_MARKER = "INTERNAL-ONLY-7f3a"  # an internal note that exists only outside the document


ISSUER = Issuer("billrun demo company", ("100 Demo Street, Suite 4", "Austin, TX 78701"), "US EIN 12-3456789",
                "billing@demo.example | +1 512 555 0100")
JAN = (date(2024, 1, 1), date(2024, 1, 31))


def _line(description: str, amount: str, kind: str, **facts: Any) -> InvoiceLine:
    return InvoiceLine(description, Decimal(amount), kind, period_start=JAN[0], period_end=JAN[1], **facts)


def _document(**changes: Any) -> InvoiceDocument:
    billing = {  # a billing as the database would hold it, internal comment included
        "number": "INV-00000001", "internal_comment": f"{INTERNAL_MARKER} customer disputes everything",
        "external_comment": "Thank you for your business.",
    }
    doc = InvoiceDocument(
        number=billing["number"], invoice_date=date(2024, 1, 31), due_date=date(2024, 3, 1), currency="USD",
        issuer=ISSUER, account_number="ACC-42", account_name="Globex Corporation",
        billing_email="ap@globex.example", bill_to_address=("1 Globex Plaza", "Springfield, OR 97477"),
        period_start=JAN[0], period_end=JAN[1],
        lines=(_line("Monthly platform fee", "1234.50", "RECURRING", quantity=Decimal("3"),
                     unit_price=Decimal("411.50"), days_billed=31, days_in_period=31),
               _line("Setup work", "100.00", "WORK_ORDER", quantity=Decimal("2.5"), unit_price=Decimal("40")),
               _line("State sales tax", "100.09", "TAX", tax_rate=Decimal("0.075"), tax_base=Decimal("1334.50"))),
        tax_amount=Decimal("100.09"), total=Decimal("1434.59"), external_comment=billing["external_comment"],
        settlement=(("Amount paid", Decimal("400.00")), ("Amount due", Decimal("1034.59"))),
        payment_terms_days=30,
    )
    return dataclasses.replace(doc, **changes)


def _pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _pdf_attachment(message: EmailMessage) -> tuple[str | None, bytes]:
    part = next(p for p in message.iter_attachments() if p.get_content_type() == "application/pdf")
    return part.get_filename(), part.get_content()


def _folder(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def _read_eml(path: str) -> EmailMessage:
    parsed = email.message_from_bytes(Path(path).read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Collector:
    """An aiosmtpd handler that keeps every envelope; refuses recipients in `refuse`."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.envelopes: list[Any] = []
        self.refuse = refuse

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Collector, int]]:
    handler = _Collector(refuse=frozenset({"nobody@globex.example"}))
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_pdf_shows_the_invoice_and_only_what_the_customer_may_see() -> None:
    assert "internal_comment" not in {f.name for f in dataclasses.fields(InvoiceDocument)}
    text = _pdf_text(render_invoice_pdf(_document()))
    for expected in ("Invoice INV-00000001", "1,434.59 USD", "100.09 USD", "1,334.50 USD", "Monthly platform fee",
                     "State sales tax", "Thank you for your business.", "Globex Corporation", "ACC-42",
                     "ap@globex.example", "2024-01-31", "2024-03-01", "billrun demo company"):
        assert expected in text, expected
    assert INTERNAL_MARKER not in text


def test_pdf_carries_what_a_customer_would_accept() -> None:
    """Issuer, bill-to, dates, each line's period, quantity, unit price and amount, totals, terms."""
    text = _pdf_text(render_invoice_pdf(_document()))
    lines = text.splitlines()
    for expected in ("billrun demo company", "100 Demo Street, Suite 4", "Austin, TX 78701",
                     "Tax ID: US EIN 12-3456789", "billing@demo.example | +1 512 555 0100",  # the issuer
                     "Bill to", "Globex Corporation", "1 Globex Plaza", "Springfield, OR 97477",  # the bill-to
                     "Invoice date: 2024-01-31", "Due date: 2024-03-01"):
        assert expected in lines, (expected, lines)
    assert "Description Period Qty Unit price Amount" in lines
    assert "Monthly platform fee 2024-01-01 to 2024-01-31 3 411.50 1,234.50 USD" in lines
    assert "Setup work 2024-01-01 to 2024-01-31 2.5 40.00 100.00 USD" in lines
    assert "Subtotal 1,334.50 USD" in lines
    assert "State sales tax at 7.5% on 1,334.50 USD 100.09 USD" in lines  # tax by rate, with its base
    assert "Total 1,434.59 USD" in lines
    assert "Amount paid 400.00 USD" in lines and "Amount due 1,034.59 USD" in lines
    assert "Payment terms: Net 30 days. Please pay by 2024-03-01, quoting invoice INV-00000001." in lines
    assert "Auto-pay" not in text  # only for an account paying by token
    assert "Page 1 of 1" in text
    autopay = _pdf_text(render_invoice_pdf(_document(autopay=True)))
    assert "Auto-pay: this invoice is charged to the payment method on file; no payment is needed from you." in (
        autopay.splitlines())


def test_tax_is_summed_per_rate_and_prorated_lines_say_so() -> None:
    doc = _document(lines=(
        _line("Container rental", "50.00", "RECURRING", quantity=Decimal("1"), unit_price=Decimal("100"),
              days_billed=15, days_in_period=30),
        _line("City tax", "2.00", "TAX", tax_rate=Decimal("0.04"), tax_base=Decimal("50.00")),
        _line("County tax", "1.00", "TAX", tax_rate=Decimal("0.02"), tax_base=Decimal("50.00")),
        _line("Other city tax", "2.00", "TAX", tax_rate=Decimal("0.04"), tax_base=Decimal("50.00"))),
        tax_amount=Decimal("5.00"), total=Decimal("55.00"))
    lines = _pdf_text(render_invoice_pdf(doc)).splitlines()
    assert "City tax; Other city tax at 4% on 100.00 USD 4.00 USD" in lines
    assert "County tax at 2% on 50.00 USD 1.00 USD" in lines
    assert any(line.startswith("Container rental (prorated: 15 of 30 days)") for line in lines), lines


def test_long_invoice_numbers_its_pages_and_repeats_the_table_header() -> None:
    lines = tuple(_line(f"Service line {n}", "10.00", "MANUAL", quantity=Decimal("1"), unit_price=Decimal("10"))
                  for n in range(60))
    pdf = render_invoice_pdf(_document(lines=lines, tax_amount=Decimal("0"), total=Decimal("600.00")))
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
    assert len(pages) == 2
    for n, page in enumerate(pages, start=1):
        assert f"Page {n} of 2" in page
        assert "Description Period Qty Unit price Amount" in page.splitlines()
    assert "Service line 59" in pages[1] and "Total 600.00 USD" in pages[1]


def test_credit_note_carries_the_invoice_it_credits_its_reason_and_split() -> None:
    lines = tuple(_line(f"Credit of line {n}", "5.00", "MANUAL", quantity=Decimal("1"), unit_price=Decimal("5"))
                  for n in range(60))
    doc = _document(number="CN-00000007", title="Credit note", lines=lines, tax_amount=Decimal("0"),
                    total=Decimal("300.00"), payment_terms_days=None,
                    references=("Credits invoice INV-00000001 of 2024-01-31", "Reason: billing error"),
                    settlement=(("Applied to invoice INV-00000001", Decimal("200.00")),
                                ("Account credit", Decimal("60.00")), ("Refund", Decimal("40.00"))))
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(render_invoice_pdf(doc))).pages]
    first = pages[0].splitlines()
    for expected in ("Credit note CN-00000007", "Credit note date: 2024-01-31", "Credits invoice INV-00000001 of "
                     "2024-01-31", "Reason: billing error", "Tax ID: US EIN 12-3456789", "1 Globex Plaza",
                     "Credit of line 0 2024-01-01 to 2024-01-31 1 5.00 5.00 USD"):
        assert expected in first, (expected, first)
    assert "Due date" not in pages[0] and "Payment terms" not in pages[0]
    last = pages[-1].splitlines()
    for expected in ("Total credited 300.00 USD", "Applied to invoice INV-00000001 200.00 USD",
                     "Account credit 60.00 USD", "Refund 40.00 USD"):
        assert expected in last, (expected, last)
    assert [f"Page {n} of 2" in page for n, page in enumerate(pages, start=1)] == [True, True]


def test_same_document_renders_the_same_bytes() -> None:
    assert render_invoice_pdf(_document()) == render_invoice_pdf(_document())
    assert render_invoice_pdf(_document()) != render_invoice_pdf(_document(total=Decimal("1434.60")))


def test_text_outside_latin1_and_long_descriptions_do_not_break_rendering() -> None:
    doc = _document(account_name="Zoë 東京 Łódź €", issuer=Issuer("Ünïcode ☃ GmbH"), external_comment="",
                    lines=(InvoiceLine("very long description " * 100, Decimal("1"), "MISC"),) * 40)
    pdf = render_invoice_pdf(doc)
    text = _pdf_text(pdf)
    assert "Zoë" in text and "INV-00000001" in text
    assert len(PdfReader(io.BytesIO(pdf)).pages) > 1


async def test_send_delivers_through_smtp(smtp_server: tuple[_Collector, int]) -> None:
    handler, port = smtp_server
    doc = _document()
    message = invoice_message(doc, render_invoice_pdf(doc), sender="Billing <billing@billrun.example>")
    sent = await send(message, smtp_url=f"smtp://127.0.0.1:{port}", outbox_dir=Path("/nonexistent"))
    assert (sent.channel, sent.message_id, sent.path) == ("SMTP", "<invoice-INV-00000001@billrun.example>", None)
    [envelope] = handler.envelopes
    assert envelope.rcpt_tos == ["ap@globex.example"]
    assert envelope.mail_from == "billing@billrun.example"
    received = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(received, EmailMessage)
    assert received["Subject"] == "Invoice INV-00000001 from billrun demo company"
    assert received["Message-ID"] == "<invoice-INV-00000001@billrun.example>"
    assert received["Date"] is not None
    body = received.get_body(preferencelist=("plain",))
    assert body is not None and "1,434.59 USD" in body.get_content()
    filename, pdf = _pdf_attachment(received)
    assert filename == "INV-00000001.pdf"
    text = _pdf_text(pdf)
    assert "INV-00000001" in text and "1,434.59 USD" in text


async def test_refused_recipient_raises_delivery_failed(smtp_server: tuple[_Collector, int]) -> None:
    _, port = smtp_server
    doc = _document(billing_email="nobody@globex.example")
    message = invoice_message(doc, render_invoice_pdf(doc), sender="billing@billrun.example")
    with pytest.raises(DeliveryFailed, match="550"):
        await send(message, smtp_url=f"smtp://127.0.0.1:{port}", outbox_dir=Path("/nonexistent"))


async def test_unreachable_smtp_raises_delivery_failed(tmp_path: Path) -> None:
    doc = _document()
    message = invoice_message(doc, render_invoice_pdf(doc), sender="billing@billrun.example")
    with pytest.raises(DeliveryFailed, match=r"127\.0\.0\.1"):
        await send(message, smtp_url=f"smtp://127.0.0.1:{_free_port()}", outbox_dir=tmp_path)
    assert _folder(tmp_path) == []


async def test_without_smtp_the_message_is_written_to_the_outbox(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    doc = _document()
    message = invoice_message(doc, render_invoice_pdf(doc), sender="billing@billrun.example")
    sent = await send(message, smtp_url=None, outbox_dir=outbox)
    assert sent.channel == "OUTBOX_FILE" and sent.path == str(outbox / "INV-00000001.eml")
    again = await send(message, smtp_url=None, outbox_dir=outbox)  # a resend overwrites the same file
    assert again == sent
    assert _folder(outbox) == ["INV-00000001.eml"]  # no temporary file left behind
    assert sent.path is not None
    parsed = _read_eml(sent.path)
    assert parsed["To"] == "ap@globex.example" and parsed["Message-ID"] == sent.message_id
    _, pdf = _pdf_attachment(parsed)
    assert "1,434.59 USD" in _pdf_text(pdf)
