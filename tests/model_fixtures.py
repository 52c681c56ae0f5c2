"""Small hand-written training data and a tiny trainer for the model tests (no downloads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tiny_model import build_tiny_encoder, build_tiny_tokenizer

from monitor.model.network import MultitaskNetwork, NetworkConfig
from monitor.training.data import TaskData
from monitor.training.trainer import TrainConfig, Trainer

torch.set_num_threads(1)

SENTENCES = {
    0: ["i feel so sad and lonely today", "tears again i am hopeless", "so sad i cry", "lonely and sad tonight"],
    1: ["i am so happy today", "joy joy what a happy day", "smile so happy", "i feel happy and we smile"],
    2: ["i love you so", "love my friends so very", "we love it", "i feel love today"],
    3: ["i am so angry", "angry angry not ok", "so angry at you", "i feel angry today"],
    4: ["i am afraid and scared", "scared of the fear", "fear is it", "afraid so afraid today"],
    5: ["what a surprise", "surprise it is", "so surprise today", "i am surprise"],
}


def tiny_tasks() -> dict[str, TaskData]:
    """A few dozen sentences per task, labelled by us."""
    texts = [t for label in SENTENCES for t in SENTENCES[label]] * 2
    labels = np.asarray([label for label in SENTENCES for _ in SENTENCES[label]] * 2)
    goemo = np.zeros((len(texts), 28), dtype=np.float32)
    goemo[labels == 0, 25] = 1  # sadness
    goemo[labels == 1, 17] = 1  # joy
    goemo[labels == 2, 18] = 1  # love
    goemo[labels == 3, 2] = 1  # anger
    goemo[labels == 4, 14] = 1  # fear
    goemo[labels == 5, 26] = 1  # surprise
    big5 = np.stack([(labels % 2 == 0), labels < 3, labels == 2, labels > 3, labels == 1], axis=1).astype(np.float32)
    authors = [f"a{i % 6}" for i in range(len(texts))]
    return {
        "carer": TaskData("carer", "train", texts, labels),
        "goemotions": TaskData("goemotions", "train", texts, goemo),
        "big5": TaskData("big5", "train", texts, big5, authors),
    }


def tiny_trainer(run_dir: Path, **overrides) -> Trainer:
    """A trainer over a tiny random encoder (rebuilt identically for a given seed)."""
    tokenizer = build_tiny_tokenizer(run_dir.parent / "vocab")
    encoder = build_tiny_encoder(tokenizer.vocab_size, seed=0)
    network = MultitaskNetwork(encoder, NetworkConfig(hidden_size=32, branch_size=16, embedding_size=8))
    settings = {
        "steps": 30,
        "batch_size": 8,
        "max_length": 16,
        "lr_encoder": 1e-3,
        "lr_heads": 5e-3,
        "eval_every": 1000,
        "checkpoint_every": 10,
        "precision": "fp32",
        "device": "cpu",
        **overrides,
    }
    return Trainer(network, tokenizer, TrainConfig(**settings), tiny_tasks(), run_dir, log=lambda _m: None)
