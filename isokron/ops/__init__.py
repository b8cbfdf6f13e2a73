"""Operations: the ``isokron`` command and what it runs (doctor, demo, bench, chain
heads). Nothing below imports this wing."""

__all__: list[str] = []
