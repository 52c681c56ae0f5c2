"""Multitask training: task sampling or alternation, an optional MAML-like meta step,
AdamW with warm-up and linear decay, clipping, bf16 autocast, checkpoints and resume."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from monitor.model.batching import pad, tokenize, training_batch
from monitor.model.device import autocast, choose_autocast, choose_device
from monitor.model.network import TASKS, MultitaskNetwork, NetworkConfig, vocab_size
from monitor.training.augment import augment_batch
from monitor.training.checkpoint import load_checkpoint, save_best, save_checkpoint
from monitor.training.data import TaskData
from monitor.training.losses import TaskLosses

TASK_HEAD_PREFIX = {
    "goemotions": ("goemotions_head.",),
    "carer": ("embedding.", "carer_head."),
    "big5": ("big5_head.",),
    "distress": ("distress_head.",),
}


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run; saved beside its checkpoints."""

    steps: int = 4000
    batch_size: int = 32
    max_length: int = 96
    lr_encoder: float = 5e-5
    lr_heads: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.06
    clip_norm: float = 1.0
    seed: int = 13
    task_probs: dict[str, float] = field(default_factory=lambda: {"goemotions": 0.45, "carer": 0.4, "big5": 0.15})
    mode: str = "sample"  # sample | alternate | meta
    meta_inner_lr: float = 0.01
    meta_support: int = 8
    carer_loss: str = "combined"  # combined | ce
    metric: dict[str, float] = field(
        default_factory=lambda: {
            "w_ce": 0.15,
            "w_triplet": 0.30,
            "w_arcface": 0.55,
            "triplet_margin": 0.3,
            "arcface_scale": 8.0,
            "arcface_margin": 0.3,
        }
    )
    goemotions_loss: str = "bce"  # bce | focal
    focal_gamma: float = 2.0
    augment_probability: float = 0.0  # share of CARER examples restyled per step (see augment.py)
    carer_from_goemotions: bool = False  # add GoEmotions train posts with one CARER-equivalent label
    init_from: str = ""  # model directory whose weights start the run (empty: the base encoder)
    joint: str = "static"  # static | dynamic | uncertainty
    static_weights: dict[str, float] = field(default_factory=dict)
    gate: str = "sog"
    gate_levels: int = 1
    eval_every: int = 500
    checkpoint_every: int = 100
    precision: str = "auto"
    device: str = "auto"
    tasks: tuple[str, ...] = TASKS[:3]  # add "distress" to train the personal-distress head (v3)
    #: The distress head's token evidence (monitor.model.network.TokenEvidence); fitted by
    #: ``--distress-head-only``, which sets it; the joint training loop reads pooled vectors only.
    distress_tokens: bool = False

    def validate(self) -> None:
        if self.mode not in ("sample", "alternate", "meta"):
            raise ValueError(f"unknown training mode {self.mode!r}; use sample, alternate or meta")
        unknown = set(self.task_probs) - set(TASKS)
        if unknown:
            raise ValueError(f"unknown tasks in task_probs: {sorted(unknown)!r}")
        for task, share in self.task_probs.items():
            if not 0 <= share < float("inf"):
                raise ValueError(f"share {share!r} of {task} must be a number >= 0")
        if sum(self.task_probs.values()) <= 0:
            raise ValueError("the task shares must not all be 0")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "tasks" in known:
            known["tasks"] = tuple(known["tasks"])
        return cls(**known)


def task_schedule(config: TrainConfig) -> list[str]:
    """The task of every step, fixed by the seed (so resumed runs see the same batches)."""
    tasks = [t for t in config.tasks]
    if config.mode == "alternate":
        return [tasks[s % len(tasks)] for s in range(config.steps)]
    probs = np.asarray([config.task_probs.get(t, 0.0) for t in tasks], dtype=float)
    probs = probs / probs.sum()
    rng = np.random.default_rng([config.seed, 999])
    return [tasks[i] for i in rng.choice(len(tasks), size=config.steps, p=probs)]


def lr_factor(step: int, config: TrainConfig) -> float:
    """Linear warm-up then linear decay to zero."""
    warmup = max(1, int(config.warmup_fraction * config.steps))
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (config.steps - step) / max(1, config.steps - warmup))


@dataclass
class EncodedTask:
    data: TaskData
    ids: list[list[int]]
    lengths: list[int]


