"""The score stage on Ray: the same rows as :func:`monitor.score.stage.run_score`, scored by a pool
of actors (``emomon score --engine ray``, ``[scoring] engine = "ray"``).

::

    driver (holds the run lock)             Ray Data pipeline, one actor per GPU (or per CPU)
    pages of posts to score -> id ranges    from_items(ranges)
    of [scoring] chunk_size posts           map_batches(RangeScorer, one range per call):
                                              read the range's posts that still need a score
    sums the counts, reports progress          prepare, score, write (stage.score_candidates)
    closes the ``runs`` row                    -> counts of the range

Each actor loads the model once (:func:`monitor.model.configured.load_predictor`) and scores
through the same :class:`monitor.score.prepare.ChunkScorer` and the same upsert
(:func:`monitor.store.scores.write_scores`) as the local engine, one transaction per range.
So the guarantees are the local ones: a killed driver or worker loses at most the ranges in
flight; a range is read when it is scored, so a rerun, or Ray's retry of a range on a restarted
actor, scores only what is still unscored; a post never gets two rows.

Without an address a small local Ray instance is started for the run (2 CPUs, no dashboard, a
128 MiB object store) and stopped after it; with one (``--address``, ``[scoring] ray_address``)
the run joins that cluster, whose workers must have emomon installed and reach the database
and the model directory at the same path. A Ray session already open in the process is used
as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Engine

from monitor import errors
from monitor.errors import ConfigError, EmomonError, ModelNotFound
from monitor.model.configured import configured_version, load_predictor, model_path, scores_version
from monitor.score.plan import Progress, RunPlan, ScoreReport, recorded_run, score_candidates
from monitor.score.prepare import ChunkScorer
from monitor.store import scores as score_store
from monitor.store.engine import make_engine, session_scope

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from monitor.settings import Settings

EXTRA = "pip install 'emomon[ray]'"
#: CPUs of a local instance when [scoring] ray_actors is 0.
LOCAL_CPUS = 2
LOCAL_OBJECT_STORE = 128 * 1024**2
#: The counts each range returns, summed into the report.
COUNTS = ("scored", "skipped", "windowed", "korean", "tokens")


@dataclass(frozen=True)
class PostRange:
    """Posts ``first``..``last`` (ids, inclusive), of which ``posts`` needed a score when listed."""

    first: int
    last: int
    posts: int


@dataclass(frozen=True)
class ScoringJob:
    """What every actor of one run needs: where the posts and the model are, and how to score."""

    settings: Settings
    database_url: str
    model: Path
    version: str
    rescore: bool
    gpu: bool
    batch_tokens: int | None


@dataclass(frozen=True)
class Pool:
    """The actor pool: its size and each actor's resources."""

    size: int
    gpu: bool

    def resources(self) -> dict[str, float]:
        """``map_batches`` resource arguments of one actor."""
        return {"num_cpus": 1.0, "num_gpus": 1.0 if self.gpu else 0.0}


def import_ray() -> ModuleType:
    """The ``ray`` module with Ray Data.

    Raises:
        ConfigError: Ray is not installed.
    """
    try:
        import ray
        import ray.data  # noqa: F401  (the pipeline API)
    except ImportError as exc:
        raise ConfigError(f"the Ray engine needs Ray ({exc.name or 'ray'} is not installed): {EXTRA}") from exc
    return ray


def run_distributed(
    engine: Engine,
    settings: Settings,
    *,
    address: str | None = None,
    model: Path | None = None,
    limit: int | None = None,
    rescore: bool = False,
    device: str | None = None,
    batch_tokens: int | None = None,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
) -> ScoreReport:
    """Score the posts that need it on Ray and record the run in ``runs``.

    Args and the report are those of :func:`monitor.score.stage.run_score`, plus ``address``:
    the Ray cluster to join instead of ``[scoring] ray_address`` ("" starts a local instance).
    ``progress`` is called as ranges finish.

    Raises:
        ConfigError: Ray is not installed, the cluster cannot be reached, or has no GPU for
            ``device = "cuda"``.
        ModelNotFound: The model directory is missing or unreadable.
    """
    ray = import_ray()
    plan = RunPlan(engine, limit, rescore)
    done = plan.done_before_loading(settings, model)
    if done is not None:
        return done
    path = model_path(settings, model)
    version = configured_version(settings, model)
    if version is None:
        raise ModelNotFound(
            f"model directory {str(path)!r} is missing or unreadable: set [model] path in the "
            "config (e.g. train one with `emomon train`)",
            argument="model",
        )
    ranges = [
        PostRange(page[0].post_id, page[-1].post_id, len(page))
        for page in plan.pages(version, settings.scoring.chunk_size)
    ]
    if not ranges:
        return plan.nothing_to_do(version)
    if on_total is not None:
        on_total(sum(r.posts for r in ranges))
    sc = settings.scoring
    with (
        recorded_run(engine, version, plan.t0) as report,
        ray_session(ray, sc.ray_address if address is None else address, sc.ray_actors),
    ):
        pool = actor_pool(ray, device or sc.device, sc.ray_actors)
        job = ScoringJob(
            settings=settings,
            database_url=absolute_url(engine),
            model=path.resolve(),
            version=version,
            rescore=rescore,
            gpu=pool.gpu,
            batch_tokens=batch_tokens,
        )
        for row in _pipeline(ray, ranges, job, pool).iter_rows():
            if row["error"]:
                raise worker_error(str(row["error"]))
            _count(report, row)
            if progress is not None:
                progress(int(row["posts"]))
    return report


