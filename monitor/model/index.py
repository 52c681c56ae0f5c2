"""The depression-emotion index: one number in [0, 1] per post.

    raw   = 1 - prod_i (1 - p_i) ** w_i          (a weighted noisy-OR over the related emotions)
    index = sigmoid(a * logit(raw) + b)          (Platt calibration fitted on validation data)

p_i are the model's probabilities of the depression-related emotions: GoEmotions sadness, grief,
remorse, disappointment, nervousness, fear, embarrassment and CARER sadness and fear. The weights
w_i >= 0 are configurable ([scoring.index] in config.toml); weight 0 drops an emotion. The index
is high when any related emotion is probable, and reads as "probability that the post expresses
a depression-related emotion" on the calibration data (GoEmotions dev and CARER validation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

DEFAULT_GOEMOTIONS_WEIGHTS: dict[str, float] = {
    "sadness": 1.0,
    "grief": 1.0,
    "remorse": 1.0,
    "disappointment": 1.0,
    "nervousness": 1.0,
    "fear": 1.0,
    "embarrassment": 1.0,
}
DEFAULT_CARER_WEIGHTS: dict[str, float] = {"sadness": 1.0, "fear": 1.0}


@dataclass(frozen=True)
class DepressionIndex:
    """Weights over related emotions plus a Platt calibration (a, b)."""

    goemotions: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_GOEMOTIONS_WEIGHTS))
    carer: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_CARER_WEIGHTS))
    a: float = 1.0
    b: float = 0.0

    def validate(self, goemotions_labels: Sequence[str], carer_labels: Sequence[str]) -> None:
        for name, weights, labels in (
            ("goemotions", self.goemotions, goemotions_labels),
            ("carer", self.carer, carer_labels),
        ):
            for label, weight in weights.items():
                if label not in labels:
                    raise ValueError(f"depression index weight for unknown {name} label {label!r}")
                if weight < 0:
                    raise ValueError(f"depression index weight {name}.{label} must be >= 0, got {weight!r}")

    def raw(
        self, goemotions: np.ndarray, carer: np.ndarray, goemotions_labels: Sequence[str], carer_labels: Sequence[str]
    ) -> np.ndarray:
        """The uncalibrated noisy-OR: [N, 28], [N, 6] -> [N]."""
        log_keep = np.zeros(goemotions.shape[0], dtype=np.float64)
        for probs, weights, labels in (
            (goemotions, self.goemotions, goemotions_labels),
            (carer, self.carer, carer_labels),
        ):
            for label, weight in weights.items():
                p = np.clip(probs[:, list(labels).index(label)].astype(np.float64), 0.0, 1.0 - 1e-7)
                log_keep += weight * np.log1p(-p)
        return 1.0 - np.exp(log_keep)

    def __call__(
        self, goemotions: np.ndarray, carer: np.ndarray, goemotions_labels: Sequence[str], carer_labels: Sequence[str]
    ) -> np.ndarray:
        raw = np.clip(self.raw(goemotions, carer, goemotions_labels, carer_labels), 1e-6, 1 - 1e-6)
        z = self.a * np.log(raw / (1 - raw)) + self.b
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    def to_dict(self) -> dict:
        return {"goemotions": dict(self.goemotions), "carer": dict(self.carer), "a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, data: Mapping) -> DepressionIndex:
        return cls(
            dict(data.get("goemotions", DEFAULT_GOEMOTIONS_WEIGHTS)),
            dict(data.get("carer", DEFAULT_CARER_WEIGHTS)),
            float(data.get("a", 1.0)),
            float(data.get("b", 0.0)),
        )


def fit_platt(raw: np.ndarray, target: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """Logistic regression of `target` on logit(raw) by Newton's method: returns (a, b)."""
    raw = np.clip(raw.astype(np.float64), 1e-6, 1 - 1e-6)
    x = np.log(raw / (1 - raw))
    y = target.astype(np.float64)
    a, b = 1.0, 0.0
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(a * x + b, -50.0, 50.0)))
        w = np.maximum(p * (1 - p), 1e-9)
        grad = np.array([np.sum((p - y) * x), np.sum(p - y)])
        hess = np.array([[np.sum(w * x * x), np.sum(w * x)], [np.sum(w * x), np.sum(w)]]) + 1e-6 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-8:
            break
    return float(a), float(b)