class Trainer:
    """Trains a :class:`MultitaskNetwork` on per-task datasets; resumable from its run directory."""

    def __init__(
        self,
        model: MultitaskNetwork,
        tokenizer,
        config: TrainConfig,
        train: dict[str, TaskData],
        run_dir: Path,
        *,
        evaluate: Callable[[MultitaskNetwork], dict[str, Any]] | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        config.validate()
        self.config = config
        self.device = choose_device(config.device)
        self.autocast_dtype = choose_autocast(self.device, config.precision)
        self.model = model.to(self.device)
        self.tokenizer = tokenizer
        self.run_dir = run_dir
        self.evaluate = evaluate
        self.log = log
        self.losses = TaskLosses(
            model.config.embedding_size,
            len(model.config.carer_labels),
            carer_loss=config.carer_loss,
            joint=config.joint,  # type: ignore[arg-type]
            static_weights=config.static_weights,
            metric=config.metric,
            tasks=config.tasks,
            goemotions_loss=config.goemotions_loss,  # type: ignore[arg-type]
            focal_gamma=config.focal_gamma,
        ).to(self.device)
        self.tasks = {
            t: EncodedTask(d, ids := tokenize(tokenizer, d.texts, config.max_length), [len(x) for x in ids])
            for t, d in train.items()
            if t in config.tasks
        }
        encoder_params = [p for n, p in model.named_parameters() if n.startswith("encoder.")]
        head_params = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
        head_params += [p for p in self.losses.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            [
                {"params": encoder_params, "lr": config.lr_encoder, "base_lr": config.lr_encoder},
                {"params": head_params, "lr": config.lr_heads, "base_lr": config.lr_heads},
            ],
            weight_decay=config.weight_decay,
        )
        self.schedule = task_schedule(config)
        seen: dict[str, int] = {}
        self.batch_numbers = []  # how many batches of its task came before each step
        for task in self.schedule:
            self.batch_numbers.append(seen.get(task, 0))
            seen[task] = seen.get(task, 0) + 1
        self.step = 0
        self.best_score = -math.inf
        self.history: list[dict[str, Any]] = []

    # -- batches ---------------------------------------------------------------------------
    def batch_for(self, step: int) -> tuple[str, list[int]]:
        task = self.schedule[step]
        number = self.batch_numbers[step]
        enc = self.tasks[task]
        return task, training_batch(
            len(enc.ids), self.config.batch_size, number, self.config.seed, TASKS.index(task), enc.lengths
        )

    def batch_ids(self, task: str, rows: list[int], step: int) -> list[list[int]]:
        """Token ids of a step's rows; CARER rows restyled (deterministically) when augmenting."""
        enc = self.tasks[task]
        if task != "carer" or self.config.augment_probability <= 0:
            return [enc.ids[i] for i in rows]
        texts = augment_batch(
            [enc.data.texts[i] for i in rows],
            seed=self.config.seed,
            step=step,
            probability=self.config.augment_probability,
        )
        return tokenize(self.tokenizer, texts, self.config.max_length)

    def tensors(self, task: str, rows: list[int], step: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        enc = self.tasks[task]
        input_ids, mask = pad(self.batch_ids(task, rows, step), self.tokenizer.pad_token_id or 0)
        target = torch.as_tensor(enc.data.targets[rows])
        pin = self.device.type == "cuda"
        if pin:
            input_ids, mask, target = input_ids.pin_memory(), mask.pin_memory(), target.pin_memory()
        return (
            input_ids.to(self.device, non_blocking=pin),
            mask.to(self.device, non_blocking=pin),
            target.to(self.device, non_blocking=pin),
        )

    # -- one step ------------------------------------------------------------------------
    def plain_loss(
        self, task: str, input_ids: torch.Tensor, mask: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, float]:
        with autocast(self.device, self.autocast_dtype):
            outputs = self.model(input_ids, mask)
        raw = self.losses.task_loss(task, outputs, target)
        return self.losses.joint(task, raw), float(raw.detach())

    def meta_loss(
        self, task: str, input_ids: torch.Tensor, mask: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, float]:
        """SoGMTL's MAML-like step on this batch (see :func:`meta_query_loss`)."""
        with autocast(self.device, self.autocast_dtype):
            pooled = self.model.pooled(input_ids, mask)
        raw = meta_query_loss(
            self.model, self.losses, task, pooled, target, self.config.meta_support, self.config.meta_inner_lr
        )
        return self.losses.joint(task, raw), float(raw.detach())

    def train_step(self, step: int) -> dict[str, Any]:
        self.model.train()
        torch.manual_seed(self.config.seed * 100_003 + step)
        task, rows = self.batch_for(step)
        input_ids, mask, target = self.tensors(task, rows, step)
        factor = lr_factor(step, self.config)
        for group in self.optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor
        self.optimizer.zero_grad(set_to_none=True)
        if self.config.mode == "meta" and len(rows) > self.config.meta_support + 1:
            loss, raw = self.meta_loss(task, input_ids, mask, target)
        else:
            loss, raw = self.plain_loss(task, input_ids, mask, target)
        loss.backward()
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        torch.nn.utils.clip_grad_norm_(params, self.config.clip_norm)
        self.optimizer.step()
        return {"task": task, "loss": raw, "tokens": int(mask.sum())}

    # -- loop ------------------------------------------------------------------------------
    def progress_record(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "best_score": self.best_score,
            "history": self.history,
            "config": asdict(self.config),
        }

    def resume(self) -> bool:
        """Continue from the run directory's checkpoint when there is one."""
        if not (self.run_dir / "checkpoint.json").exists():
            return False
        progress = load_checkpoint(self.run_dir, model=self.model, losses=self.losses, optimizer=self.optimizer)
        self.step = int(progress["step"])
        self.best_score = float(progress["best_score"])
        self.history = list(progress["history"])
        return True

    def checkpoint(self) -> None:
        save_checkpoint(
            self.run_dir,
            model=self.model,
            losses=self.losses,
            optimizer=self.optimizer,
            progress=self.progress_record(),
        )

    def validate_now(self) -> None:
        if self.evaluate is None:
            return
        record = {"step": self.step, **self.evaluate(self.model), "task_weights": self.losses.joint.weights()}
        self.history.append(record)
        with (self.run_dir / "validation.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        self.log(f"validation step {self.step}: score {record['score']:.4f} {json.dumps(record.get('summary', {}))}")
        if record["score"] > self.best_score:
            self.best_score = record["score"]
            save_best(self.run_dir, self.model, record)

    def fit(self, *, on_step: Callable[[dict[str, Any]], None] | None = None, stop_after: int | None = None) -> None:
        """Train until `config.steps` (or `stop_after` steps in this call), checkpointing as it goes."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "train_config.json").write_text(json.dumps(asdict(self.config), indent=2), encoding="utf-8")
        done_here = 0
        started = time.perf_counter()
        while self.step < self.config.steps:
            info = self.train_step(self.step)
            self.step += 1
            done_here += 1
            info.update(step=self.step, elapsed=time.perf_counter() - started, weights=self.losses.joint.weights())
            if on_step:
                on_step(info)
            if self.step % self.config.eval_every == 0 or self.step == self.config.steps:
                self.validate_now()
            if self.step % self.config.checkpoint_every == 0 or self.step == self.config.steps:
                self.checkpoint()
            if stop_after is not None and done_here >= stop_after:
                break


class _Heads(nn.Module):
    """Calls only the heads of a network, so they can run with substituted (adapted) parameters."""

    def __init__(self, net: MultitaskNetwork) -> None:
        super().__init__()
        self.net = net

    def forward(self, pooled: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net.heads(pooled)


def meta_query_loss(
    model: MultitaskNetwork,
    losses: TaskLosses,
    task: str,
    pooled: torch.Tensor,
    target: torch.Tensor,
    support: int,
    inner_lr: float,
) -> torch.Tensor:
    """First-order MAML-like step (SoGMTL): adapt the task's head with one SGD step on the first
    `support` examples, then return the adapted head's loss on the rest (the query set).

    pooled [B, H] sentence vectors; gradients reach the encoder through the query examples and the
    original head parameters through the (first-order) adapted copies."""
    head = {n: p for n, p in model.named_parameters() if n.startswith(TASK_HEAD_PREFIX[task])}
    support_loss = losses.task_loss(task, model.heads(pooled[:support].detach()), target[:support])
    grads = torch.autograd.grad(support_loss, list(head.values()), allow_unused=True)
    merged: dict[str, torch.Tensor] = {f"net.{n}": p for n, p in model.named_parameters()}
    for (name, param), grad in zip(head.items(), grads):
        if grad is not None:
            merged[f"net.{name}"] = param - inner_lr * grad.detach()
    query = functional_call(_Heads(model), merged, (pooled[support:],))
    return losses.task_loss(task, query, target[support:])


def build_network(encoder: nn.Module, config: TrainConfig, hidden_size: int) -> MultitaskNetwork:
    """A fresh multitask network around `encoder` with the run's gate settings."""
    net_config = NetworkConfig(
        hidden_size=hidden_size,
        gate=config.gate,  # type: ignore[arg-type]
        gate_levels=config.gate_levels,
        distress_head="distress" in config.tasks,
        distress_vocab=vocab_size(encoder) if config.distress_tokens else 0,
    )
    torch.manual_seed(config.seed)
    return MultitaskNetwork(encoder, net_config)
