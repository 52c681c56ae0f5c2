"""Model card sections: what a re-export regenerates and what it keeps."""

from __future__ import annotations

from monitor.training.card import hand_written_sections

CARD = """# emomon-mtl-v9

Version `x`.

## Metrics

| a | b |

## Precision: int8 and bf16 beside fp32

int8 table.

## Compared with emomon-mtl-v8

old comparison.

## Targets missed, and what was tried

ablation rows.
## Limits

- English only.
"""


def test_only_sections_the_card_writer_does_not_generate_are_kept_in_order():
    kept = hand_written_sections(CARD)
    assert kept == ["## Precision: int8 and bf16 beside fp32\n\nint8 table.",
                    "## Targets missed, and what was tried\n\nablation rows."]


def test_a_card_without_hand_sections_keeps_nothing():
    assert hand_written_sections("# m\n\n## Metrics\n\nx\n\n## Limits\n\n- y\n") == []
    assert hand_written_sections("") == []
