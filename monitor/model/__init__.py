"""The emomon multitask model: network, losses, training, evaluation and the predictor."""

from monitor.model.predictor import Predictor, load_model, split_windows

__all__ = ["Predictor", "load_model", "split_windows"]
