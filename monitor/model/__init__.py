"""The shipped model: network, artifact, and the one inference path (:class:`Predictor`)."""

from monitor.model.predictor import PostScores, Predictor, WindowOptions, load_model, split_windows

__all__ = ["PostScores", "Predictor", "WindowOptions", "load_model", "split_windows"]
