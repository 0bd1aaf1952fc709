"""Render page 1 of a demo-like invoice to docs/invoice.png (`make invoice-picture`).

The document is built the way `domain.sending.documents` builds one from a posted billing of the demo data
(Acme Hauling, paying by token): the issuer comes from the settings' defaults, the lines carry their periods,
quantities and unit prices as their traces give them. pypdfium2 rasterizes the PDF, so no system tool is needed.
"""

import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdfium2

from domain.invoice_pdf import InvoiceDocument, InvoiceLine, render_invoice_pdf
from domain.sending import issuer

MAY = (date(2024, 5, 1), date(2024, 5, 31))


def demo_invoice() -> InvoiceDocument:
    def line(description: str, amount: str, kind: str = "RECURRING", **facts: Any) -> InvoiceLine:
        return InvoiceLine(description, Decimal(amount), kind, period_start=MAY[0], period_end=MAY[1], **facts)

    lines = (
        line("Weekly collection", "20.00", quantity=Decimal("1"), unit_price=Decimal("20.00"), days_billed=31,
             days_in_period=31),
        line("Container rental", "100.00", quantity=Decimal("1"), unit_price=Decimal("100.00"), days_billed=31,
             days_in_period=31),
        line("Extra pickup (work order WO-1001-1)", "90.00", "WORK_ORDER", quantity=Decimal("2"),
             unit_price=Decimal("45.00")),
        line("Tax (TX-AUSTIN)", "17.33", "TAX", tax_rate=Decimal("0.0825"), tax_base=Decimal("210.00")),
    )
    return InvoiceDocument(
        number="INV-00000001", invoice_date=MAY[1], due_date=date(2024, 6, 30), currency="USD", issuer=issuer(),
        account_number="C-1001", account_name="Acme Hauling", billing_email="billing+c-1001@example.com",
        bill_to_address=("12 Freight Lane", "Austin, TX 78741"), period_start=MAY[0], period_end=MAY[1],
        lines=lines, tax_amount=Decimal("17.33"), total=Decimal("227.33"),
        settlement=(("Amount paid", Decimal("0.00")), ("Amount due", Decimal("227.33"))), payment_terms_days=30,
        autopay=True, external_comment="Thank you for your business.")


def main(target: str) -> None:
    pdf = pypdfium2.PdfDocument(render_invoice_pdf(demo_invoice()))
    image = pdf[0].render(scale=150 / 72).to_pil()  # 150 dpi
    image.save(target, optimize=True)
    print(f"wrote {target} ({image.width}x{image.height})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).resolve().parent.parent / "docs" / "invoice.png"))
