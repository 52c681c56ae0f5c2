"""Training end to end on a tiny random encoder: learning, resume, modes."""

from __future__ import annotations

import torch
from model_fixtures import tiny_trainer

from monitor.training.trainer import TrainConfig, lr_factor, task_schedule


def _mean_loss(trainer, task: str) -> float:
    losses = []
    trainer.model.eval()
    with torch.no_grad():
        for step in range(len(trainer.schedule)):
            if trainer.schedule[step] == task:
                _, rows = trainer.batch_for(step)
                ids, mask, target = trainer.tensors(task, rows)
                losses.append(float(trainer.losses.task_loss(task, trainer.model(ids, mask), target)))
    return sum(losses) / len(losses)


def test_loss_goes_down(tmp_path):
    trainer = tiny_trainer(tmp_path / "run", steps=60)
    before = {t: _mean_loss(trainer, t) for t in ("carer", "goemotions")}
    trainer.fit()
    after = {t: _mean_loss(trainer, t) for t in ("carer", "goemotions")}
    assert after["carer"] < 0.9 * before["carer"]
    assert after["goemotions"] < before["goemotions"]


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    straight = tiny_trainer(tmp_path / "a" / "run")
    straight.fit()
    interrupted = tiny_trainer(tmp_path / "b" / "run")
    interrupted.fit(stop_after=10)  # checkpoint_every=10: a checkpoint at step 10
    resumed = tiny_trainer(tmp_path / "b" / "run")
    assert resumed.resume() and resumed.step == 10
    resumed.fit()
    for (name, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), name


def test_meta_mode_and_dynamic_weights_train(tmp_path):
    trainer = tiny_trainer(tmp_path / "run", mode="meta", joint="dynamic", steps=12)
    trainer.fit()
    weights = trainer.losses.joint.weights()
    assert abs(sum(weights.values()) - 3.0) < 1e-5
    assert weights != {"goemotions": 1.0, "carer": 1.0, "big5": 1.0}  # theta moved


def test_schedule_alternates_and_samples_deterministically():
    alt = task_schedule(TrainConfig(steps=6, mode="alternate"))
    assert alt == ["goemotions", "carer", "big5"] * 2
    assert task_schedule(TrainConfig(steps=50)) == task_schedule(TrainConfig(steps=50))


def test_learning_rate_warms_up_then_decays():
    cfg = TrainConfig(steps=100, warmup_fraction=0.1)
    assert lr_factor(0, cfg) == 0.1
    assert lr_factor(9, cfg) == 1.0
    assert lr_factor(55, cfg) == 0.5
    assert lr_factor(100, cfg) == 0.0
