"""Alert delivery: terminal, JSON Lines file, webhook (HTTP POST) and e-mail (SMTP).

Payloads come from :func:`alert_payload`: the alert's rule, subject (a pseudonym or a source
name, never a handle), window, severity and evidence (post ids and numbers). Post text is only
included, as a short ``excerpt``, when ``[alerts] excerpt = true``.
"""

from __future__ import annotations

import json
import logging
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

import httpx
from rich.console import Console
from rich.table import Table

from monitor.alerts.evidence import explain
from monitor.clock import utcnow
from monitor.deadline import Deadline, http_client
from monitor.errors import ChannelError, ConfigError, EmomonError
from monitor.failures import summary
from monitor.redact import redact, redact_url
from monitor.retry_after import retry_after_delay
from monitor.settings import EmailChannel as EmailSettings
from monitor.settings import Settings
from monitor.settings import WebhookChannel as WebhookSettings

log = logging.getLogger(__name__)

#: The payload key that carries post text (only with ``[alerts] excerpt = true``).
TEXT_KEY = "excerpt"
REVIEW_NOTE = "For human review: scores of this subject's posts changed. This is not a diagnosis."
USER_AGENT = "emomon-alerts/0.1"
#: The longest wait a webhook's Retry-After can ask for between two attempts.
MAX_RETRY_WAIT = timedelta(seconds=60)


@dataclass
class Budget:
    """The time one run may spend on webhook and e-mail deliveries (``[alerts] delivery_budget_s``).

    Alerts not delivered when it runs out stay pending for the next run.
    """

    seconds: float
    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def remaining(self) -> float:
        """Seconds left (0 once spent)."""
        return max(0.0, self.seconds - (self.clock() - self.started))

    def spent_error(self) -> ChannelError:
        """The error of a delivery stopped because the budget ran out."""
        return ChannelError(
            f"the delivery budget ([alerts] delivery_budget_s = {self.seconds:g} s) is spent; "
            "the alert stays pending for the next run"
        )


def _unbounded() -> Budget:
    return Budget(float("inf"))


