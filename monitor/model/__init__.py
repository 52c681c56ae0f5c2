"""The shipped model: network, artifact I/O, runtimes, and the one inference path
(:class:`monitor.model.predictor.Predictor`).

Nothing is re-exported here: import from the submodules (``from monitor.model.predictor import
load_model``), so that importing this package costs nothing and torch loads only where a
submodule needs it.
"""
