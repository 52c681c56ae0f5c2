"""Trend reports: the data (:mod:`.data`) and its renderers (terminal, HTML, text exports).

``data`` reads the store once into a :class:`~monitor.report.data.ReportData`; ``terminal``
draws it with rich, ``html`` renders a self-contained page from Jinja2 templates, ``text``
exports JSON, CSV and Markdown, and :func:`monitor.report.text.export` picks an export by name.

Nothing is re-exported here: import from the submodules, so that a command needing only
:func:`monitor.report.common.fit_width` does not load polars, rich and Jinja2.
"""
