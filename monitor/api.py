"""The front door: :class:`Emomon`, one object for notebooks, scripts and the command line.

Every method calls the stage and store functions the ``emomon`` commands call, with the same
settings, locks and errors, so ``Emomon(config).predict(texts)`` gives the numbers ``emomon
predict`` prints and ``Emomon(config).scores()`` the rows ``emomon export`` writes. Nothing heavy
is imported here: the database, polars and the model load on first use. See ``docs/api.md``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from monitor.errors import ConfigError, EmomonError

if TYPE_CHECKING:
    import polars as pl
    from rich.console import Console
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from monitor.ingest.stage import IngestReport
    from monitor.model.predictor import Predictor
    from monitor.pipeline import RunResult
    from monitor.report.author import AuthorView
    from monitor.report.data import ReportData
    from monitor.score.stage import ScoreReport
    from monitor.settings import Settings, SourceSettings
    from monitor.store.alerts import AlertPage
    from monitor.store.review import Identity
    from monitor.store.users import Account

#: A point in time: a ``datetime`` (naive means UTC), a ``date`` (midnight UTC) or an ISO string.
When = datetime | date | str | None
#: What :meth:`Emomon.act` records: the new status (or its short command name).
Action = Literal["acknowledged", "resolved", "ack", "resolve"]
#: What a reviewer concluded when resolving an alert (:meth:`Emomon.act`).
Verdict = Literal["true_alarm", "false_alarm", "unsure"]
#: The file formats of :meth:`Emomon.export`.
EXPORT_FORMATS: tuple[str, ...] = ("parquet", "csv", "jsonl")
ALERT_STATUSES: tuple[str, ...] = ("new", "acknowledged", "resolved")
_ACTIONS = {"ack": "acknowledged", "resolve": "resolved", "acknowledged": "acknowledged", "resolved": "resolved"}
#: How the store's score columns are named in :meth:`Emomon.scores` (prefix in the store -> name).
_PREFIXES = {"goemo_": "goemotions_"}


class Emomon:
    """One emomon installation: its settings, its database and its model.

    Args:
        config: A config file (path), loaded :class:`~monitor.settings.Settings`, or None for the
            file the command line would find (``EMOMON_CONFIG``, ``./config.toml``, then
            ``$XDG_CONFIG_HOME/emomon/config.toml``).
        database: A database URL that replaces ``[database] url`` (as ``--db`` does).
        env: Environment for ``EMOMON_*`` overrides and channel secrets (default ``os.environ``).
        engine: An engine on the configured database to reuse (its schema already checked).

    Raises:
        ConfigError: The config file is missing or invalid, or none was found.

    Example:
        >>> from monitor import Emomon
        >>> em = Emomon("config.toml")
        >>> em.scores(since="2025-01-01").head()  # doctest: +SKIP
    """

    def __init__(
        self,
        config: Settings | str | os.PathLike[str] | None = None,
        *,
        database: str | None = None,
        env: Mapping[str, str] | None = None,
        engine: Engine | None = None,
    ) -> None:
        self._env: Mapping[str, str] = os.environ if env is None else env
        self._settings = _load(config, database, self._env)
        self._engine: Engine | None = engine
        self._predictors: dict[tuple[str | None, str | None], Predictor] = {}

    def __repr__(self) -> str:
        return f"Emomon({str(self._settings.path) if self._settings.path else 'built-in settings'!r})"

    @property
    def settings(self) -> Settings:
        """The validated settings."""
        return self._settings

    @property
    def engine(self) -> Engine:
        """The database engine: a new database is created at the head revision, an old one refused
        ("schema out of date: run `emomon db upgrade`")."""
        if self._engine is None:
            from monitor.store.engine import open_store

            self._engine = open_store(self._settings)
        return self._engine

    def close(self) -> None:
        """Release the database connections (the object can still be used; they reopen)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> Emomon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the model -------------------------------------------------------------------------

    def predictor(self, *, model: str | os.PathLike[str] | None = None, device: str | None = None) -> Predictor:
        """The configured model, loaded once with the ``[scoring]`` device, precision, windows and
        index weights (what ``emomon predict`` and ``emomon score`` use).

        Args:
            model: A model directory instead of ``[model] path``.
            device: ``cpu``, ``cuda``, ``mps`` or ``auto`` instead of ``[scoring] device``.

        Raises:
            ModelNotFound: The model directory is missing, incomplete or damaged.
        """
        key = (None if model is None else str(model), device)
        if key not in self._predictors:
            from monitor.model.configured import load_predictor

            self._predictors[key] = load_predictor(
                self._settings, model=None if model is None else Path(model), device=device
            )
        return self._predictors[key]

    def predict(
        self, texts: str | Iterable[str], *, model: str | os.PathLike[str] | None = None, device: str | None = None
    ) -> list[dict[str, Any]]:
        """Score texts: one dict per text with ``depression_index``, ``distress`` (models with the
        head), ``carer`` and ``goemotions`` probabilities, their labels, and ``big5``.

        Args:
            texts: One text or several.
            model: A model directory instead of ``[model] path``.
            device: Where the model runs instead of ``[scoring] device``.
        """
        items = [texts] if isinstance(texts, str) else list(texts)
        if not items:
            return []
        return self.predictor(model=model, device=device).predict(items)

    # -- the stages ------------------------------------------------------------------------

    def ingest(
        self,
        sources: Sequence[str] = (),
        *,
        kind: str | None = None,
        progress: Callable[[str, int], None] | None = None,
    ) -> IngestReport:
        """Read sources into the database (under the run lock).

        Args:
            sources: Names of configured sources, or paths, globs and feed URLs; empty reads every
                enabled configured source.
            kind: The format of the paths or URLs given (guessed from the name when None).
            progress: Called with (source name, records read so far).

        Returns:
            The per-source counts; ``report.ok`` is False when a source failed as a whole.

        Raises:
            EmomonError: No source was given and none is enabled, or a name is neither a configured
                source nor a path, glob or URL (a mistyped source name).
            RunLocked: Another run kept the lock past ``[schedule] lock_timeout``.
        """
        from monitor.ingest.stage import ingest
        from monitor.store.runs import exclusive

        chosen = self._sources(sources, kind)
        with exclusive(self._settings, self.engine, label="ingest"):
            return ingest(self.engine, self._settings, chosen, progress=progress)

    def _sources(self, names: Sequence[str], kind: str | None) -> list[SourceSettings]:
        """The sources ``names`` stand for (configured ones by name or location), each once."""
        from monitor.ingest.registry import find_configured
        from monitor.ingest.stage import adhoc_source, with_kind

        settings = self._settings
        if not names:
            enabled = [s for s in settings.sources if s.enabled]
            if not enabled:
                raise EmomonError("no sources to ingest: add [[sources]] to the config or name paths/URLs")
            return enabled
        chosen: dict[str, SourceSettings] = {}  # by name: a source named twice is read once
        for name in names:
            configured = settings.source(name) or find_configured(settings.sources, name)
            if configured is None:
                _require_location(name, [s.name for s in settings.sources])
            source = with_kind(configured, kind) if configured else adhoc_source(name, kind)
            chosen.setdefault(source.name, source)
        return list(chosen.values())

    def score(
        self,
        *,
        limit: int | None = None,
        rescore: bool = False,
        model: str | os.PathLike[str] | None = None,
        device: str | None = None,
        batch_tokens: int | None = None,
        engine: str | None = None,
        address: str | None = None,
        on_total: Callable[[int], None] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ScoreReport:
        """Score every stored post without a current score (under the run lock).

        Args:
            limit: Score at most this many posts now (the rest stays for the next call).
            rescore: Also re-score posts scored by another model version.
            model: A model directory instead of ``[model] path``.
            device: Where the model runs instead of ``[scoring] device``.
            batch_tokens: Tokens per forward batch instead of ``[scoring] batch_tokens``.
            engine: ``local`` or ``ray`` instead of ``[scoring] engine``.
            address: The Ray cluster to join (with ``engine="ray"``).
            on_total: Called once with the number of posts to score.
            progress: Called with the number of posts each written chunk held.

        Raises:
            ModelNotFound: The model directory is missing, incomplete or damaged.
            RunLocked: Another run kept the lock past ``[schedule] lock_timeout``.
        """
        from monitor.score.stage import run_engine
        from monitor.store.runs import exclusive

        kind = engine or self._settings.scoring.engine
        if address is not None and kind != "ray":
            raise EmomonError("a Ray address needs the ray engine: pass engine='ray'", argument="engine")
        options: dict[str, Any] = {
            "model": None if model is None else Path(model),
            "limit": limit,
            "rescore": rescore,
            "device": device,
            "batch_tokens": batch_tokens,
            "on_total": on_total,
            "progress": progress,
        }
        with exclusive(self._settings, self.engine, label="score"):
            return run_engine(self.engine, self._settings, kind=kind, address=address, **options)

    def run(
        self,
        stages: Sequence[str] | None = None,
        *,
        console: Console | None = None,
        lock_timeout: float | None = None,
        now: datetime | None = None,
    ) -> RunResult:
        """Run the stages once, in order (ingest, score, alerts, purge, report): ``emomon run``.

        Args:
            stages: Stage names (default all); see :data:`monitor.pipeline.STAGE_NAMES`.
            console: Where the terminal channel and the report print (default: nowhere).
            lock_timeout: Seconds to wait for another run's lock instead of ``[schedule] lock_timeout``.
            now: Reference time for alerts and retention.

        Returns:
            One result per stage; ``result.ok`` is False when a stage failed (the later ones ran).

        Raises:
            RunLocked: Another run kept the lock past the timeout.
        """
        from monitor.pipeline import STAGE_NAMES, run_stages

        settings = self._settings
        if lock_timeout is not None:
            settings = settings.model_copy(
                update={"schedule": settings.schedule.model_copy(update={"lock_timeout": lock_timeout})}
            )
        if console is None:
            from monitor.safe_text import console as safe_console

            console = safe_console(file=io.StringIO())
        return run_stages(settings, stages or STAGE_NAMES, engine=self.engine, console=console, env=self._env, now=now)

    # -- reading ---------------------------------------------------------------------------

    def scores(
        self,
        since: When = None,
        until: When = None,
        source: str | None = None,
        author: str | None = None,
        *,
        model_version: str | None = None,
        with_text: bool = False,
    ) -> pl.DataFrame:
        """One row per scored post, oldest first (skipped posts are left out).

        Columns: ``post_id``, ``source`` (name), ``author`` (pseudonym, never a handle),
        ``created_at`` (UTC), ``model_version``, ``depression_index``, ``distress`` (null for
        models without the head), ``goemotions_<label>`` (28), ``carer_<label>`` (6) and
        ``big5_<trait>`` (5); with ``with_text`` also ``text`` (null once purged).

        Args:
            since: Only posts created at or after this time.
            until: Only posts created before this time.
            source: Only this source (its configured name).
            author: Only this author (pseudonym).
            model_version: Only scores of this model version.
            with_text: Add the post text where it is still stored.
        """
        import polars as pl

        from monitor.store.engine import session_scope
        from monitor.store.scores import read_scores

        lo, hi = _window(since, until)
        with session_scope(self.engine) as s:
            frame = read_scores(s, since=lo, until=hi, source=source, author=author, model_version=model_version)
            texts = _texts(s, frame["post_id"].to_list()) if with_text else None
        frame = frame.rename({c: _named(c) for c in frame.columns if _named(c) != c})
        if texts is not None:
            frame = frame.with_columns(pl.Series("text", [texts.get(i) for i in frame["post_id"]], dtype=pl.String))
        return frame

    def export(
        self,
        output: str | os.PathLike[str],
        fmt: str | None = None,
        *,
        since: When = None,
        until: When = None,
        source: str | None = None,
        author: str | None = None,
        with_text: bool = False,
        force: bool = False,
    ) -> int:
        """Write :meth:`scores` to a file (atomically): Parquet, CSV or JSON lines.

        Args:
            output: The file to write; it may not be the config, the database or inside the model
                directory (unless ``force``).
            fmt: ``parquet``, ``csv`` or ``jsonl`` (default: from the file's suffix).
            since: Only posts created at or after this time.
            until: Only posts created before this time.
            source: Only this source (its configured name).
            author: Only this author (pseudonym).
            with_text: Add the post text where it is still stored.
            force: Replace a protected file or a symbolic link.

        Returns:
            The number of rows written.

        Raises:
            EmomonError: The format is unknown, or the file may not or cannot be written.
        """
        from monitor.safe_write import check_target, write_bytes_atomic

        path = Path(output)
        kind = fmt or _format_of(path)
        if kind not in EXPORT_FORMATS:
            raise EmomonError(f"unknown export format {kind!r}: use {', '.join(EXPORT_FORMATS)}")
        protected = self._settings.protected_paths()
        check_target(path, protected, force=force)  # before the work, not after it
        frame = self.scores(since, until, source, author, with_text=with_text)
        buffer = io.BytesIO()
        if kind == "parquet":
            frame.write_parquet(buffer)
        elif kind == "csv":
            frame.write_csv(buffer)
        else:
            frame.write_ndjson(buffer)
        write_bytes_atomic(path, buffer.getvalue(), protected=protected, force=force)
        return frame.height

    def alerts(
        self,
        status: str | Sequence[str] | None = None,
        rule: str | Sequence[str] | None = None,
        since: When = None,
        until: When = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Alerts, newest first, each a dict (subjects are pseudonyms or source names) with its
        one-line ``explanation``.

        Args:
            status: Only alerts with this status (or these): new, acknowledged, resolved.
            rule: Only alerts of this rule (or these): level, rise, burst, source_shift.
            since: Only alerts triggered at or after this time.
            until: Only alerts triggered before this time.
            limit: At most this many.
        """
        from monitor.alerts.evidence import explain
        from monitor.store import alerts as alert_store
        from monitor.store.engine import session_scope

        statuses = _several(status)
        rules = _several(rule)
        lo, hi = _window(since, until)
        with session_scope(self.engine) as s:
            rows = alert_store.list_alerts(s, status=statuses or None, since=lo, until=hi)
            docs = [alert_store.alert_dict(a) for a in rows if not rules or a.rule in rules]
        docs = docs[:limit] if limit is not None else docs
        return [{**d, "explanation": explain(d)} for d in docs]

    def alert(self, alert_id: int) -> dict[str, Any]:
        """One alert with its ``explanation``, the ``posts`` behind it (text where still kept),
        its review ``history`` and its ``version`` (the latest action's id, 0 before any: what
        :meth:`act` takes as ``seen``).

        Raises:
            AlertNotFound: No alert has this id.
        """
        from monitor.alerts.evidence import evidence_posts, explain
        from monitor.errors import AlertNotFound
        from monitor.store import alerts as alert_store
        from monitor.store import review
        from monitor.store.engine import session_scope
        from monitor.store.schema import Alert

        with session_scope(self.engine) as s:
            row = s.get(Alert, alert_id)
            if row is None:
                raise AlertNotFound(f"alert {alert_id} does not exist: see `emomon alerts list` for alert ids")
            doc = alert_store.alert_dict(row)
            posts = evidence_posts(s, doc)
            history = review.history(s, alert_id)
        version = max((h["id"] for h in history), default=0)
        return {**doc, "explanation": explain(doc), "posts": posts, "history": history, "version": version}

    def act(
        self,
        alert_id: int,
        action: Action,
        *,
        note: str,
        by: str,
        verdict: Verdict | None = None,
        seen: int | None = None,
    ) -> dict[str, Any]:
        """Record what a reviewer did with an alert: acknowledge it or resolve it, with a note.

        Args:
            alert_id: The alert.
            action: ``acknowledged`` (or ``ack``) or ``resolved`` (or ``resolve``).
            note: What was done or decided (kept in the alert's history).
            by: Who did it.
            verdict: On resolve, what the reviewer concluded: ``true_alarm``, ``false_alarm`` or
                ``unsure`` (read back by :meth:`verdicts`).
            seen: The alert's ``version`` (see :meth:`alert`) the action was decided on: when
                someone acted on the alert since, nothing is recorded (two reviewers on one alert
                do not overwrite each other). None: no check (the CLI's ``--by``).

        Returns:
            The alert as :meth:`alerts` gives it, with its ``history``.

        Raises:
            AlertNotFound: No alert has this id.
            StaleAlert: ``seen`` is not the alert's version any more; ``newer`` holds what was done.
            EmomonError: The note is empty, the verdict unknown or given with an acknowledgement,
                or the alert cannot move to that status.
        """
        from monitor.store import alerts as alert_store
        from monitor.store import review
        from monitor.store.engine import session_scope
        from monitor.store.runs import exclusive

        status = _ACTIONS.get(action)
        if status is None:
            raise EmomonError(f"unknown action {action!r}: use acknowledged or resolved")
        with exclusive(self._settings, self.engine, label="alerts review"), session_scope(self.engine) as s:
            acted = review.act(s, alert_id, status, note=note, by=by, verdict=verdict, seen=seen)
            doc = alert_store.alert_dict(acted)
            doc["history"] = review.history(s, alert_id)
        return doc

    def alert_page(
        self,
        *,
        status: Sequence[str] = (),
        rule: Sequence[str] = (),
        severity: Sequence[str] = (),
        source: str | None = None,
        since: When = None,
        until: When = None,
        offset: int = 0,
        limit: int = 50,
    ) -> dict[str, Any]:
        """One page of the alert queue, newest first, with how many match.

        Args:
            status: Only these statuses.
            rule: Only these rules.
            severity: Only these severities.
            source: Only alerts about this source or fired at a post from it.
            since: Only alerts triggered at or after this time.
            until: Only alerts triggered before this time.
            offset: Skip this many.
            limit: At most this many.

        Returns:
            ``alerts`` (as :meth:`alerts` gives them), ``total`` (matching every filter) and
            ``by_status`` (matching every filter but the status).
        """
        from monitor.alerts.evidence import explain
        from monitor.store import alerts as alert_store
        from monitor.store.engine import session_scope

        lo, hi = _window(since, until)
        with session_scope(self.engine) as s:
            page: AlertPage = alert_store.page_alerts(
                s,
                status=status,
                rule=rule,
                severity=severity,
                source=source,
                since=lo,
                until=hi,
                offset=offset,
                limit=limit,
            )
            docs = [alert_store.alert_dict(a) for a in page.alerts]
        return {
            "alerts": [{**d, "explanation": explain(d)} for d in docs],
            "total": page.total,
            "by_status": page.by_status,
        }

    def verdicts(self) -> list[dict[str, Any]]:
        """Every judged alert's latest verdict (``true_alarm``, ``false_alarm``, ``unsure``) with the
        alert's ``rule``, ``subject``, ``severity``, ``trigger_at``, ``trigger_post_id`` and who judged
        it when: what a benchmark reads to report precision on real reviews."""
        from monitor.store import review
        from monitor.store.engine import session_scope

        with session_scope(self.engine) as s:
            return review.verdicts(s)

    def verdict_stats(self) -> list[dict[str, Any]]:
        """Judged alerts per rule and per month: ``rule``, ``month``, ``true_alarm``,
        ``false_alarm``, ``unsure``, ``judged``, ``precision`` (``emomon alerts stats``)."""
        from monitor.store import review
        from monitor.store.engine import session_scope

        with session_scope(self.engine) as s:
            return review.verdict_stats(s)

    def reveal(self, pseudonym: str, *, reason: str, by: str) -> Identity:
        """The handle behind a pseudonym, recorded in the audit (who, when, why) before it is returned.

        Raises:
            ConfigError: ``[privacy] allow_reveal`` is off.
            EmomonError: The reason is empty, or no author has this pseudonym, or the handle is purged.
        """
        from monitor.store import review
        from monitor.store.engine import session_scope

        if not self._settings.privacy.allow_reveal:
            raise ConfigError("re-identification is off: set [privacy] allow_reveal = true in the config")
        with session_scope(self.engine) as s:
            return review.reveal(s, pseudonym, reason=reason, by=by)

    def audit(self) -> list[dict[str, Any]]:
        """Every re-identification, newest first: ``pseudonym``, ``by``, ``at``, ``reason``."""
        from monitor.store import review
        from monitor.store.engine import session_scope

        with session_scope(self.engine) as s:
            return review.audit(s)

    # -- accounts (emomon serve) -------------------------------------------------------------

    def add_user(self, name: str, role: str, password: str) -> Account:
        """Create a reviewer's account (``role``: ``reviewer`` or ``lead``); the password is stored
        as an argon2 hash.

        Raises:
            EmomonError: The name is taken or not allowed, the role unknown, the password too short.
        """
        from monitor.store import users
        from monitor.store.engine import session_scope

        with session_scope(self.engine) as s:
            return users.add(s, name, role, password)

    def users(self) -> list[Account]:
        """Every account, by name."""
        from monitor.store import users
        from monitor.store.engine import session_scope

        with session_scope(self.engine) as s:
            return users.listing(s)

    def user(self, name: str) -> Account | None:
        """The account called ``name``, or None."""
        from monitor.store import users
        from monitor.store.engine import session_scope

        with session_scope(self.engine) as s:
            return users.get(s, name)

    def remove_user(self, name: str) -> None:
        """Delete an account; its actions stay recorded under its name.

        Raises:
            EmomonError: No user has this name.
        """
        from monitor.store import users
        from monitor.store.engine import session_scope

        with session_scope(self.engine) as s:
            users.remove(s, name)

    def set_password(self, name: str, password: str) -> Account:
        """Replace a user's password; their open web sessions end.

        Raises:
            EmomonError: No user has this name, or the password is too short.
        """
        from monitor.store import users
        from monitor.store.engine import session_scope

        with session_scope(self.engine) as s:
            return users.set_password(s, name, password)

    def authenticate(self, name: str, password: str) -> Account | None:
        """The account when the password is right, else None."""
        from monitor.store import users
        from monitor.store.engine import session_scope

        with session_scope(self.engine) as s:
            return users.authenticate(s, name, password)

    def session_secret(self) -> str:
        """This installation's key for signing web session cookies (made once, kept in the database)."""
        from monitor.store import users
        from monitor.store.engine import session_scope

        with session_scope(self.engine) as s:
            return users.session_secret(s)

    def author(self, pseudonym: str, *, since: When = None, until: When = None) -> AuthorView:
        """One author's timeline: posts and index per day, baseline, alerts, top emotions, Big Five.

        ``monitor.report.author.author_dict(view)`` turns it into JSON-ready data.

        Raises:
            EmomonError: No author has this pseudonym.
        """
        from monitor.report.author import load_author_view
        from monitor.store.engine import session_scope

        lo, hi = _window(since, until)
        with session_scope(self.engine) as s:
            return load_author_view(s, self._settings, pseudonym, since=lo, until=hi)

    def report(
        self,
        *,
        since: When = None,
        until: When = None,
        source: str | None = None,
        author: str | None = None,
        by: Literal["day", "week"] | None = None,
    ) -> ReportData:
        """The trend report's data (``monitor.report.text.export(data, "md")`` renders it).

        Args:
            since: Only posts created at or after this time.
            until: Only posts created before this time.
            source: Only this source.
            author: Only this author (pseudonym).
            by: Period of the trend lines instead of ``[trends] by``.
        """
        from monitor.report.data import load_report_data
        from monitor.store.engine import session_scope

        lo, hi = _window(since, until)
        with session_scope(self.engine) as s:
            return load_report_data(s, self._settings, since=lo, until=hi, source=source, author=author, by=by)


def _require_location(name: str, known: list[str]) -> None:
    """A source that is not configured and looks like no path, URL or glob is a mistyped name."""
    import difflib

    from monitor.locations import is_glob, is_url

    if is_url(name) or is_glob(name) or Path(name).expanduser().exists():
        return
    if "/" in name or Path(name).suffix:
        return  # a path: ingest reports it as a missing file, with the other sources' counts
    listed = ", ".join(known) or "none (add one with `emomon sources add`)"
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise EmomonError(f"no source named {name!r} and no such file: {hint}known sources: {listed}")


def _load(config: Settings | str | os.PathLike[str] | None, database: str | None, env: Mapping[str, str]) -> Settings:
    """Settings from ``config`` (see :class:`Emomon`), with ``database`` replacing the URL."""
    from monitor.settings import Settings, load_settings
    from monitor.settings.loading import config_places, find_config

    if isinstance(config, Settings):
        if database is None:
            return config
        return config.model_copy(update={"database": config.database.model_copy(update={"url": database})})
    if config is None:
        found = find_config(env)
        if found is None:
            here, user = config_places(env)
            raise ConfigError(
                f"no config file found (looked for ./{here} and {user}): create one with "
                "`emomon init`, or name one with Emomon(PATH) or EMOMON_CONFIG"
            )
        path = found
    else:
        path = Path(config).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"config file {str(path)!r} not found: check the path, or write one with `emomon init DIRECTORY`"
            )
    overrides = dict(env)
    if database is not None:
        overrides["EMOMON_DATABASE_URL"] = database
    return load_settings(path, overrides)


def _when(value: When, name: str) -> datetime | None:
    """``value`` as a time in UTC (a date is its midnight UTC; naive means UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = (
                date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value.replace("Z", "+00:00"))
            )
        except ValueError as exc:
            raise EmomonError(
                f"{name} {value!r} is not a date: use YYYY-MM-DD or an ISO time like 2025-01-31T08:00:00Z"
            ) from exc
    if not isinstance(value, datetime):
        return datetime.combine(value, time(0), tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _window(since: When, until: When) -> tuple[datetime | None, datetime | None]:
    """``since`` and ``until`` in UTC; an empty window (``until`` is exclusive) is an error."""
    lo, hi = _when(since, "since"), _when(until, "until")
    if lo is not None and hi is not None and lo >= hi:
        raise EmomonError(f"since {lo.isoformat()} is not before until {hi.isoformat()}: swap them or widen the window")
    return lo, hi


def _several(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """One name or several as a tuple."""
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _named(column: str) -> str:
    """A store score column as :meth:`Emomon.scores` names it (``goemo_joy`` -> ``goemotions_joy``)."""
    for prefix, name in _PREFIXES.items():
        if column.startswith(prefix):
            return name + column.removeprefix(prefix)
    return column


def _texts(session: Session, post_ids: list[int]) -> dict[int, str | None]:
    """The stored text of these posts (None once purged)."""
    from sqlalchemy import select

    from monitor.store.engine import in_chunks
    from monitor.store.schema import Post

    found: dict[int, str | None] = {}
    for part in in_chunks(post_ids):
        found.update(session.execute(select(Post.id, Post.text).where(Post.id.in_(part))).all())
    return found


def _format_of(path: Path) -> str:
    """The export format a file's suffix names (``.parquet``, ``.csv``, ``.jsonl``/``.ndjson``)."""
    suffix = path.suffix.lower().lstrip(".")
    formats = {"parquet": "parquet", "pq": "parquet", "csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl"}
    if suffix not in formats:
        raise EmomonError(
            f"cannot tell the format of {str(path)!r} from its name: pass the format ({', '.join(EXPORT_FORMATS)})"
        )
    return formats[suffix]
