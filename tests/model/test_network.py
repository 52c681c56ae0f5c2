"""Network shapes and the SoGMTL gates."""

from __future__ import annotations

import pytest
import torch
from tiny_model import build_tiny_encoder

from monitor.model.network import GatedBranches, MultitaskNetwork, NetworkConfig, gate_message, mean_pool


def test_gate_messages_match_their_definitions():
    c = torch.tensor([[1.0, 2.0, -1.0]])
    assert torch.allclose(gate_message(c, "sog"), torch.softmax(c, -1) * c)
    assert torch.allclose(gate_message(c, "silg"), torch.sigmoid(c) * c)
    assert torch.allclose(gate_message(c, "sig"), torch.sigmoid(c))
    assert torch.equal(gate_message(c, "none"), torch.zeros_like(c))
    with pytest.raises(ValueError):
        gate_message(c, "tanh")  # type: ignore[arg-type]


@pytest.mark.parametrize("levels", [1, 2])
def test_branches_shapes_and_sharing(levels):
    torch.manual_seed(0)
    branches = GatedBranches(NetworkConfig(hidden_size=12, branch_size=8, gate="sog", gate_levels=levels)).eval()
    h_e, h_p = branches(torch.randn(5, 12))
    assert h_e.shape == (5, 8) and h_p.shape == (5, 8)
    # With the gate on, zeroing the personality branch's weights changes the emotion output.
    none = GatedBranches(NetworkConfig(hidden_size=12, branch_size=8, gate="none", gate_levels=levels)).eval()
    none.load_state_dict(branches.state_dict())
    x = torch.randn(3, 12)
    assert not torch.allclose(branches(x)[0], none(x)[0])


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0], [3.0], [100.0]]])
    assert mean_pool(hidden, torch.tensor([[1, 1, 0]])).item() == 2.0


def test_network_outputs_per_head():
    encoder = build_tiny_encoder(50)
    net = MultitaskNetwork(encoder, NetworkConfig(hidden_size=32, branch_size=16, embedding_size=8)).eval()
    out = net(torch.randint(5, 50, (4, 7)), torch.ones(4, 7, dtype=torch.long))
    assert out["goemotions"].shape == (4, 28) and out["carer"].shape == (4, 6)
    assert out["big5"].shape == (4, 5) and out["embedding"].shape == (4, 8)
