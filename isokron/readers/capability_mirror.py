"""Hold the packaged mirror of the ``kora`` column of ``actor_capability_matrix``.

Used only when the table has no rows for the actor kind (a fresh or partial
substrate). ``isokron doctor`` compares it with the table in both directions.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["KORA_CAPABILITY_MIRROR"]

_KORA: dict[str, bool] = {
    # reading the governed identity
    "cap_read_role_charter": True,
    "cap_read_policy_registry": True,
    "cap_read_capability_matrix": True,
    "cap_read_constitution": True,
    "cap_read_event_log": True,
    "cap_verify_event_chain": True,
    "cap_read_agent_scratchpad": True,
    "cap_read_cross_agent_scratchpad": True,
    # working memory and memory stores
    "cap_write_agent_scratchpad": True,
    "cap_supersede_own_scratchpad": True,
    "cap_tombstone_scratchpad": False,
    "cap_memory_commit_workspace": True,
    "cap_memory_commit_team": True,
    "cap_memory_commit_org": False,
    "cap_memory_search": True,
    "cap_memory_forget_own": True,
    # delegation and routing
    "cap_delegate_to_sea": True,
    "cap_delegate_to_claude_pm": True,
    "cap_delegate_to_external_vendor": False,
    "cap_route_decision_record": True,
    "cap_cancel_delegation": True,
    "cap_retry_failed_delegation": True,
    # chain events
    "cap_emit_chain_event": True,
    "cap_emit_security_event": False,
    # policy and governance (reserved for humans)
    "cap_modify_policy_registry": False,
    "cap_modify_role_charter": False,
    "cap_amend_constitution": False,
    "cap_grant_capability": False,
    "cap_revoke_capability": False,
    "cap_override_nonsecurity_policy": True,
    "cap_override_security_policy": False,
    "cap_disable_kora": False,
    # workspace operations
    "cap_read_workspace_settings": True,
    "cap_modify_workspace_settings": False,
    "cap_invite_member": False,
    "cap_remove_member": False,
    "cap_read_member_directory": True,
    "cap_read_billing": False,
    "cap_modify_billing": False,
    # tools and output
    "cap_call_internal_tools": True,
    "cap_call_external_http": False,
    "cap_send_email": False,
    "cap_post_to_chat": True,
    "cap_create_ticket": True,
    "cap_close_ticket": True,
    "cap_pull_large_output": True,
    "cap_export_workspace_data": False,
    "cap_delete_workspace_data": False,
    "cap_schedule_followup": True,
    "cap_summarise_session": True,
    "cap_escalate_to_human": True,
    "cap_read_audit_trail": True,
    # conventions: blessing one is a human decision, so is taking the blessing back
    "cap_unbless_convention": False,
}

#: cap_name -> granted, for actor kind ``kora``; read-only.
KORA_CAPABILITY_MIRROR: Mapping[str, bool] = MappingProxyType(_KORA)