def alert_payload(
    alert: Mapping[str, Any],
    excerpts: Mapping[int, str] | None = None,
    posts: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The JSON document sent for one alert: the alert, its explanation and its posts.

    Args:
        alert: An alert as from :func:`monitor.store.alerts.alert_dict`.
        excerpts: Post id -> excerpt; only given when excerpts are switched on.
        posts: The posts behind the alert from :func:`monitor.alerts.evidence.evidence_posts`
            (dates, indexes, top emotions; no text).
    """
    payload = {"type": "emomon.alert", "note": REVIEW_NOTE, **alert, "explanation": explain(alert)}
    if posts is not None:
        payload["posts"] = [dict(p) for p in posts]
    if excerpts is not None:
        pid = alert.get("trigger_post_id")
        if pid is not None and pid in excerpts:
            payload["excerpt"] = excerpts[pid]
    return payload


class Channel(Protocol):
    """Something that delivers a batch of alert payloads or raises ChannelError.

    ``per_alert`` channels deliver each payload on its own (so a batch can half succeed);
    ``budgeted`` ones go over the network and draw on the run's delivery :class:`Budget`.
    """

    name: str
    per_alert: bool
    budgeted: bool

    def send(self, payloads: Sequence[Mapping[str, Any]], *, budget: Budget | None = None) -> None:
        """Deliver every payload within ``budget``."""


class TerminalChannel:
    """Print new alerts as a table."""

    name = "terminal"
    per_alert = False
    budgeted = False

    def __init__(self, console: Console) -> None:
        self.console = console

    def send(self, payloads: Sequence[Mapping[str, Any]], *, budget: Budget | None = None) -> None:
        """Print one row per alert."""
        table = Table(title=f"{len(payloads)} new alert(s) for review", expand=False)
        for col in ("id", "severity", "rule", "subject", "triggered"):
            table.add_column(col, overflow="fold")
        for p in payloads:
            table.add_row(
                str(p.get("id")),
                str(p["severity"]),
                str(p["rule"]),
                str(p["subject"]),
                str(p["trigger_at"])[:16],
            )
        self.console.print(table)


def without_text(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload without post text (``excerpt``): what the file channel writes. Its file
    outlives retention and exclusion, so it never holds text (see ``emomon purge``)."""
    return {key: value for key, value in payload.items() if key != TEXT_KEY}


class JsonlChannel:
    """Append one JSON object a line to a file (created with its folder if needed), without post
    text even when ``[alerts] excerpt = true`` (:func:`without_text`).

    The file is never one of ``protected`` (the config file, the database, the model directory:
    :meth:`monitor.settings.Settings.protected_paths`), checked on the file opened.
    """

    name = "file"
    per_alert = False
    budgeted = False

    def __init__(self, path: Path, protected: Mapping[Path, str] | None = None) -> None:
        self.path = path
        self.protected = dict(protected or {})

    def send(self, payloads: Sequence[Mapping[str, Any]], *, budget: Budget | None = None) -> None:
        """Append the payloads and flush them to disk."""
        from monitor.safe_write import append_text

        text = "".join(json.dumps(without_text(p), ensure_ascii=False, sort_keys=True) + "\n" for p in payloads)
        try:
            append_text(self.path, text, protected=self.protected)
        except EmomonError as exc:
            raise ChannelError(f"{exc} (channels.file.path)") from exc


class WebhookChannel:
    """POST each payload as JSON; retry network errors, 408, 429 and 5xx with backoff.

    The wait before retry ``n`` (0-based) is ``backoff * 2**n`` seconds, or the server's
    ``Retry-After`` when it sends a usable one (capped at ``MAX_RETRY_WAIT``). Each attempt, all of
    it (connect, request, answer), ends by a :class:`~monitor.deadline.Deadline` of
    ``TOTAL_TIMEOUT_FACTOR * timeout`` seconds; attempts and waits never go past the delivery
    budget: a retry that would is not made.
    """

    name = "webhook"
    per_alert = True
    budgeted = True

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        secret_header: str = "X-Emomon-Secret",
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.shown = redact_url(url)  # how messages and logs name it: no credentials or tokens
        self.secret = secret
        self.secret_header = secret_header
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.attempts = 0  # total HTTP attempts made, for reporting

    @classmethod
    def from_settings(cls, cfg: WebhookSettings, env: Mapping[str, str]) -> WebhookChannel:
        """Build from ``[channels.webhook]``, reading the secret from ``cfg.secret_env``.

        Raises:
            ConfigError: ``secret_env`` names a variable that is not set.
        """
        secret = None
        if cfg.secret_env:
            secret = env.get(cfg.secret_env)
            if not secret:
                raise ConfigError(
                    f"channels.webhook.secret_env = {cfg.secret_env!r}: set that environment "
                    'variable to the shared secret, or set secret_env = "" to send none'
                )
        return cls(
            cfg.url,
            secret=secret,
            secret_header=cfg.secret_header,
            timeout=cfg.timeout,
            retries=cfg.retries,
            backoff=cfg.backoff,
        )

    def send(self, payloads: Sequence[Mapping[str, Any]], *, budget: Budget | None = None) -> None:
        """POST every payload (one request each) within ``budget``."""
        headers = {"User-Agent": USER_AGENT}
        if self.secret:
            headers[self.secret_header] = self.secret
        for p in payloads:
            self._post(headers, p, budget or _unbounded())

    def _attempt(self, headers: Mapping[str, str], payload: Mapping[str, Any], budget: Budget) -> httpx.Response:
        """One POST, ended by its deadline.

        Raises:
            httpx.TransportError: Network error, time-out or deadline passed.
        """
        deadline = Deadline.within(
            self.timeout, "[channels.webhook] timeout", budget.remaining(), "[alerts] delivery_budget_s"
        )
        try:
            with deadline.watch(), http_client(deadline, timeout=self.timeout, headers=headers) as client:
                return client.post(self.url, json=payload)
        except httpx.TransportError as exc:
            if deadline.passed():  # a time-out at, or the watchdog's shutdown after, the deadline
                raise httpx.TimeoutException(deadline.passed_reason()) from exc
            raise

    def _post(self, headers: Mapping[str, str], payload: Mapping[str, Any], budget: Budget) -> None:
        last = ""
        for attempt in range(self.retries + 1):
            if budget.remaining() <= 0:
                raise budget.spent_error()
            self.attempts += 1
            wait = self.backoff * 2**attempt
            try:
                resp = self._attempt(headers, payload, budget)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {redact(str(exc))}"
            else:
                if resp.is_success:
                    return
                last = f"HTTP {resp.status_code}"
                if resp.status_code not in (408, 429) and resp.status_code < 500:
                    raise ChannelError(
                        f"webhook {self.shown} refused the alert with {last}: check channels.webhook.url and the secret"
                    )
                asked = retry_after_delay(resp.headers.get("Retry-After"), now=utcnow(), cap=MAX_RETRY_WAIT)
                if asked is not None:
                    wait = asked.total_seconds()
            if attempt < self.retries:
                if wait >= budget.remaining():
                    raise ChannelError(
                        f"webhook {self.shown} failed ({last}) and a retry in {wait:g} s would pass "
                        f"the delivery budget ([alerts] delivery_budget_s = {budget.seconds:g} s); "
                        "the alert stays pending for the next run"
                    )
                log.warning("webhook %s: %s; retry %d in %.1fs", self.shown, last, attempt + 1, wait)
                self.sleep(wait)
        raise ChannelError(
            f"webhook {self.shown} failed after {self.retries + 1} attempts ({last}); the alerts "
            "are stored: see `emomon alerts list`"
        )


class EmailChannel:
    """Send one digest e-mail per batch over SMTP, with optional STARTTLS and login."""

    name = "email"
    per_alert = False
    budgeted = True

    def __init__(self, cfg: EmailSettings, *, password: str | None = None) -> None:
        self.cfg = cfg
        self.password = password

    @classmethod
    def from_settings(cls, cfg: EmailSettings, env: Mapping[str, str]) -> EmailChannel:
        """Build from ``[channels.email]``, reading the password from ``cfg.password_env``."""
        password = env.get(cfg.password_env) if cfg.password_env else None
        if cfg.username and not password:
            raise ConfigError(
                f"channels.email.username is set but {cfg.password_env or 'password_env'!r} "
                "is not: set the environment variable named by channels.email.password_env"
            )
        return cls(cfg, password=password)

    def message(self, payloads: Sequence[Mapping[str, Any]]) -> EmailMessage:
        """The digest: a plain-text summary and the payloads as an ``alerts.json`` attachment."""
        msg = EmailMessage()
        msg["Subject"] = f"[emomon] {len(payloads)} new alert(s) for review"
        msg["From"] = self.cfg.sender
        msg["To"] = ", ".join(self.cfg.recipients)
        lines = [REVIEW_NOTE, ""]
        for p in payloads:
            ev = p.get("evidence") or {}
            numbers = ", ".join(f"{k}={v}" for k, v in ev.items() if k != "post_ids" and v is not None)
            lines.append(
                f"#{p.get('id')} [{p['severity']}] {p['rule']} {p['subject_kind']} "
                f"{p['subject']} at {p['trigger_at']}: {numbers}"
            )
            if p.get("explanation"):
                lines.append(f"    {p['explanation']}")
            for post in p.get("posts") or []:
                emotions = ", ".join(f"{e['emotion']} {e['p']:.2f}" for e in post["top_emotions"])
                lines.append(f"    {post['created_at'][:16].replace('T', ' ')}  index {post['index']}  {emotions}")
            if "excerpt" in p:
                lines.append(f"    excerpt: {p['excerpt']}")
        lines += [
            "",
            "Details with `emomon alerts show ID`; record what you did with "
            "`emomon alerts ack ID --note TEXT` or `emomon alerts resolve ID --note TEXT`.",
        ]
        msg.set_content("\n".join(lines))
        msg.add_attachment(
            json.dumps(list(payloads), indent=2, ensure_ascii=False).encode(),
            maintype="application",
            subtype="json",
            filename="alerts.json",
        )
        return msg

    def send(self, payloads: Sequence[Mapping[str, Any]], *, budget: Budget | None = None) -> None:
        """Send the digest of ``payloads`` within ``budget``."""
        self.send_message(self.message(payloads), budget=budget)

    def send_message(self, message: EmailMessage, *, budget: Budget | None = None) -> None:
        """Connect, optionally STARTTLS and log in, and send ``message``.

        Every socket operation times out after ``timeout`` seconds, and the whole conversation
        ends by a :class:`~monitor.deadline.Deadline` of ``TOTAL_TIMEOUT_FACTOR * timeout``
        seconds or what is left of ``budget``, whichever is less.
        """
        cfg = self.cfg
        where = f"{cfg.host}:{cfg.port}"
        if budget is not None and budget.remaining() <= 0:
            raise budget.spent_error()
        deadline = Deadline.within(
            cfg.timeout,
            "[channels.email] timeout",
            None if budget is None else budget.remaining(),
            "[alerts] delivery_budget_s",
        )
        try:
            with deadline.watch(), _DeadlineSMTP(deadline, cfg.host, cfg.port, cfg.timeout) as smtp:
                smtp.ehlo()
                if cfg.starttls:
                    if not smtp.has_extn("starttls"):
                        raise ChannelError(
                            f"SMTP server {where} does not offer STARTTLS: set "
                            "channels.email.starttls = false or use a server that does"
                        )
                    context = ssl.create_default_context(cafile=str(cfg.cafile) if cfg.cafile else None)
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if cfg.username:
                    smtp.login(cfg.username, self.password or "")
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            if deadline.passed():  # a time-out at, or the watchdog's shutdown after, the deadline
                raise ChannelError(
                    f"e-mail via {where} failed: {deadline.passed_reason()}; the digest stays pending "
                    "for the next run; check [channels.email] and the mail server"
                ) from exc
            raise ChannelError(f"e-mail via {where} failed: {exc}; check [channels.email]") from exc


class _DeadlineSMTP(smtplib.SMTP):
    """An SMTP client whose connect waits at most until ``deadline`` and whose socket the deadline's
    watchdog shuts down (a greeting or reply sent one byte at a time defeats per-read time-outs)."""

    def __init__(self, deadline: Deadline, host: str, port: int, timeout: float) -> None:
        self.deadline = deadline
        super().__init__(host, port, timeout=timeout)  # connects and reads the greeting

    # smtplib's SMTP_SSL and LMTP override this too; typeshed leaves it out.
    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(host, port, self.deadline.timeout(timeout))  # type: ignore[misc]
        self.deadline.register(sock)
        return sock


def build_channels(settings: Settings, *, console: Console, env: Mapping[str, str]) -> list[Channel]:
    """The channels named in ``[alerts] channels``, configured from ``[channels.*]``."""
    out: list[Channel] = []
    for name in settings.alerts.channels:
        if name == "terminal":
            out.append(TerminalChannel(console))
        elif name == "file":
            out.append(JsonlChannel(settings.channels.file.path, settings.protected_paths()))
        elif name == "webhook":
            out.append(WebhookChannel.from_settings(settings.channels.webhook, env))
        elif name == "email":
            out.append(EmailChannel.from_settings(settings.channels.email, env))
    return out


@dataclass(frozen=True)
class Outcome:
    """What one channel did with a batch: the first ``sent`` payloads went out."""

    sent: int
    error: str | None = None


def deliver(
    channels: Sequence[Channel], payloads: Sequence[Mapping[str, Any]], budget: Budget | None = None
) -> dict[str, str]:
    """Send ``payloads`` through every channel; one failing channel does not stop the others.

    Returns:
        Channel name -> ``"ok"``, ``"nothing to send"`` or the error message.
    """
    budget = budget or _unbounded()
    results: dict[str, str] = {}
    for ch in channels:
        if not payloads:
            results[ch.name] = "nothing to send"
            continue
        outcome = send_through(ch, payloads, budget)
        results[ch.name] = outcome.error or "ok"
    return results


def send_through(channel: Channel, payloads: Sequence[Mapping[str, Any]], budget: Budget) -> Outcome:
    """Send a batch through one channel within ``budget``; never raises.

    A ``per_alert`` channel stops at its first failure (the rest of the batch is not tried,
    so a broken endpoint costs one alert's retries, not every alert's).
    """
    batches = [[p] for p in payloads] if channel.per_alert else [list(payloads)]
    sent = 0
    for batch in batches:
        try:
            if channel.budgeted and budget.remaining() <= 0:
                raise budget.spent_error()
            channel.send(batch, budget=budget)
        except ChannelError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - one channel's failure must not stop the stage
            log.debug("alert channel %s failed", channel.name, exc_info=True)
            error = f"{channel.name} failed with {summary(exc)}"
        else:
            sent += len(batch)
            continue
        error = " ".join(error.split())
        # The caller reports it (the stage's message, the run's one error line); logged for the scheduler's log.
        log.info("alert channel %s: %s", channel.name, error)
        return Outcome(sent, error)
    return Outcome(sent)
