"""Trend reports: the data (:mod:`.data`) and its renderers (terminal, HTML, text exports).

``data`` reads the store once into a :class:`ReportData`; ``terminal`` draws it with rich,
``html`` renders a self-contained page from Jinja2 templates, ``text`` exports JSON, CSV and
Markdown, and :func:`export` picks an export by name.
"""

from monitor.report.common import (
    BLOCKS,
    NOTE,
    SPARK_WIDTH,
    fit_width,
    legend,
    report_dict,
    signal_label,
    sparkline,
)
from monitor.report.data import (
    ReportData,
    SignalTrend,
    build_report_data,
    load_report_data,
    select_alerts,
)
from monitor.report.html import to_html
from monitor.report.terminal import terminal_report
from monitor.report.text import FORMATS, export, to_csv, to_json, to_markdown

__all__ = [
    "BLOCKS",
    "FORMATS",
    "NOTE",
    "SPARK_WIDTH",
    "ReportData",
    "SignalTrend",
    "build_report_data",
    "export",
    "fit_width",
    "legend",
    "load_report_data",
    "report_dict",
    "select_alerts",
    "signal_label",
    "sparkline",
    "terminal_report",
    "to_csv",
    "to_html",
    "to_json",
    "to_markdown",
]
