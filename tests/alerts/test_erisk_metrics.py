"""The eRisk-style alert figures (monitor.alerts.evaluation) on small collections worked by hand."""

from __future__ import annotations

import math

import pytest

from monitor.alerts import evaluation as ev
from monitor.alerts.evaluation import Subject

# Two positive authors (onsets at posts 10 and 1) and two negative ones: c_fp = 2 / 4.
COLLECTION = [
    Subject("pos-late", posts=30, onset=10, days=5.0),
    Subject("pos-missed", posts=20, onset=1, days=0.0),
    Subject("neg-alerted", posts=40, onset=None, days=10.0),
    Subject("neg-quiet", posts=10, onset=None, days=5.0),
]
# pos-late: an alert before the onset (post 3, false) and the decision at post 14 (k = 5).
FIRED = {"pos-late": [3, 14, 20], "neg-alerted": [7, 30]}


def test_latency_cost_is_half_at_o_and_follows_the_papers_sigmoid() -> None:
    assert ev.latency_cost(5, 5) == pytest.approx(0.5)
    assert ev.latency_cost(1, 5) == pytest.approx(1 - 1 / (1 + math.exp(-4)))
    assert ev.latency_cost(60, 50) == pytest.approx(1 - 1 / (1 + math.exp(10)))
    assert ev.latency_cost(1, 50) < 1e-20


def test_erde_cost_of_each_outcome() -> None:
    assert ev.erde_cost(True, False, None, 5, c_fp=0.13) == 0.13  # false positive
    assert ev.erde_cost(False, True, None, 5, c_fp=0.13) == 1.0  # false negative
    assert ev.erde_cost(False, False, None, 5, c_fp=0.13) == 0.0  # true negative
    assert ev.erde_cost(True, True, 5, 5, c_fp=0.13) == pytest.approx(0.5)  # true positive at k = o
    with pytest.raises(ValueError):
        ev.erde_cost(True, True, None, 5, c_fp=0.13)


def test_decisions_count_posts_from_the_onset_and_ignore_earlier_alerts() -> None:
    assert ev.decisions(COLLECTION, FIRED) == {"pos-late": 5, "pos-missed": None}


def test_erde_over_a_collection() -> None:
    # pos-late lc_o(5), pos-missed 1, neg-alerted c_fp = 0.5, neg-quiet 0; mean over 4 authors.
    assert ev.erde(COLLECTION, FIRED, 5) == pytest.approx((0.5 + 1.0 + 0.5 + 0.0) / 4)
    assert ev.erde(COLLECTION, FIRED, 50) == pytest.approx((ev.latency_cost(5, 50) + 1.0 + 0.5) / 4)
    assert ev.erde(COLLECTION, {}, 5) == pytest.approx(2 / 4)  # silence costs the two positives
    assert math.isnan(ev.erde([], FIRED, 5))


def test_an_earlier_decision_costs_less() -> None:
    early = {"pos-late": [10], "pos-missed": [1]}
    late = {"pos-late": [25], "pos-missed": [8]}
    assert ev.erde(COLLECTION, early, 5) < ev.erde(COLLECTION, late, 5)
    assert ev.erde(COLLECTION, early, 5) == pytest.approx(2 * ev.latency_cost(1, 5) / 4)


def test_median_delay_in_posts() -> None:
    assert ev.median_delay(COLLECTION, FIRED) == 4.0  # onset 10, alert 14
    assert ev.median_delay(COLLECTION, {"pos-late": [10], "pos-missed": [5]}) == 2.0  # delays 0 and 4
    assert math.isnan(ev.median_delay(COLLECTION, {"neg-alerted": [1]}))


def test_false_alerts_per_1000_author_days() -> None:
    # neg-alerted's two alerts and pos-late's alert before its onset, over 5 + 0 + 10 + 5 days.
    assert ev.false_alerts(COLLECTION, FIRED) == 3
    assert ev.false_alerts_per_1000_days(COLLECTION, FIRED) == pytest.approx(1000 * 3 / 20)
    assert ev.false_alerts_per_1000_days(COLLECTION, {"pos-late": [10, 20]}) == 0.0


def test_latency_penalty_and_its_rate() -> None:
    assert ev.latency_penalty(1, 0.0078) == 0.0
    assert ev.latency_penalty(10, 0.5) == pytest.approx(-1 + 2 / (1 + math.exp(-4.5)))
    p = ev.penalty_rate(21)
    assert ev.latency_penalty(21, p) == pytest.approx(0.5)
    assert ev.latency_penalty(2000, p) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        ev.penalty_rate(1)


def test_f_latency_is_f1_times_speed() -> None:
    # tp = pos-late; fp = neg-alerted; fn = pos-missed: F1 = 2 / (2 + 1 + 1).
    assert ev.confusion(COLLECTION, FIRED) == (1, 1, 1)
    p = 0.1
    assert ev.f_latency(COLLECTION, FIRED, p) == pytest.approx(0.5 * (1 - ev.latency_penalty(5, p)))
    # The default p puts the penalty at 0.5 at the median stream length (25 posts).
    median_p = ev.penalty_rate(25)
    assert ev.f_latency(COLLECTION, FIRED) == pytest.approx(0.5 * (1 - ev.latency_penalty(5, median_p)))
    perfect = {"pos-late": [10], "pos-missed": [1]}
    assert ev.f_latency(COLLECTION, perfect, p) == pytest.approx(1.0)
    assert ev.f_latency(COLLECTION, {"neg-quiet": [2]}, p) == 0.0


def test_a_positive_alerted_only_before_its_onset_is_a_false_positive() -> None:
    fired = {"pos-late": [3], "pos-missed": [1]}
    figures = ev.summarize(COLLECTION, fired)
    assert figures["detection"] == 0.5
    assert figures["precision"] == 0.5


def test_summarize_carries_every_figure() -> None:
    figures = ev.summarize(COLLECTION, FIRED)
    assert set(figures) == {
        "detection",
        "median_delay_posts",
        "false_alerts_per_1000_author_days",
        "precision",
        "erde5",
        "erde50",
        "f_latency",
    }
    assert figures["detection"] == 0.5
    assert figures["precision"] == 0.5
    assert figures["median_delay_posts"] == 4.0


def test_subjects_reject_an_onset_outside_the_stream() -> None:
    with pytest.raises(ValueError, match="onset"):
        Subject("x", posts=3, onset=4, days=1.0)
    with pytest.raises(ValueError, match="days"):
        Subject("x", posts=3, onset=None, days=-1.0)
