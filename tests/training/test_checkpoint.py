"""Checkpoint files: safetensors + JSON, optimiser state restored exactly."""

from __future__ import annotations

import torch

from monitor.training.checkpoint import load_checkpoint, save_checkpoint


def test_roundtrip_restores_weights_and_optimizer(tmp_path):
    torch.manual_seed(0)
    model, losses = torch.nn.Linear(3, 2), torch.nn.Linear(1, 1)
    opt = torch.optim.AdamW(list(model.parameters()) + list(losses.parameters()), lr=0.1)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    save_checkpoint(tmp_path, model=model, losses=losses, optimizer=opt, progress={"step": 1})
    model2, losses2 = torch.nn.Linear(3, 2), torch.nn.Linear(1, 1)
    opt2 = torch.optim.AdamW(list(model2.parameters()) + list(losses2.parameters()), lr=0.1)
    assert load_checkpoint(tmp_path, model=model2, losses=losses2, optimizer=opt2) == {"step": 1}
    assert torch.equal(model.weight, model2.weight)
    s1, s2 = opt.state_dict()["state"][0], opt2.state_dict()["state"][0]
    assert torch.equal(s1["exp_avg"], s2["exp_avg"]) and torch.equal(s1["exp_avg_sq"], s2["exp_avg_sq"])
    assert not list(tmp_path.glob("*.pt"))
