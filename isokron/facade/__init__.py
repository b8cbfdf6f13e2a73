"""The provider's parts: :mod:`.firing` (write hooks into the engine) and :mod:`.contract`
(status, fail-closed lock, configuration). :mod:`isokron.provider` composes them."""

__all__: list[str] = []
