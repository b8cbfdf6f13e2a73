"""``isokron charter set W FILE``: make FILE the active role charter of W (as the owner).

FILE is markdown in the hashed format or YAML of the same parts (see
:mod:`isokron.ops.charter_file`). The row is checked with the reader's own verification
(``verify_charter``) before it is written, so what is stored is what every turn accepts;
the charter it replaces is superseded, and the same charter again changes nothing.
"""

from __future__ import annotations

import argparse

from ...errors import InvalidInputError, RoleCharterIntegrityError
from ._args import Refused
from ._owner import as_owner

__all__ = ["cmd_charter"]


def cmd_charter(args: argparse.Namespace) -> int:
    """Read, check and store the charter; say what changed and its SHA-256."""
    from ...ops.charter_file import CHARTER_SCHEMA, read_charter_file
    from ...readers.charter import verify_charter
    from ...stores.identity import set_charter

    try:
        doc = read_charter_file(args.file)
        verify_charter(args.workspace, {
            "id": "unsaved", "workspace_id": args.workspace, "schema_version": CHARTER_SCHEMA,
            "content_md": doc.content_md, "content_jsonb": doc.content,
            "content_hash": doc.content_hash, "created_at": None})
    except (InvalidInputError, RoleCharterIntegrityError) as exc:
        raise Refused(str(exc)) from None
    done = as_owner(args, lambda pool: set_charter(pool, args.workspace, doc.content_md,
                                                   doc.content_hash, doc.content))
    version = doc.content["charter_version"]
    print(f"charter of {args.workspace}: {done}, v{version}, sha256 {doc.content_hash}")
    for heading in doc.ignored_headings:
        print(f"note: '## {heading}' is not a charter section: stored and hashed, not shown")
    return 0
