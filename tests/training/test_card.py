"""Model card sections: what a re-export writes again and what it keeps."""

from __future__ import annotations

from monitor.training.card import card_sections, hand_written_sections

CARD = """# emomon-mtl-v9

Version `x`.

## Metrics

| a | b |

## Model size on disk

written by hand.

## Compared with emomon-mtl-v8

old comparison.

## Targets missed, and what was tried

```
## not a heading: inside a code block
```
ablation rows.
## Limits

- English only.
"""
WRITTEN = {"Intended use", "Model", "Training", "Metrics", "Limits"}  # a card without a comparison


def test_sections_are_split_on_headings_outside_code_blocks():
    titles = [title for title, _ in card_sections(CARD)]
    assert titles == [
        "Metrics",
        "Model size on disk",
        "Compared with emomon-mtl-v8",
        "Targets missed, and what was tried",
        "Limits",
    ]


def test_every_section_the_new_card_does_not_write_again_is_kept_in_order():
    kept = hand_written_sections(CARD, WRITTEN)
    assert [k.splitlines()[0] for k in kept] == [
        "## Model size on disk",
        "## Compared with emomon-mtl-v8",
        "## Targets missed, and what was tried",
    ]
    assert kept[2].endswith("```\nablation rows.")


def test_a_section_written_again_replaces_the_old_one():
    kept = hand_written_sections(CARD, WRITTEN | {"Compared with emomon-mtl-v8"})
    assert all("old comparison" not in k for k in kept) and len(kept) == 2
    assert hand_written_sections("", WRITTEN) == []