def range_candidates(session: Session, span: PostRange, *, version: str, rescore: bool) -> list[score_store.Candidate]:
    """The posts of ``span`` that need a score now: none of those written since it was listed."""
    page = score_store.next_candidates(
        session, after_id=span.first - 1, limit=span.posts, model_version=version, rescore=rescore
    )
    return [c for c in page if c.post_id <= span.last]


@contextmanager
def ray_session(ray: ModuleType, address: str, actors: int) -> Iterator[None]:
    """Join the cluster at ``address``, or start a small local instance ("") for the block.

    Raises:
        ConfigError: The cluster cannot be reached.
    """
    if ray.is_initialized():  # the caller's own session
        yield
        return
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(
                num_cpus=actors or LOCAL_CPUS, include_dashboard=False, object_store_memory=LOCAL_OBJECT_STORE, **quiet
            )
    except ConnectionError as exc:
        raise ConfigError(
            f"cannot join the Ray cluster at {address!r} ({exc}): check the address "
            "([scoring] ray_address), or leave it empty for a local instance"
        ) from exc
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        yield
    finally:
        ray.shutdown()


def actor_pool(ray: ModuleType, device: str, actors: int) -> Pool:
    """One actor per GPU of the cluster (unless ``device`` is "cpu"), else one per CPU;
    ``actors`` > 0 sets the size.

    Raises:
        ConfigError: ``device`` is "cuda" but the cluster has no GPU.
    """
    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 0))
    if device == "cuda" and gpus == 0:
        raise ConfigError("device 'cuda' but the Ray cluster has no GPU: use device 'auto' or 'cpu', or add GPU nodes")
    gpu = gpus > 0 and device != "cpu"
    return Pool(size=actors or max(gpus if gpu else cpus, 1), gpu=gpu)


def absolute_url(engine: Engine) -> str:
    """The engine's URL with a relative SQLite path made absolute (actors start elsewhere)."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        url = url.set(database=str(Path(str(url.database)).resolve()))
    return url.render_as_string(hide_password=False)


class RangeScorer:
    """One actor of the pool: loads the model once, then scores the ranges it is handed.

    A user error (a model missing on this worker, a database it cannot reach) is returned with
    the range as its ``error`` (``"ClassName: message"``), so the driver can stop with that one
    line: Ray keeps only the text of exceptions raised in actors.
    """

    def __init__(self, job: ScoringJob) -> None:
        self.job = job
        self.ready: tuple[ChunkScorer, Engine] | EmomonError
        try:
            self.ready = _load(job)
        except EmomonError as exc:
            self.ready = exc

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Score each range of the batch; one row of counts (and error, "" if none) per range."""
        out: dict[str, list[Any]] = {name: [] for name in ("posts", *COUNTS, "error")}
        for first, last, posts in zip(batch["first"], batch["last"], batch["posts"]):
            report = ScoreReport(model_version=self.job.version)
            try:
                self.score_range(PostRange(int(first), int(last), int(posts)), report)
                out["error"].append("")
            except EmomonError as exc:
                out["error"].append(f"{type(exc).__name__}: {exc}")
            out["posts"].append(int(posts))
            for name in COUNTS:
                out[name].append(int(getattr(report, name)))
        return {name: np.asarray(values) for name, values in out.items()}

    def score_range(self, span: PostRange, report: ScoreReport) -> None:
        """Read, score and write the posts of ``span`` that still need a score, counted in ``report``."""
        if isinstance(self.ready, EmomonError):
            raise self.ready
        scorer, engine = self.ready
        with session_scope(engine) as session:
            candidates = range_candidates(session, span, version=self.job.version, rescore=self.job.rescore)
        if candidates:
            score_candidates(engine, scorer, self.job.version, candidates, report)


def _load(job: ScoringJob) -> tuple[ChunkScorer, Engine]:
    """An actor's scorer (the model loaded once, on its GPU or its one CPU) and database engine.

    Raises:
        ModelNotFound: The model is missing here, or is another version than the driver's.
    """
    if not job.gpu:
        import torch

        torch.set_num_threads(1)
    predictor = load_predictor(
        job.settings, model=job.model, device="cuda" if job.gpu else "cpu", batch_tokens=job.batch_tokens
    )
    if scores_version(predictor) != job.version:
        raise ModelNotFound(
            f"model {str(job.model)!r} on this worker is {scores_version(predictor)!r}, the "
            f"driver's is {job.version!r}: give every node the same model directory"
        )
    return ChunkScorer(predictor, job.settings.scoring), make_engine(job.database_url)


def _pipeline(ray: ModuleType, ranges: list[PostRange], job: ScoringJob, pool: Pool) -> Any:
    """The Ray Data pipeline: ranges in, one row of counts per range out."""
    dataset = ray.data.from_items([asdict(r) for r in ranges])
    return dataset.map_batches(
        RangeScorer,
        fn_constructor_kwargs={"job": job},
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=pool.size),
        **pool.resources(),
    )


def _count(report: ScoreReport, row: dict[str, Any]) -> None:
    """Add one range's counts to the run's report."""
    for name in COUNTS:
        setattr(report, name, getattr(report, name) + int(row[name]))


def worker_error(text: str) -> EmomonError:
    """The driver's copy of an error an actor returned as ``"ClassName: message"``."""
    name, _, message = text.partition(": ")
    kind = getattr(errors, name, None)
    if isinstance(kind, type) and issubclass(kind, EmomonError):
        return kind(f"on a Ray worker: {message}")
    return EmomonError(f"on a Ray worker: {text}")
