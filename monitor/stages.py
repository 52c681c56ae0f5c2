"""The names of the pipeline's stages, in run order, and what each does: a leaf that imports nothing.

The settings (``[schedule]`` keys) and the stage registry in :mod:`monitor.pipeline` both read it, so the
settings need not import the stages that read the settings.
"""

#: Stage name -> one line on what it does, in run order.
STAGE_SUMMARIES: dict[str, str] = {
    "ingest": "read every enabled [[sources]] entry into the database",
    "score": "score every post without a score from the configured model",
    "alerts": "evaluate the alert rules and deliver new alerts to the channels",
    "purge": "remove post text past [retention] raw_text_days (scores and alerts stay)",
    "report": "print the trend report",
}
STAGE_NAMES: tuple[str, ...] = tuple(STAGE_SUMMARIES)
