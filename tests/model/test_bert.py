"""The package's BERT encoder against transformers' BertModel, on the same weights."""

from __future__ import annotations

import torch
from tiny_model import build_tiny_model

from monitor.model.artifact import read_artifact
from monitor.model.bert import BertEncoder


def test_bert_encoder_matches_transformers_on_padded_batches(tmp_path):
    from transformers import AutoConfig, AutoModel

    path = build_tiny_model(tmp_path / "m")
    _, network, _, _ = read_artifact(path)
    assert isinstance(network.encoder, BertEncoder)
    reference = AutoModel.from_config(AutoConfig.from_pretrained(path / "encoder")).eval()
    reference.set_attn_implementation("eager")
    state = {k.removeprefix("encoder."): v for k, v in network.state_dict().items() if k.startswith("encoder.")}
    missing, unexpected = reference.load_state_dict(state, strict=False)
    assert not unexpected and all(k.startswith("pooler.") for k in missing)
    ids = torch.randint(0, network.encoder.config.vocab_size, (3, 11), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    mask[2, 2:] = 0
    with torch.inference_mode():
        ours = network.encoder(ids, mask).last_hidden_state
        theirs = reference(input_ids=ids, attention_mask=mask).last_hidden_state
    keep = mask.bool()
    assert torch.allclose(ours[keep], theirs[keep], atol=1e-5)


def test_loading_and_scoring_do_not_import_transformers(tmp_path):
    """Scoring needs torch, tokenizers and safetensors; transformers is in the train extra only."""
    import subprocess
    import sys

    path = build_tiny_model(tmp_path / "m")
    code = (
        "import sys; from monitor.model.predictor import load_model; "
        "load_model(sys.argv[1], precision='fp32').predict(['a post']); "
        "print(any(name.split('.')[0] == 'transformers' for name in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
