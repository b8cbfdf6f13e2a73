"""Guards: the one redactor, sanitiser, validator and set of input limits.

Every write is redacted by :mod:`.redact` (its rules in :mod:`.redact_rules` and
:mod:`.redact_cards`, run on the views of :mod:`.normalize`), every untrusted value
rendered by :mod:`.sanitize`, every id and argument checked by :mod:`.validate` against
the limits in :mod:`.limits`; :mod:`.dsn` masks passwords in DSNs; :mod:`.context_token`
signs tenant contexts; :mod:`.settings` checks configuration values and names a
mistyped key (with the known key it most likely meant). Nothing here does I/O but
:mod:`.files`, which writes files that may hold a secret readable by their owner only.
"""

__all__: list[str] = []
