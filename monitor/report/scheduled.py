"""Where a scheduled report goes besides the log: an HTML file and an e-mail to the team.

``[schedule] report_output`` names the HTML file (``{date}`` becomes the run's date) and
``[schedule] report_email`` the recipients; the mail goes through the ``[channels.email]``
server with the HTML report attached and the Markdown report as its body.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path

from monitor.clock import utcnow
from monitor.report.data import ReportData
from monitor.report.html import to_html
from monitor.report.text import to_markdown
from monitor.settings import Settings


def output_path(settings: Settings, day: str) -> Path | None:
    """The file ``[schedule] report_output`` names for ``day`` (relative to the config), or None."""
    pattern = settings.schedule.report_output
    if not pattern:
        return None
    path = Path(pattern.format(date=day)).expanduser()
    return path if path.is_absolute() else settings.base_dir / path


def report_message(data: ReportData, settings: Settings, html: str, day: str) -> EmailMessage:
    """The report e-mail: Markdown body, the HTML report attached."""
    msg = EmailMessage()
    msg["Subject"] = f"[emomon] trend report {day}"
    msg["From"] = settings.channels.email.sender
    msg["To"] = ", ".join(settings.schedule.report_email)
    msg.set_content(to_markdown(data))
    msg.add_attachment(html.encode("utf-8"), maintype="text", subtype="html", filename=f"emomon-report-{day}.html")
    return msg


def send_scheduled_report(data: ReportData, settings: Settings, env: Mapping[str, str]) -> list[str]:
    """Write and/or mail the report as configured; one line per thing done, for the log.

    Raises:
        EmomonError: The file cannot be written, or the mail cannot be sent (the message says
            which and why).
    """
    from monitor.alerts.channels import EmailChannel
    from monitor.safe_write import write_text_atomic

    day = utcnow().date().isoformat()
    path = output_path(settings, day)
    recipients = settings.schedule.report_email
    if path is None and not recipients:
        return []
    html = to_html(data)
    done = []
    if path is not None:
        write_text_atomic(path, html, protected=settings.protected_paths())
        done.append(f"report written to {path}")
    if recipients:
        channel = EmailChannel.from_settings(settings.channels.email, env)
        channel.send_message(report_message(data, settings, html, day))
        done.append(f"report mailed to {len(recipients)} recipient(s)")
    return done
