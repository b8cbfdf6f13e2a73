"""The provider's side of the host's wider contract: status for the host's UI, the
fail-closed lock that survives a host catching exceptions, and config for setup wizards."""

from __future__ import annotations

import logging
from typing import Any

from ..config import config_schema, save_isokron_section
from ..errors import ConfigError
from ..guard.dsn import redact_dsn
from .firing import LoopBridge

__all__ = ["HostContract"]

log = logging.getLogger("isokron.provider")


class HostContract(LoopBridge):
    """Status, lock mode and configuration (a mixin of the provider)."""

    _config_error: ConfigError | None
    _hot: tuple[int, float, str] | None

    def unavailable_reason(self) -> str | None:
        """Why isokron cannot serve right now, in one line (None when it can)."""
        if self.config is None:
            return f"not configured: {self._config_error}"
        if self._core is None:
            return "not initialized (initialize() was not called)"
        breaker = self._core.breaker.snapshot()
        if breaker["state"] == "open":
            return (f"database at {redact_dsn(self.config.dsn)} unreachable: circuit open "
                    f"for {breaker['retry_in_s']:.1f}s more")
        locked = next(iter(self._locked.items()), None)
        if locked is not None:
            return f"identity locked for workspace {locked[0]}: {locked[1]}"
        return None

    def recall_status(self) -> dict[str, Any]:
        """What recall can do now: available or not (and why), limits, the breaker."""
        reason = self.unavailable_reason()
        status: dict[str, Any] = {"available": reason is None, "reason": reason}
        if self.config is not None:
            status.update(recall_limit=self.config.recall_limit,
                          recall_max_chars=self.config.recall_max_chars)
        if self._core is not None:
            status["breaker"] = self._core.breaker.snapshot()
        return status

    def backup_paths(self) -> list[str]:
        """None: everything isokron keeps is in PostgreSQL (back it up with pg_dump)."""
        return []

    # -- fail-closed that survives the host (integrity_failure: lock) ------------------------
    def _lock(self, workspace: str, exc: BaseException) -> bool:
        """Enter the locked state for ``workspace``; False when the setting says raise."""
        if self.config is None or self.config.integrity_failure != "lock":
            return False
        first = workspace not in self._locked
        self._locked[workspace] = f"{type(exc).__name__}: {exc}"
        self._hot = None
        if first:
            log.error("isokron: the governed identity of workspace %s could not be verified "
                      "(%s); locked: no actions, writes suppressed", workspace, exc)
            if self.writes_allowed and self._core is not None:
                core, kind = self._core, self.config.actor_kind
                reason = self._locked[workspace]

                async def flag() -> None:
                    core.writes.event(workspace, f"{kind}.identity.unverified",
                                      {"reason": reason[:500]})

                self._fire("identity.unverified", flag())
        return True

    def _unlock(self, workspace: str) -> None:
        if self._locked.pop(workspace, None) is not None:
            self._hot = None
            log.warning("isokron: workspace %s verified again; unlocked", workspace)

    def _locked_block(self, workspace: str) -> str:
        return (f"§0 Identity unverified (workspace {workspace})\n"
                "  > isokron could not verify this agent's governed identity (its role "
                "charter is missing or failed its integrity check). Do not take actions or "
                "change anything: only explain this to the user and escalate to a human "
                "operator.")

    # -- configuration ----------------------------------------------------------------------
    def get_config_schema(self) -> list[dict[str, Any]]:
        """Describe every setting (the DSN is marked secret)."""
        return config_schema()

    def save_config(self, values: dict[str, Any], home: str) -> None:
        """Write ``values`` as the ``isokron:`` section of ``<home>/config.yaml`` (rest kept)."""
        save_isokron_section(values, home)

