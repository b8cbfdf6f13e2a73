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


async def test_a_coroutine_runs_to_its_end_from_inside_a_running_loop():
    """The LangChain adapter's sync methods run the embedder on a worker's own loop, so
    they work even when called from async code (where asyncio.run is refused)."""
    import asyncio

    from isokron.ops.eval_dense import _on_own_loop

    async def answer() -> list[float]:
        await asyncio.sleep(0)
        return [1.0, 2.0]

    assert _on_own_loop(answer()) == [1.0, 2.0]
