"""Metric code on tiny known cases."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.model.activations import softmax
from monitor.training.metrics import (
    auroc,
    confusion_matrix,
    expected_calibration_error,
    fit_temperature,
    macro_f1,
    multilabel_f1,
    tune_thresholds,
)


def test_confusion_and_macro_f1_on_a_known_case():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    assert confusion_matrix(y_true, y_pred, 3).tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    # F1: class0 2*2/(4+0+1)=0.8, class1 2/(2+1+1)=0.5, class2 2/(2+1+0)=2/3
    assert macro_f1(y_true, y_pred, 3) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


def test_multilabel_f1_and_thresholds():
    y = np.array([[1, 0], [1, 0], [0, 1], [0, 0]])
    p = np.array([[0.9, 0.2], [0.4, 0.1], [0.3, 0.35], [0.1, 0.3]])
    assert multilabel_f1(y, p >= 0.5).tolist() == pytest.approx([2 / 3, 0.0])
    t = tune_thresholds(y, p)
    assert t[0] <= 0.4 and 0.3 < t[1] <= 0.35
    assert multilabel_f1(y, p >= t).tolist() == [1.0, 1.0]


def test_ece_and_temperature():
    assert expected_calibration_error(np.array([1.0, 1.0]), np.array([1, 0])) == pytest.approx(0.5)
    assert expected_calibration_error(np.array([0.75] * 4), np.array([1, 1, 1, 0])) == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 3))
    labels = np.array([rng.choice(3, p=p) for p in softmax(true_logits)])
    # The model is overconfident by a factor 3: the fitted temperature should undo it.
    assert fit_temperature(true_logits * 3, labels, multilabel=False) == pytest.approx(3.0, rel=0.15)


def test_auroc():
    assert auroc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert auroc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5
