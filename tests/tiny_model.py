"""A tiny randomly initialised model directory with the shipped layout, for tests (no download)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from monitor.model.artifact import Calibration, save_artifact
from monitor.model.network import MultitaskNetwork, NetworkConfig

_WORDS = (
    "sad grief lonely hopeless happy joy love angry afraid scared surprise fear cry tears smile "
    "the a i am is so and to of it my me you we feel today very not"
).split()


def build_tiny_tokenizer(directory: Path):
    """A word-piece tokenizer over a small vocabulary, written to `directory`."""
    from transformers import BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *_WORDS,
        *[chr(c) for c in range(ord("a"), ord("z") + 1)],
        *[f"##{chr(c)}" for c in range(ord("a"), ord("z") + 1)],
        ".",
        ",",
        "!",
        "?",
        "'",
        "#",
    ]
    (directory / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    # Loaded from the directory: the constructor's ``vocab_file`` argument is ignored by transformers 5,
    # which would give a 5-token vocabulary that reads every word as [UNK].
    tokenizer = BertTokenizerFast.from_pretrained(str(directory), do_lower_case=True)
    assert tokenizer.convert_tokens_to_ids("sad") != tokenizer.unk_token_id
    return tokenizer


def build_tiny_encoder(vocab_size: int, *, hidden: int = 32, layers: int = 2, max_positions: int = 64, seed: int = 0):
    """A small BERT encoder with random weights."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=hidden * 2,
        max_position_embeddings=max_positions,
    )
    return BertModel(config)


def build_tiny_model(
    directory: str | Path, *, window: int = 32, seed: int = 0, name: str = "tiny-test", distress: bool = False
) -> Path:
    """Write a complete, loadable model directory with random weights (``distress``: with the
    personal-distress head and its token evidence, as v3 has); returns its path."""
    directory = Path(directory)
    tokenizer = build_tiny_tokenizer(directory / "_vocab")
    encoder = build_tiny_encoder(tokenizer.vocab_size, max_positions=max(64, window), seed=seed)
    network = MultitaskNetwork(
        encoder,
        NetworkConfig(
            hidden_size=32,
            branch_size=16,
            embedding_size=8,
            distress_head=distress,
            distress_vocab=tokenizer.vocab_size if distress else 0,
        ),
    )
    if network.distress_tokens is not None:  # token weights large enough to move the distress logit
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            network.distress_tokens.weight.copy_(torch.randn(tokenizer.vocab_size, generator=generator) * 3.0)
            network.distress_tokens.idf.copy_(1.0 + 2.0 * torch.rand(tokenizer.vocab_size, generator=generator))
            network.distress_tokens.idf[tokenizer.all_special_ids] = 0.0
    save_artifact(
        directory, name=name, model=network, tokenizer=tokenizer, calibration=Calibration(), window=window, fp16=False
    )
    (directory / "metrics.json").write_text(
        json.dumps({"model": name, "note": "random weights, for tests"}), encoding="utf-8"
    )
    return directory


# Our own short Korean sentences (not from any dataset) and their classes: the tiny Korean
# network's vocabulary, and what it is built to answer for them.
KOREAN_SENTENCES = {
    "오늘 너무 슬퍼서 눈물이 났어.": "sadness",
    "요즘 혼자라는 생각에 외롭고 슬퍼.": "sadness",
    "친구가 나를 무시해서 상처받았어.": "hurt",
    "시험 결과가 나올까 봐 불안해.": "anxiety",
    "내일 면접이 있어서 걱정돼.": "anxiety",
    "동생이 내 물건을 망가뜨려서 화가 나.": "anger",
    "발표하다가 실수해서 너무 당황했어.": "embarrassment",
    "오랜만에 가족과 여행을 가서 기뻐.": "joy",
    "맛있는 저녁을 먹어서 행복해.": "joy",
}


def add_tiny_korean(directory: str | Path) -> Path:
    """Add a Korean network built by hand (``korean/``) to a model directory and seal it: each
    feature's vector is the class mix of the sentences above that hold it, so those sentences
    (and posts made of their words) get their class."""
    from monitor.labels import KOREAN_LABELS
    from monitor.model.korean import KoreanCalibration, KoreanConfig, KoreanNetwork, KoreanVocab, features
    from monitor.training.korean import write_korean

    directory = Path(directory)
    vocab = KoreanVocab.fit(list(KOREAN_SENTENCES), "bag", min_count=1)
    classes = len(KOREAN_LABELS)
    network = KoreanNetwork(KoreanConfig(kind="bag", vocab_size=len(vocab), width=classes, embedding_size=classes))
    table = torch.zeros(len(vocab), classes)
    for sentence, label in KOREAN_SENTENCES.items():
        for feature in set(features(sentence, "bag")):
            table[vocab.index[feature], KOREAN_LABELS.index(label)] += 1.0
    table = table / table.sum(dim=1, keepdim=True).clamp(min=1.0)
    with torch.no_grad():
        network.encoder.embed.weight.copy_(table)
        network.embedding.weight.copy_(torch.eye(classes))
        network.embedding.bias.zero_()
        network.classifier.weight.copy_(torch.eye(classes) * 12.0)
        network.classifier.bias.zero_()
    write_korean(directory, network.eval(), vocab, KoreanCalibration())
    return directory
