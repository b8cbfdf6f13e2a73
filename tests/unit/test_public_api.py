"""Pin the public surface: __all__ lists exactly the public names, sorted."""

from __future__ import annotations

import importlib

import pytest

import isokron

API_NAMES = {
    "MemoryProvider", "IsoKronMemoryProvider", "AsyncIsoKron", "IsoKronConfig", "load_config",
    "load_provider", "SessionContext", "RoleCharter", "RoleCharterSections", "PolicyEntry",
    "CapabilityRow", "ScratchpadEntry", "ChainEvent", "ConstitutionRevision", "IsoKronError",
    "ConfigError", "SubstrateUnavailableError", "WorkspaceNotResolvedError",
    "NoActiveRoleCharterError", "RoleCharterIntegrityError", "DeferredWriteError",
    "ScratchpadWriteNotAvailableError", "ChainEventEmitNotAvailableError", "NotOwnedError",
    "InvalidTransitionError",
}


@pytest.mark.parametrize("module", ["isokron", "isokron.readers", "isokron.stores",
                                    "isokron.testing", "isokron.errors", "isokron.models"])
def test_all_is_sorted_and_resolves(module):
    """Every name in __all__ exists, and __all__ is sorted."""
    mod = importlib.import_module(module)
    assert list(mod.__all__) == sorted(mod.__all__)
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name}"


def test_package_exports_every_contract_name():
    """API.md's names are all re-exported from isokron, and nothing public is unlisted."""
    assert set(isokron.__all__) >= API_NAMES
    public = {n for n in vars(isokron) if not n.startswith("_")
              and not isinstance(getattr(isokron, n), type(isokron))}
    assert public - {"annotations"} <= set(isokron.__all__)


def test_every_error_subclasses_the_root():
    """All exported exceptions derive from IsoKronError."""
    for name in isokron.__all__:
        obj = getattr(isokron, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, isokron.IsoKronError), name


def test_store_names_are_exported():
    """isokron.stores exports the store classes of API.md."""
    from isokron import stores

    assert {"EpisodicEventStore", "DelegationLedger", "DelegationSweeper", "SweepResult",
            "NamespaceMemory", "AgentSessionStore", "RequestContext"} <= set(stores.__all__)
