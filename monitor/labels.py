"""The label sets emomon scores: the model's heads and the score table's columns share them."""

from __future__ import annotations

GOEMOTIONS_LABELS: tuple[str, ...] = (
    "admiration",
    "amusement",
    "anger",
    "annoyance",
    "approval",
    "caring",
    "confusion",
    "curiosity",
    "desire",
    "disappointment",
    "disapproval",
    "disgust",
    "embarrassment",
    "excitement",
    "fear",
    "gratitude",
    "grief",
    "joy",
    "love",
    "nervousness",
    "optimism",
    "pride",
    "realization",
    "relief",
    "remorse",
    "sadness",
    "surprise",
    "neutral",
)
CARER_LABELS: tuple[str, ...] = ("sadness", "joy", "love", "anger", "fear", "surprise")
BIG5_TRAITS: tuple[str, ...] = ("EXT", "NEU", "AGR", "CON", "OPN")
#: The seed study's six fine-grained depressed-emotion classes of Korean sentences (the Korean network).
KOREAN_LABELS: tuple[str, ...] = ("joy", "embarrassment", "anger", "anxiety", "hurt", "sadness")
