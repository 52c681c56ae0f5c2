"""Losses: batch-hard triplet, ArcFace, the combined metric loss, and joint task weighting."""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

JointMode = Literal["static", "dynamic", "uncertainty"]
MultilabelLoss = Literal["bce", "focal"]


def focal_bce(logits: torch.Tensor, targets: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Binary focal loss (Lin et al. 2017): BCE scaled by (1 - p_t)^gamma, so the many easy
    negatives of rare labels stop drowning the few positives. gamma = 0 is plain BCE."""
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = torch.exp(-bce)
    return ((1.0 - p_t) ** gamma * bce).mean()


class BatchHardTripletLoss(nn.Module):
    """Triplet loss with the hardest positive and negative mined inside the batch.

    Distances are Euclidean between L2-normalised embeddings. Anchors without a positive or a
    negative in the batch are ignored.
    """

    def __init__(self, margin: float = 0.3) -> None:
        super().__init__()
        self.margin = margin

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """embeddings [B, E], labels [B] -> scalar."""
        x = F.normalize(embeddings.float(), dim=-1)
        dist = torch.cdist(x, x)  # [B, B]
        same = labels.unsqueeze(0) == labels.unsqueeze(1)  # [B, B]
        eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        positive_mask = same & ~eye
        negative_mask = ~same
        valid = positive_mask.any(dim=1) & negative_mask.any(dim=1)
        if not valid.any():
            return embeddings.sum() * 0.0
        hardest_positive = (dist * positive_mask).max(dim=1).values
        hardest_negative = dist.masked_fill(~negative_mask, float("inf")).min(dim=1).values
        losses = F.relu(hardest_positive - hardest_negative + self.margin)
        return losses[valid].mean()


class ArcFaceLoss(nn.Module):
    """Additive angular margin loss (Deng et al. 2019) with its own class centres."""

    def __init__(self, embedding_size: int, num_classes: int, scale: float = 8.0, margin: float = 0.3) -> None:
        super().__init__()
        self.scale = scale
        self.margin = margin
        self.centres = nn.Parameter(torch.empty(num_classes, embedding_size))
        nn.init.xavier_uniform_(self.centres)

    def cosine(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Cosine similarity to each class centre: [B, E] -> [B, C]."""
        return F.linear(F.normalize(embeddings.float(), dim=-1), F.normalize(self.centres.float(), dim=-1))

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cos = self.cosine(embeddings).clamp(-1 + 1e-7, 1 - 1e-7)
        theta = torch.acos(cos)
        target = F.one_hot(labels, cos.shape[1]).bool()
        # Past pi - m the margin would wrap around; fall back to the CosFace-style penalty there.
        with_margin = torch.where(
            theta + self.margin < math.pi, torch.cos(theta + self.margin), cos - self.margin * math.sin(self.margin)
        )
        logits = torch.where(target, with_margin, cos) * self.scale
        return F.cross_entropy(logits, labels)


class CombinedMetricLoss(nn.Module):
    """w_ce * CE + w_triplet * Triplet + w_arcface * ArcFace (fine-grained depressed emotion paper)."""

    def __init__(
        self,
        embedding_size: int,
        num_classes: int,
        *,
        w_ce: float = 0.15,
        w_triplet: float = 0.30,
        w_arcface: float = 0.55,
        triplet_margin: float = 0.3,
        arcface_scale: float = 8.0,
        arcface_margin: float = 0.3,
    ) -> None:
        super().__init__()
        total = w_ce + w_triplet + w_arcface
        if total <= 0 or min(w_ce, w_triplet, w_arcface) < 0:
            raise ValueError(f"loss ratios must be non-negative and not all zero, got {(w_ce, w_triplet, w_arcface)!r}")
        self.w_ce, self.w_triplet, self.w_arcface = w_ce, w_triplet, w_arcface
        self.triplet = BatchHardTripletLoss(triplet_margin)
        self.arcface = ArcFaceLoss(embedding_size, num_classes, arcface_scale, arcface_margin)

    def forward(self, logits: torch.Tensor, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        loss = self.w_ce * F.cross_entropy(logits.float(), labels)
        if self.w_triplet:
            loss = loss + self.w_triplet * self.triplet(embeddings, labels)
        if self.w_arcface:
            loss = loss + self.w_arcface * self.arcface(embeddings, labels)
        return loss


class JointWeighting(nn.Module):
    """Combines per-task losses.

    - static: fixed weights.
    - dynamic (Chae & Kim 2018): w = T * softmax(theta), theta learned from an equal start.
    - uncertainty (Kendall et al. 2018): exp(-s_t) * L_t + s_t, s_t = log sigma_t^2 learned.
    """

    def __init__(
        self, tasks: tuple[str, ...], mode: JointMode = "static", static: dict[str, float] | None = None
    ) -> None:
        super().__init__()
        if mode not in ("static", "dynamic", "uncertainty"):
            raise ValueError(f"unknown joint loss mode {mode!r}; use static, dynamic or uncertainty")
        self.tasks = tasks
        self.mode = mode
        weights = [float((static or {}).get(t, 1.0)) for t in tasks]
        self.register_buffer("static_weights", torch.tensor(weights))
        self.theta = nn.Parameter(torch.zeros(len(tasks)), requires_grad=mode != "static")

    def weights(self) -> dict[str, float]:
        """The current effective weight of each task (for logging)."""
        with torch.no_grad():
            if self.mode == "static":
                w = self._static()
            elif self.mode == "dynamic":
                w = len(self.tasks) * torch.softmax(self.theta, dim=0)
            else:
                w = torch.exp(-self.theta)
        return {t: float(v) for t, v in zip(self.tasks, w)}

    def _static(self) -> torch.Tensor:
        weights = self.static_weights
        assert isinstance(weights, torch.Tensor)  # a registered buffer
        return weights

    def forward(self, task: str, loss: torch.Tensor) -> torch.Tensor:
        i = self.tasks.index(task)
        if self.mode == "static":
            return self._static()[i] * loss
        if self.mode == "dynamic":
            return len(self.tasks) * torch.softmax(self.theta, dim=0)[i] * loss
        return torch.exp(-self.theta[i]) * loss + self.theta[i]


class TaskLosses(nn.Module):
    """The per-task losses of the multitask network and their joint weighting."""

    def __init__(
        self,
        embedding_size: int,
        num_carer: int,
        *,
        carer_loss: str = "combined",
        joint: JointMode = "static",
        static_weights: dict[str, float] | None = None,
        metric: dict[str, float] | None = None,
        tasks: tuple[str, ...] = ("goemotions", "carer", "big5"),
        goemotions_loss: MultilabelLoss = "bce",
        focal_gamma: float = 2.0,
    ) -> None:
        super().__init__()
        if goemotions_loss not in ("bce", "focal"):
            raise ValueError(f"unknown GoEmotions loss {goemotions_loss!r}; use bce or focal")
        self.goemotions_gamma = focal_gamma if goemotions_loss == "focal" else 0.0
        metric = dict(metric or {})
        if carer_loss == "ce":
            metric.update(w_ce=1.0, w_triplet=0.0, w_arcface=0.0)
        elif carer_loss != "combined":
            raise ValueError(f"unknown CARER loss {carer_loss!r}; use combined or ce")
        self.carer = CombinedMetricLoss(embedding_size, num_carer, **metric)
        self.big5 = nn.MultiLabelSoftMarginLoss()
        self.joint = JointWeighting(tasks, joint, static_weights)

    def task_loss(self, task: str, outputs: dict[str, torch.Tensor], targets: torch.Tensor) -> torch.Tensor:
        """Unweighted loss of one task's batch."""
        if task == "goemotions":
            return focal_bce(outputs["goemotions"].float(), targets.float(), self.goemotions_gamma)
        if task == "carer":
            return self.carer(outputs["carer"], outputs["embedding"], targets)
        if task == "big5":
            return self.big5(outputs["big5"].float(), targets.float())
        if task == "distress":
            return F.binary_cross_entropy_with_logits(outputs["distress"].float(), targets.float())
        raise ValueError(f"unknown task {task!r}")
