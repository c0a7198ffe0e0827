"""Mail through SMTP with aiosmtplib: one message per recipient, so a recipient the
server rejects never holds up another. SMTP errors become ``NotificationError``s with a
bounded reason: 4xx and network trouble are retryable, 5xx is not."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from agents.notify.settings import NotifySettings
from detector.errors import NotificationError
from detector.notify.grouping import Notification
from detector.notify.render import Mail

MAILTO = "mailto:"


class EmailNotifier:
    channel = "email"

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings

    def message(self, notification: Notification, mail: Mail) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.settings.mail_from
        msg["To"] = notification.recipient.removeprefix(MAILTO)
        msg["Subject"] = mail.subject
        # The same notification always has the same id, so a re-send after a crash is
        # recognisable (and collapsed by many mail clients) as the same mail.
        msg["Message-ID"] = f"<{notification.key}@integration-health>"
        msg.set_content(mail.text)
        msg.add_alternative(mail.html, subtype="html")
        return msg

    async def send(self, notification: Notification, mail: Mail, links: dict[str, str]) -> None:
        s = self.settings
        password = s.smtp_password.get_secret_value() if s.smtp_password else None
        try:
            await aiosmtplib.send(
                self.message(notification, mail),
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_user,
                password=password if s.smtp_user else None,
                use_tls=s.smtp_tls == "tls",
                start_tls=s.smtp_tls == "starttls",
                timeout=s.smtp_timeout,
            )
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            error = classify(exc)
            raise NotificationError(
                error.reason, _redact(error.detail, password), retryable=error.retryable
            ) from None


def classify(exc: BaseException) -> NotificationError:
    """The reason and retryability of an SMTP failure."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        return _by_code(exc.recipients[0].code, str(exc.recipients[0]))
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return NotificationError("auth", f"login refused: {exc.message}", retryable=False)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _by_code(exc.code, f"{exc.code} {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return NotificationError("timeout", "the SMTP server did not answer", retryable=True)
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return NotificationError("disconnected", str(exc), retryable=True)
    if isinstance(exc, aiosmtplib.SMTPConnectError | OSError):
        return NotificationError("refused", f"cannot connect: {exc}", retryable=True)
    return NotificationError("other", str(exc), retryable=True)


def _by_code(code: int, detail: str) -> NotificationError:
    if 400 <= code < 500:
        return NotificationError("temporary", detail, retryable=True)
    return NotificationError("rejected", detail, retryable=False)


def _redact(detail: str, secret: str | None) -> str:
    return detail.replace(secret, "********") if secret else detail
