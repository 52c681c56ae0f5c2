"""The depression-emotion index."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.labels import CARER_LABELS, GOEMOTIONS_LABELS
from monitor.model.index import DepressionIndex, fit_platt


def _probs(**emotions: float) -> tuple[np.ndarray, np.ndarray]:
    g, c = np.zeros((1, 28)), np.zeros((1, 6))
    for name, p in emotions.items():
        if name.startswith("carer_"):
            c[0, CARER_LABELS.index(name[6:])] = p
        else:
            g[0, GOEMOTIONS_LABELS.index(name)] = p
    return g, c


def test_noisy_or_with_identity_calibration():
    index = DepressionIndex()
    g, c = _probs(sadness=0.5, fear=0.5)
    assert index(g, c, GOEMOTIONS_LABELS, CARER_LABELS)[0] == pytest.approx(0.75, abs=1e-4)
    g, c = _probs(joy=0.99, carer_joy=0.99)
    assert index(g, c, GOEMOTIONS_LABELS, CARER_LABELS)[0] < 1e-3
    g, c = _probs(grief=0.9, carer_sadness=0.9)
    assert index(g, c, GOEMOTIONS_LABELS, CARER_LABELS)[0] == pytest.approx(0.99, abs=1e-3)


def test_weights_are_configurable_and_validated():
    g, c = _probs(sadness=0.8)
    no_sadness = DepressionIndex(goemotions={"grief": 1.0}, carer={})
    assert no_sadness(g, c, GOEMOTIONS_LABELS, CARER_LABELS)[0] < 1e-3
    with pytest.raises(ValueError, match="unknown goemotions label"):
        DepressionIndex(goemotions={"gloom": 1.0}).validate(GOEMOTIONS_LABELS, CARER_LABELS)
    with pytest.raises(ValueError, match=">= 0"):
        DepressionIndex(carer={"fear": -1.0}).validate(GOEMOTIONS_LABELS, CARER_LABELS)


def test_platt_fit_recovers_a_known_scaling():
    rng = np.random.default_rng(1)
    x = rng.normal(size=20000)
    raw = 1 / (1 + np.exp(-x))
    y = rng.random(20000) < 1 / (1 + np.exp(-(2.0 * x - 1.0)))
    a, b = fit_platt(raw, y)
    assert a == pytest.approx(2.0, rel=0.1) and b == pytest.approx(-1.0, abs=0.1)
