"""The fused bf16 CPU encoder: same outputs as the Hugging Face forward, used only where it applies."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from tiny_model import build_tiny_encoder, build_tiny_model

from monitor.model.fused_encoder import FusedBertEncoder, fuse_encoder, fusion_available, unsupported_reason
from monitor.model.predictor import load_model

needs_fusion = pytest.mark.skipif(not fusion_available(), reason="no oneDNN bf16 fused kernels in this torch build")


def bf16_encoder(seed: int = 0) -> torch.nn.Module:
    """A tiny BERT whose random weights are large enough that attention, masking and the GELU
    variant all visibly change the output (at BERT's usual 0.02 init they barely do)."""
    encoder = build_tiny_encoder(120, seed=seed)
    with torch.no_grad():
        for name, parameter in encoder.named_parameters():
            if parameter.dim() == 2 and "embeddings" not in name:
                parameter.mul_(12.0)
    return encoder.eval().to(torch.bfloat16)


def padded_batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(5, 120, (4, 17), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    mask[3, 2:] = 0
    ids[mask == 0] = 0
    return ids, mask


@needs_fusion
def test_fused_forward_matches_the_original_on_every_real_token():
    encoder = bf16_encoder()
    ids, mask = padded_batch()
    with torch.inference_mode():
        expected = encoder(input_ids=ids, attention_mask=mask).last_hidden_state.float()
        actual = FusedBertEncoder(encoder).eval()(ids, mask).last_hidden_state.float()
    keep = mask.bool()
    assert actual.shape == expected.shape
    assert float((actual - expected)[keep].abs().max()) < 0.1
    # bf16 rounding, not a different computation: the two agree far better than unrelated states.
    assert float((actual - expected)[keep].abs().mean()) < 0.02


@needs_fusion
def test_padding_does_not_change_a_posts_hidden_states():
    fused = FusedBertEncoder(bf16_encoder()).eval()
    ids, mask = padded_batch()
    with torch.inference_mode():
        batched = fused(ids, mask).last_hidden_state.float()
        alone = fused(ids[1:2, :9], mask[1:2, :9]).last_hidden_state.float()
    assert torch.allclose(batched[1, :9], alone[0], atol=0.05)


@needs_fusion
def test_fuse_encoder_accepts_a_bf16_bert():
    assert unsupported_reason(bf16_encoder()) is None
    assert isinstance(fuse_encoder(bf16_encoder()), FusedBertEncoder)


def test_fp32_weights_keep_the_original_forward(caplog):
    encoder = build_tiny_encoder(120).eval()
    assert unsupported_reason(encoder) == "weights are not bf16 on the CPU"
    with caplog.at_level(logging.INFO, logger="monitor.model.fused_encoder"):
        assert fuse_encoder(encoder) is None
    assert "not bf16" in caplog.text


def test_other_activations_and_architectures_are_refused():
    encoder = bf16_encoder()
    encoder.config.hidden_act = "gelu_new"
    assert "not erf GELU" in (unsupported_reason(encoder) or "")
    assert unsupported_reason(torch.nn.Linear(3, 3)) == "not a BERT encoder"


@needs_fusion
def test_predictor_uses_the_fused_path_in_bf16_and_scores_like_the_original(tmp_path):
    path = build_tiny_model(tmp_path / "m")
    fused = load_model(path, device="cpu", precision="bf16")
    standard = load_model(path, device="cpu", precision="bf16", fused=False)
    plain = load_model(path, device="cpu", precision="fp32")
    assert (fused.encoder_path, standard.encoder_path, plain.encoder_path) == ("fused", "standard", "standard")
    texts = ["i feel so sad and lonely today", "happy", "we love it " * 20]
    a = np.array([r["depression_index"] for r in fused.predict(texts)])
    b = np.array([r["depression_index"] for r in standard.predict(texts)])
    assert np.allclose(a, b, atol=0.02)
