"""Invoice e-mail: build the message (PDF attached) and deliver it by SMTP, or into an outbox folder.

Delivery is separate from building so a message can be inspected, stored or resent as is. The Message-ID comes
from the invoice number, so a resend is recognisably the same message. Without an SMTP server configured (the
embedded default, development) each message is written as an .eml file instead, atomically, one file per
invoice: a resend overwrites it and a crash never leaves half a file.
"""

import asyncio
import os
import re
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from domain import clock
from domain.invoice_pdf import InvoiceDocument, format_money, is_invoice

INVOICE_HEADER = "X-Billrun-Invoice"  # the invoice number, which names the outbox file
SMTP_TIMEOUT = 30.0  # seconds


@dataclass(frozen=True)
class Sent:
    """Where a message went: channel "SMTP" (path None) or "OUTBOX_FILE" (path of the .eml file)."""

    channel: str
    message_id: str
    path: str | None


class DeliveryFailed(Exception):
    """The message could not be delivered: the SMTP server refused it or could not be reached."""


def _one_line(value: str) -> str:
    """A header-safe value: no line breaks, single spaces."""
    return " ".join(value.split())


def _safe_name(value: str) -> str:
    """A file-name and Message-ID-safe form of an invoice number."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", value).lstrip(".") or "invoice"


def invoice_message(doc: InvoiceDocument, pdf: bytes, *, sender: str) -> EmailMessage:
    """The invoice (or credit note) e-mail to the account's billing address, with the PDF attached as
    `<number>.pdf`."""
    if not doc.billing_email.strip():
        raise ValueError(f"invoice {doc.number} has no billing e-mail address")
    domain = parseaddr(sender)[1].rpartition("@")[2] or "billrun.invalid"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = doc.billing_email.strip()
    message["Subject"] = _one_line(f"{doc.title} {doc.number} from {doc.issuer.name}")
    message["Date"] = format_datetime(clock.now())
    kind = doc.title.lower().replace(" ", "-")
    message["Message-ID"] = f"<{kind}-{_safe_name(doc.number)}@{domain}>"
    message[INVOICE_HEADER] = _one_line(doc.number)
    body = [
        f"Dear {_one_line(doc.account_name)},",
        "",
        f"please find attached {doc.title.lower()} {doc.number} for {doc.period_start.isoformat()} to "
        f"{doc.period_end.isoformat()}.",
        *doc.references,
        "",
        f"Total: {format_money(doc.total, doc.currency)}",
    ]
    if is_invoice(doc):
        body.append(f"Due date: {doc.due_date.isoformat()}")
    if doc.external_comment.strip():
        body += ["", doc.external_comment.strip()]
    body += ["", doc.issuer.name, ""]
    message.set_content("\n".join(body))
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"{_safe_name(doc.number)}.pdf")
    return message


async def send(message: EmailMessage, *, smtp_url: str | None, outbox_dir: Path) -> Sent:
    """Deliver `message` through the SMTP server at `smtp_url`, or without one write it into `outbox_dir`."""
    message_id = str(message["Message-ID"] or "")
    if smtp_url:
        await _send_smtp(message, smtp_url)
        return Sent(channel="SMTP", message_id=message_id, path=None)
    name = str(message[INVOICE_HEADER] or message_id.strip("<>").partition("@")[0])
    if not name:
        raise ValueError(f"a message for the outbox needs an {INVOICE_HEADER} or Message-ID header")
    path = outbox_dir / f"{_safe_name(name)}.eml"
    try:
        await asyncio.to_thread(_write_atomically, path, message.as_bytes())
    except OSError as exc:
        raise DeliveryFailed(f"could not write {path}: {exc}") from exc
    return Sent(channel="OUTBOX_FILE", message_id=message_id, path=str(path))


async def _send_smtp(message: EmailMessage, smtp_url: str) -> None:
    url = urlsplit(smtp_url)
    if url.scheme not in ("smtp", "smtps") or not url.hostname:
        raise ValueError("the SMTP URL must look like smtp://user:pass@host:port or smtps://host:port")
    implicit_tls = url.scheme == "smtps"
    starttls = not implicit_tls and parse_qs(url.query).get("starttls", ["0"])[-1].lower() in ("1", "true", "yes")
    port = url.port or (465 if implicit_tls else 25)
    try:
        errors, _ = await aiosmtplib.send(
            message,
            hostname=url.hostname,
            port=port,
            username=unquote(url.username) if url.username else None,
            password=unquote(url.password) if url.password is not None else None,
            use_tls=implicit_tls,
            start_tls=starttls,
            timeout=SMTP_TIMEOUT,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:  # OSError covers refused connections, DNS, TLS, timeouts
        raise DeliveryFailed(f"SMTP delivery via {url.hostname}:{port} failed: {exc}") from exc
    if errors:  # some recipients refused (all refused raises above)
        refused = ", ".join(f"{rcpt} ({response.code} {response.message})" for rcpt, response in errors.items())
        raise DeliveryFailed(f"SMTP server {url.hostname}:{port} refused {refused}")


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder, so readers see all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
