"""The impersonal-post rule: posts we wrote, one per rule and their personal counterparts."""

from __future__ import annotations

import pytest

from monitor.model.impersonal import impersonal_reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("RT @sadpoet: i cannot get out of bed again, everything hurts", "retweet"),
        ("rt @friend: I feel so hopeless tonight", "retweet"),
        ("Nobody should feel this alone via @newsdesk", "retweet"),
        ('"I am so tired of pretending to be okay" - a line from the film', "quote"),
        ("“Everything hurts and I am done” — chapter 3", "quote"),
        ("Five signs your friend is quietly struggling with depression https://example.org/a/1", "link"),
        ("SO SAD: town mourns three children lost in the flood www.example.org/news", "link"),
        ("Do you lack the energy to get out of bed? #depression #mentalhealth", "hashtags"),
        ("#sad #alone #depressed #broken", "hashtags"),
        ("Grieving Families Gather As Storm Death Toll Rises To Twelve", "headline"),
    ],
)
def test_impersonal_posts_are_named(text: str, reason: str) -> None:
    assert impersonal_reason(text) == reason


@pytest.mark.parametrize(
    "text",
    [
        "i cannot get out of bed again, everything hurts",
        "I Feel So Hopeless Tonight And Nobody Notices",  # title case, but the author speaks of themselves
        # a link the author reacts to, in the first person
        "my therapist sent me this and I cried https://example.org/a/1",
        "I'm so tired of being alone #depression",
        "we lost our dog today and the house is so quiet",
        "so tired of everything lately, can't sleep, can't eat",
        'she said "it will pass" but I do not believe it anymore',
    ],
)
def test_personal_posts_are_not_impersonal(text: str) -> None:
    assert impersonal_reason(text) is None
