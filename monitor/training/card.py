"""MODEL_CARD.md for a shipped model directory, written from its measured files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TRAITS = ("EXT", "NEU", "AGR", "CON", "OPN")


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def metrics_section(m: dict[str, Any]) -> list[str]:
    lines = [f"All figures on the **{m.get('split', 'test')}** splits; thresholds, temperatures and the index "
             "calibration were fitted on the validation splits only.", "",
             "| task | metric | emomon-mtl-v1 | target |", "|---|---|---|---|",
             f"| CARER (2,000 test tweets) | accuracy | {_pct(m['carer']['accuracy'])} | >= 93.5% |",
             f"| CARER | macro-F1 | {m['carer']['macro_f1']:.4f} | >= 0.89 |",
             f"| GoEmotions (5,427 test comments) | macro-F1, 28 labels, tuned thresholds | {m['goemotions']['macro_f1']:.4f} | >= 0.50 |",
             f"| GoEmotions | macro-F1, Ekman groups | {m['goemotions']['macro_f1_ekman']:.4f} | |",
             f"| GoEmotions | macro-F1 at a flat 0.5 threshold | {m['goemotions']['macro_f1_at_0.5']:.4f} | |",
             f"| depression index | AUROC (related emotion vs not) | {m['depression_index']['auroc']:.4f} | |", "",
             f"Big Five on myPersonality test authors ({m['big5']['authors']} authors, author-disjoint split):", "",
             "| trait | status acc | status macro-F1 | status majority | author acc | author macro-F1 | author majority |",
             "|---|---|---|---|---|---|---|"]
    for t in TRAITS:
        s, a = m["big5"]["status"][t], m["big5"]["author"][t]
        lines.append(f"| {t} | {_pct(s['accuracy'])} | {s['macro_f1']:.3f} | {_pct(s['majority'])} | "
                     f"{_pct(a['accuracy'])} | {a['macro_f1']:.3f} | {_pct(a['majority'])} |")
    above = sum(m["big5"]["author"][t]["accuracy"] > m["big5"]["author"][t]["majority"] for t in TRAITS)
    lines += ["", f"Author level above the majority baseline on {above} of 5 traits (target: 4 of 5).", "",
              "Calibration (expected calibration error, 15 bins):", "", "| head | before | after temperature |",
              "|---|---|---|"]
    for head in ("carer", "goemotions", "big5"):
        e = m["ece"][head]
        lines.append(f"| {head} | {e['before']:.4f} | {e['after']:.4f} |")
    lines += ["", "CARER confusion matrix (rows true, columns predicted; " + ", ".join(m["carer"]["labels"]) + "):", ""]
    lines += ["    " + " ".join(f"{v:5d}" for v in row) for row in m["carer"]["confusion"]]
    return lines


def baselines_section(b: dict[str, Any]) -> list[str]:
    t, l = b["tfidf"], b["lstm"]
    lines = ["Same splits, same harness (`emomon evaluate --baselines`):", "",
             "| model | CARER acc | CARER macro-F1 | GoEmotions macro-F1 | Big5 author acc > majority |",
             "|---|---|---|---|---|",
             f"| TF-IDF + logistic regression | {_pct(t['carer']['accuracy'])} | {t['carer']['macro_f1']:.4f} | "
             f"{t['goemotions']['macro_f1']:.4f} | "
             f"{sum(t['big5']['author'][x]['accuracy'] > t['big5']['author'][x]['majority'] for x in TRAITS)} of 5 |",
             f"| BiLSTM (CARER only) | {_pct(l['carer']['accuracy'])} | {l['carer']['macro_f1']:.4f} | | |"]
    return lines


def ablation_section(a: dict[str, Any]) -> list[str]:
    lines = [f"Reduced budget: {a['budget']}. Higher is better; the score is CARER macro-F1 + GoEmotions macro-F1 "
             "+ 0.5 x mean Big Five macro-F1.", "",
             "| variant | CARER acc | CARER macro-F1 | GoEmotions macro-F1 | Big5 status macro-F1 | score |",
             "|---|---|---|---|---|---|"]
    for r in a["rows"]:
        def f(key: str) -> str:
            return f"{r[key]:.4f}" if key in r else "-"
        lines.append(f"| {r['variant']} | {f('carer_accuracy')} | {f('carer_macro_f1')} | "
                     f"{f('goemotions_macro_f1_tuned')} | {f('big5_status_macro_f1')} | {f('score')} |")
    return lines


def write_model_card(model_dir: Path, *, baselines: dict[str, Any] | None = None, ablation: dict[str, Any] | None = None,
                     training_notes: str = "", ablation_notes: str = "") -> Path:
    """Write MODEL_CARD.md from metrics.json, config.json and optional baseline/ablation results."""
    metrics = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    training = config.get("training", {})
    tc = training.get("train_config", {})
    size_mb = sum(f.stat().st_size for f in model_dir.rglob("*") if f.is_file()) / 1e6
    lines = [
        f"# {config['name']}", "",
        f"Version `{config['version']}`; format `{config['format']}`; {size_mb:.1f} MB on disk; weights in "
        "safetensors (fp16), loaded without pickle; self-contained (encoder config and tokenizer included).", "",
        "## Intended use", "",
        "Decision support for a named team of human reviewers watching social-media text streams with emomon: "
        "it estimates fine-grained emotions (GoEmotions, 28 labels; CARER, 6 classes), a depression-related "
        "emotion index and Big Five traits of short English posts so that trends can be shown and a person can "
        "decide whether to look closer. **It is not a diagnostic instrument.** A high index means a post "
        "expresses sadness, grief, fear or similar emotions, not that its author is depressed. Never use it to "
        "make decisions about individuals without human review, and do not use it for employment, insurance, "
        "policing or any automated action.", "",
        "## Model", "",
        f"Shared encoder all-MiniLM-L6-v2 (6 layers, 384 wide, mean pooling) fine-tuned end to end; emotion and "
        f"personality branches ({config['network']['branch_size']} wide) exchanging information through "
        f"{config['network']['gate'].upper()} gates (SoGMTL, m = softmax(c) * c, h = c' + m); heads for "
        "GoEmotions (sigmoid, per-label thresholds tuned on validation), CARER (softmax over a 128-d emotion "
        "embedding) and Big Five (sigmoid). CARER is trained with the combined metric loss "
        f"{tc.get('metric', {})}; GoEmotions with binary cross-entropy; Big Five with the multilabel soft-margin "
        f"loss. Joint loss: {tc.get('joint', '?')} weights, task batches {tc.get('mode', '?')}d with probabilities "
        f"{tc.get('task_probs', {})}. Window {config['window']} tokens: longer posts are scored on overlapping "
        "windows (max for emotions, mean for traits).", "",
        "## Training", "",
        f"AdamW (encoder lr {tc.get('lr_encoder')}, heads lr {tc.get('lr_heads')}), warm-up then linear decay, "
        f"gradient clipping {tc.get('clip_norm')}, bf16 autocast on CPU, batch {tc.get('batch_size')}, "
        f"{tc.get('steps')} steps, seed {tc.get('seed')}; checkpoint selected on the validation splits at step "
        f"{training.get('selected_step')}. {training_notes}", "",
        "## Data and licences", "",
        "- CARER (Saravia et al., EMNLP 2018; DAIR.AI split 16,000/2,000/2,000): educational and research "
        "purposes only. Do not use CARER-trained weights commercially without checking its terms.",
        "- GoEmotions (Demszky et al., ACL 2020; 43,410/5,426/5,427 Reddit comments): code Apache-2.0, data CC BY 4.0.",
        "- myPersonality sample (WCPR 2013; 9,917 Facebook statuses of 250 authors): research use only. Split "
        "by author (70/15/15, seed in `mypersonality_authors.json`, which lists the author ids of each split).",
        "",
        "This model is released for research and monitoring use under those terms.", "",
        "## Metrics", "", *metrics_section(metrics), "",
    ]
    if baselines:
        lines += ["## Baselines", "", *baselines_section(baselines), ""]
    if ablation:
        lines += ["## Ablation", "", *ablation_section(ablation), "", *([ablation_notes, ""] if ablation_notes else [])]
    lines += [
        "## Limits", "",
        "- English only; posts in other languages are skipped by `emomon score`, not scored.",
        "- Trained on short social-media text (tweets, Reddit comments, Facebook statuses); long-form text, "
        "irony, quotes and reported speech are often misread.",
        "- Personality from single posts is a weak signal: per-status Big Five accuracy is near the majority "
        "baseline; only author-level means over many posts carry some information, and even they are unreliable.",
        "- CARER labels come from hashtags and its texts are lower-cased without punctuation; scores on "
        "ordinary text are less certain than the CARER test figure suggests.",
        "- The depression index is calibrated on GoEmotions and CARER validation labels of related emotions; it "
        "has not been validated against clinical outcomes and must not be read as a risk score.",
        "- Biases of the source datasets (Reddit and Twitter demographics, annotator disagreement) carry over.", "",
    ]
    path = model_dir / "MODEL_CARD.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
