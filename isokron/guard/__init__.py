"""Guards: the one redactor, sanitiser, validator and set of input limits.

Every write is redacted by :mod:`.redact`, every untrusted value rendered by
:mod:`.sanitize`, every id and argument checked by :mod:`.validate` against the limits in
:mod:`.limits`; :mod:`.dsn` masks passwords in DSNs. Nothing here does I/O.
"""

__all__: list[str] = []
