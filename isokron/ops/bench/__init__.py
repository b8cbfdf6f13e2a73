"""Benchmarks: the side-by-side suite (``isokron bench``, :func:`run_suite`) and the
small ones (``--suite prompt|rls|redact|redact-corpus``).

``suite`` runs the families (``memory``, ``warmup``, ``sessions``, ``episodic``,
``sweeper``, ``soak``) against the ``peers``; ``fixtures`` fills the server to size and
``_measure`` times and counts.
"""

from __future__ import annotations

from .prompt import run_prompt_bench
from .redact import run_redact_bench
from .rls import run_rls_bench
from .suite import run_suite

__all__ = ["run_prompt_bench", "run_redact_bench", "run_rls_bench", "run_suite"]
