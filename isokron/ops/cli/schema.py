"""``isokron schema dump``: write the whole schema the migrations leave."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..catalog import write_catalog
from ..schema_dump import CURRENT_SCHEMA_PATH, catalog_manifest, dump_fresh, dump_schema
from ._interrupt import run

__all__ = ["cmd_schema"]


def cmd_schema(args: argparse.Namespace) -> int:
    """Dump the schema of ``--dsn`` (or of a throwaway embedded server migrated from zero)."""
    manifest: dict[str, Any] | None = None
    if args.dsn:
        text = run(dump_schema(args.dsn, pg_dump=args.pg_dump))
        if args.catalog_out:
            manifest = run(catalog_manifest(args.dsn))
    else:
        text, manifest = run(dump_fresh(args.pg_dump,
                                                with_catalog=bool(args.catalog_out)))
    if manifest is not None:
        print(f"wrote {write_catalog(manifest, args.catalog_out)}", file=sys.stderr)
    out = args.out or str(CURRENT_SCHEMA_PATH)
    if out == "-":
        sys.stdout.write(text)
    else:
        Path(out).write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {out}", file=sys.stderr)
    return 0
