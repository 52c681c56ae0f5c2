"""Losses checked against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from monitor.training.losses import ArcFaceLoss, BatchHardTripletLoss, CombinedMetricLoss, JointWeighting, TaskLosses


def test_triplet_uses_hardest_positive_and_negative():
    # Unit vectors at angles 0, 90 (same class) and 45 degrees (other class).
    e = torch.tensor([[1.0, 0.0], [0.0, 1.0], [math.sqrt(0.5), math.sqrt(0.5)]])
    y = torch.tensor([0, 0, 1])
    d_pos = math.sqrt(2.0)  # 0 vs 90 degrees
    d_neg = math.sqrt(2 - 2 * math.cos(math.pi / 4))  # 45 degrees apart
    # anchors 0 and 1: relu(d_pos - d_neg + m); anchor 2 has no positive and is ignored
    expected = max(0.0, d_pos - d_neg + 0.3)
    assert BatchHardTripletLoss(0.3)(e, y).item() == pytest.approx(expected, rel=1e-5)


def test_triplet_is_zero_when_classes_are_far_apart():
    e = torch.tensor([[1.0, 0.0], [1.0, 0.01], [-1.0, 0.0], [-1.0, 0.01]])
    y = torch.tensor([0, 0, 1, 1])
    assert BatchHardTripletLoss(0.3)(e, y).item() == 0.0


def test_arcface_adds_the_angular_margin_to_the_true_class():
    loss = ArcFaceLoss(2, 2, scale=8.0, margin=0.3)
    with torch.no_grad():
        loss.centres.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    e = torch.tensor([[math.cos(0.2), math.sin(0.2)]])  # 0.2 rad from class 0
    logits = torch.tensor([[8.0 * math.cos(0.5), 8.0 * math.cos(math.pi / 2 - 0.2)]])
    expected = F.cross_entropy(logits, torch.tensor([0])).item()
    assert loss(e, torch.tensor([0])).item() == pytest.approx(expected, rel=1e-5)


def test_combined_loss_is_the_weighted_sum():
    torch.manual_seed(0)
    combined = CombinedMetricLoss(4, 3, w_ce=0.15, w_triplet=0.30, w_arcface=0.55)
    logits, emb, y = torch.randn(6, 3), torch.randn(6, 4), torch.tensor([0, 0, 1, 1, 2, 2])
    expected = 0.15 * F.cross_entropy(logits, y) + 0.30 * combined.triplet(emb, y) + 0.55 * combined.arcface(emb, y)
    assert combined(logits, emb, y).item() == pytest.approx(expected.item(), rel=1e-6)


def test_joint_weighting_modes():
    loss = torch.tensor(2.0)
    static = JointWeighting(("a", "b"), "static", {"a": 0.5})
    assert static("a", loss).item() == 1.0 and static("b", loss).item() == 2.0
    dynamic = JointWeighting(("a", "b"), "dynamic")
    assert dynamic("a", loss).item() == pytest.approx(2.0)  # 2 * softmax(0, 0)[0] * 2
    assert dynamic.weights() == {"a": 1.0, "b": 1.0}
    unc = JointWeighting(("a", "b"), "uncertainty")
    with torch.no_grad():
        unc.theta.copy_(torch.tensor([math.log(2.0), 0.0]))
    assert unc("a", loss).item() == pytest.approx(0.5 * 2.0 + math.log(2.0))
    with pytest.raises(ValueError, match="joint loss mode"):
        JointWeighting(("a",), "median")  # type: ignore[arg-type]


def test_task_losses_big5_uses_multilabel_soft_margin():
    losses = TaskLosses(4, 6)
    out = {"big5": torch.zeros(1, 5)}
    # soft margin at logit 0: log(1 + e^0) = log 2 for every trait
    assert losses.task_loss("big5", out, torch.ones(1, 5)).item() == pytest.approx(math.log(2.0))
    assert TaskLosses(4, 6, carer_loss="ce").carer.w_triplet == 0.0
