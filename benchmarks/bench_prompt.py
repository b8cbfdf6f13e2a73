"""Print JSON timings of the cold warm-up and the warm identity block (embedded PostgreSQL)."""

from __future__ import annotations

import json

from isokron.ops.bench import run_prompt_bench

if __name__ == "__main__":
    print(json.dumps(run_prompt_bench()))
