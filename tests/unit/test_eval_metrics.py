"""Pin the eval's metrics: recall@k, hit@k, MRR, no-result share, and no k past the depth."""

from __future__ import annotations

from isokron.ops.eval_recall import metrics


def test_metrics_on_a_hand_computed_case():
    """Two questions: evidence found at rank 2 (one of two turns), and nothing returned."""
    ranked = [["d9", "d1", "d3"], []]
    evidence = [frozenset({"d1", "d2"}), frozenset({"d5"})]
    out = metrics(ranked, evidence)
    assert out["recall@1"] == 0.0 and out["hit@1"] == 0.0
    assert out["recall@5"] == 0.25 and out["hit@5"] == 0.5
    assert out["mrr"] == 0.25 and out["no_result"] == 0.5


def test_no_k_deeper_than_the_lists_is_reported():
    """`--k 5`: lists cut at 5 say nothing of recall@10 or @20, so those are left out."""
    out = metrics([["a"]], [frozenset({"a"})], k_max=5)
    assert set(out) == {"recall@1", "hit@1", "recall@5", "hit@5", "mrr", "no_result"}
    assert set(metrics([["a"]], [frozenset({"a"})], k_max=20)) >= {"recall@20", "hit@20"}
