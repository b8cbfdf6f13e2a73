"""Build the ``isokron`` argument parser: every subcommand, its options and its handler."""

from __future__ import annotations

import argparse

from ..._version import __version__
from ._args import (
    Parser,
    directory_type,
    dsn_type,
    fingerprint_type,
    positive_float,
    positive_int,
    program_type,
    readable_file,
    receipt_type,
    user_type,
    workspace_type,
    writable_file,
)
from .bench import cmd_bench
from .charter import cmd_charter
from .context_key import cmd_context_key
from .demo import cmd_demo
from .doctor import cmd_doctor
from .embed import cmd_embed
from .erase import cmd_erase
from .eval import cmd_eval
from .hermes import cmd_hermes_install
from .mcp import cmd_mcp
from .memory import cmd_memory
from .migrate import cmd_migrate
from .policy import cmd_policy
from .prompt import cmd_prompt
from .quota import cmd_quota
from .schema import cmd_schema
from .setup import cmd_setup
from .sweep import cmd_sweep
from .up import cmd_up
from .workspace import cmd_workspace

__all__ = ["DESCRIPTION", "build_parser"]

#: The first sentence ``isokron --help`` shows (build_parser adds every subcommand's name).
DESCRIPTION = "isokron: governed memory for AI agent loops, on PostgreSQL."
_WORKSPACE_HELP = "the workspace (organisation) id, e.g. org_2abc"


def _with_dsn(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--dsn", type=dsn_type, help="PostgreSQL DSN (default: $ISOKRON_DSN)")
    return p


#: --quiet, wherever long work reports its progress
_QUIET = "no progress on stderr (a bar on a terminal, plain lines otherwise)"


def _add_bench(sub: argparse._SubParsersAction[Parser]) -> None:
    bench = sub.add_parser("bench", help="time cold warm-up and warm block; print JSON")
    bench.add_argument("--workspaces", type=positive_int,
                       help="workspaces for --suite prompt (default 20)")
    bench.add_argument("--warm-calls", type=positive_int,
                       help="warm-block calls for --suite prompt (default 10000)")
    bench.add_argument("--suite", choices=("all", "prompt", "rls", "redact", "redact-corpus"),
                       default="all",
                       help="all: the side-by-side suite with pass flags (needs the bench "
                            "extra); prompt: cold warm-up and warm block; rls: memory search "
                            "latency with row-level security on and off; redact: "
                            "redaction time for a 10 KB message; redact-corpus: secret "
                            "formats caught, false positives per MB and time per KB, beside "
                            "detect-secrets when it is installed")
    bench.add_argument("--quick", action="store_true",
                       help="smaller sizes (under 2 minutes): a smoke test of the JSON shape")
    bench.add_argument("--dsn", type=dsn_type,
                       help="run on this server (owner DSN) instead of a throwaway "
                            "embedded one (never $ISOKRON_DSN)")
    bench.add_argument("--out", type=writable_file,
                       help="also write the JSON document to this file")
    bench.add_argument("--records", type=positive_int,
                       help="memory rows for --suite rls (default 10000)")
    bench.add_argument("--quiet", action="store_true", help=_QUIET)
    bench.set_defaults(func=cmd_bench)


def _add_memory(sub: argparse._SubParsersAction[Parser]) -> None:
    memory = sub.add_parser("memory", help="operate on namespaced memory")
    memory_sub = memory.add_subparsers(dest="memory_command", required=True,
                                       parser_class=Parser)
    purge = _with_dsn(memory_sub.add_parser(
        "purge-workspace", help="remove a workspace's memory (its namespace; shared ones "
        "nobody else reads)"))
    purge.add_argument("--workspace", required=True, type=workspace_type,
                       help="the workspace whose memory goes")
    purge.set_defaults(func=cmd_memory)
    export = _with_dsn(memory_sub.add_parser(
        "export", help="write everything a workspace's tree can read as JSON lines"))
    export.add_argument("--workspace", required=True, type=workspace_type,
                        help="the workspace whose tree is exported")
    export.add_argument("--out", type=writable_file,
                        help="write to this file (default: standard output)")
    export.add_argument("--quiet", action="store_true", help=_QUIET)
    export.set_defaults(func=cmd_memory)
    load = _with_dsn(memory_sub.add_parser(
        "import", help="write an export into one tree, all or nothing (idempotent; secrets "
        "redacted again; the schema owner's DSN)"))
    load.add_argument("file", type=readable_file,
                      help="JSON lines written by isokron memory export")
    load.add_argument("--workspace", required=True, type=workspace_type,
                      help="the root of the tree the file goes into: any line naming another "
                      "workspace, tree or root refuses the import")
    load.add_argument("--max-items", type=positive_int, default=1_000_000,
                      help="refuse a file with more items (default 1000000)")
    load.add_argument("--max-item-bytes", type=positive_int, default=256 * 1024,
                      help="refuse a line longer than this (default 262144)")
    load.add_argument("--max-total-bytes", type=positive_int, default=1024 ** 3,
                      help="refuse a file larger than this (default 1 GiB)")
    load.add_argument("--quiet", action="store_true", help=_QUIET)
    load.set_defaults(func=cmd_memory)
    dedup = _with_dsn(memory_sub.add_parser(
        "dedup", help="list the duplicate memories an upgrade kept (marked, never merged "
        "silently); --merge folds each into the older one"))
    dedup.add_argument("--merge", action="store_true",
                       help="fold them: the older memory's seen_count grows, the copies go")
    dedup.set_defaults(func=cmd_memory)


def _add_context_key(sub: argparse._SubParsersAction[Parser]) -> None:
    keys = sub.add_parser("context-key", help="the keys PostgreSQL verifies signed tenant "
                          "contexts with (the schema owner's DSN)")
    keys_sub = keys.add_subparsers(dest="context_key_command", required=True,
                                   parser_class=Parser)
    _with_dsn(keys_sub.add_parser(
        "set", help="install the key in $ISOKRON_CONTEXT_KEY (from then on every "
        "connection must sign its context)")).set_defaults(func=cmd_context_key)
    _with_dsn(keys_sub.add_parser("list", help="the installed keys' fingerprints")
              ).set_defaults(func=cmd_context_key)
    remove = _with_dsn(keys_sub.add_parser(
        "remove", help="remove a key (after a rotation; removing the last one turns "
        "signed contexts off)"))
    remove.add_argument("fingerprint", type=fingerprint_type,
                        help="the key's fingerprint, as isokron context-key list prints it")
    remove.set_defaults(func=cmd_context_key)


def _add_quota(sub: argparse._SubParsersAction[Parser]) -> None:
    quota = sub.add_parser("quota", help="the quotas PostgreSQL enforces per workspace")
    quota_sub = quota.add_subparsers(dest="quota_command", required=True, metavar="COMMAND")
    apply = _with_dsn(quota_sub.add_parser(
        "apply", help="write the config's quota_* keys as limits (connect as the schema owner)"))
    apply.add_argument("--config", type=readable_file, default=None,
                       help="isokron config file (default: $ISOKRON_CONFIG or ~/.hermes)")
    show = _with_dsn(quota_sub.add_parser("show", help="print the limits in force"))
    for p in (apply, show):
        p.add_argument("--workspace", type=workspace_type, default=None,
                       help="one workspace's limits (default: those of every workspace)")
        p.set_defaults(func=cmd_quota)


def _add_setup(sub: argparse._SubParsersAction[Parser]) -> None:
    up = sub.add_parser("up", help="run a persistent embedded PostgreSQL until Ctrl-C; print "
                        "its owner, runtime and operator DSNs and the export lines")
    up.add_argument("--data-dir", default=None, type=directory_type,
                    help="the cluster's directory, reused when it exists (default: the "
                         "user's data directory, ~/.local/share/isokron on Linux)")
    up.set_defaults(func=cmd_up)
    setup = _with_dsn(sub.add_parser(
        "setup", help="migrate and create the runtime and operator logins (idempotent; "
        "the owner's DSN); print the DSNs"))
    setup.add_argument("--runtime-login", default="isokron_app",
                       help="the agent hosts' login, a member of isokron_runtime (default "
                            "isokron_app; password: $ISOKRON_RUNTIME_PASSWORD or generated)")
    setup.add_argument("--operator-login", default="isokron_operator",
                       help="the operator's login, a member of isokron_sweeper (default "
                            "isokron_operator; password: $ISOKRON_OPERATOR_PASSWORD or "
                            "generated)")
    setup.add_argument("--reset-passwords", action="store_true",
                       help="give existing logins new generated passwords (default: keep)")
    setup.set_defaults(func=cmd_setup)
    workspace = sub.add_parser("workspace", help="add or list workspaces (the owner's DSN)")
    ws_sub = workspace.add_subparsers(dest="workspace_command", required=True,
                                      parser_class=Parser)
    add = _with_dsn(ws_sub.add_parser("add", help="create a workspace (idempotent)"))
    add.add_argument("workspace", type=workspace_type, metavar="W", help="the workspace id")
    add.add_argument("--parent", type=workspace_type, default=None,
                     help="an existing workspace this one belongs to (its tree)")
    add.add_argument("--display-name", default=None, help="default: the id")
    add.set_defaults(func=cmd_workspace)
    _with_dsn(ws_sub.add_parser("list", help="every workspace, its parent, charter and "
                                "policy count")).set_defaults(func=cmd_workspace)
    charter = sub.add_parser("charter", help="the role charter (the owner's DSN)")
    charter_sub = charter.add_subparsers(dest="charter_command", required=True,
                                         parser_class=Parser)
    cset = _with_dsn(charter_sub.add_parser(
        "set", help="make FILE (markdown or YAML) W's active charter, hashed as it is verified"))
    cset.add_argument("workspace", type=workspace_type, metavar="W", help="the workspace id")
    cset.add_argument("file", type=readable_file, metavar="FILE",
                      help="markdown in the hashed format, or YAML (*.yaml, *.yml)")
    cset.set_defaults(func=cmd_charter)
    policy = sub.add_parser("policy", help="the policy registry (the owner's DSN)")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True,
                                       parser_class=Parser)
    pset = _with_dsn(policy_sub.add_parser(
        "set", help="set policy PATH (policy.kora_disabled or kora.disabled) of W to VALUE "
        "(JSON, else text)"))
    pset.add_argument("workspace", type=workspace_type, metavar="W", help="the workspace id")
    pset.add_argument("path", metavar="PATH",
                      help="policy.kora_disabled, or the short form kora.disabled")
    pset.add_argument("value", metavar="VALUE",
                      help="JSON when it parses (false, 30, [\"en\"]), else the text")
    pset.add_argument("--custom", action="store_true",
                      help="store a policy outside the known ones (a typo is refused "
                           "without it)")
    pset.set_defaults(func=cmd_policy)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser (exposed for tests and docs)."""
    parser = Parser(prog="isokron", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"isokron {__version__}",
                        help="print isokron's version and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    _add_setup(sub)

    migrate = _with_dsn(sub.add_parser(
        "migrate", help="apply pending schema migrations (an edited applied one is refused)"))
    migrate.add_argument("--repair-checksum", metavar="NAME", action="append",
                         help="accept the changed file of applied migration NAME (e.g. "
                              "0006_store_functions) as its new checksum; repeatable")
    migrate.set_defaults(func=cmd_migrate)
    schema = sub.add_parser("schema", help="the one current schema")
    schema_sub = schema.add_subparsers(dest="schema_command", required=True, parser_class=Parser)
    dump = schema_sub.add_parser(
        "dump", help="write the whole schema the migrations leave (default: over the "
                     "packaged isokron/schema/current.sql)")
    dump.add_argument("--dsn", type=dsn_type,
                      help="a migrated database holding only isokron (default: a throwaway "
                           "embedded server migrated from zero, never $ISOKRON_DSN)")
    dump.add_argument("--out", help="where to write it ('-' for standard output)")
    dump.add_argument("--catalog-out", metavar="FILE",
                      help="also write the manifest the doctor compares the catalog with "
                           "(isokron/schema/catalog.json in the package)")
    dump.add_argument("--pg-dump", dest="pg_dump", type=program_type,
                      help="the pg_dump to run (default: PATH's, else the embedded server's)")
    dump.set_defaults(func=cmd_schema)
    doctor = _with_dsn(sub.add_parser("doctor", help="check schema, roles, RLS and chains"))
    doctor.add_argument("--chain-heads", metavar="FILE", type=readable_file,
                        help="check that every head recorded in FILE is still in its chain")
    doctor.add_argument("--record-chain-heads", metavar="FILE", type=writable_file,
                        help="write every workspace's current chain head to FILE")
    doctor.set_defaults(func=cmd_doctor)
    prompt = _with_dsn(sub.add_parser("prompt", help="print a workspace's identity block"))
    prompt.add_argument("--workspace", required=True, type=workspace_type, help=_WORKSPACE_HELP)
    prompt.add_argument("--actor-kind", default="kora",
                        help="whose identity block is printed (default kora)")
    prompt.set_defaults(func=cmd_prompt)
    sweep = _with_dsn(sub.add_parser("sweep", help="run the delegation sweeper"))
    sweep.add_argument("--once", action="store_true", help="run one pass and exit")
    sweep.add_argument("--interval", type=positive_float, default=None,
                       help="seconds between passes")
    sweep.add_argument("--stuck-threshold", type=positive_float, default=None,
                       help="seconds without a heartbeat before a row is stuck")
    sweep.set_defaults(func=cmd_sweep)
    erase = _with_dsn(sub.add_parser(
        "erase", help="erase everything isokron holds about one user of one workspace, with "
        "a receipt; or prove a receipt (as the operator, a member of isokron_sweeper)"))
    erase.add_argument("--workspace", type=workspace_type, help=_WORKSPACE_HELP + " (the "
                       "user's tenant)")
    erase.add_argument("--user", type=user_type, help="the user id to erase")
    erase.add_argument("--verify", metavar="RECEIPT", type=receipt_type,
                       help="the receipt id to prove: the chain holds and nothing of the user "
                       "remains (status 0), else status 1")
    erase.set_defaults(func=cmd_erase)
    embed = _with_dsn(sub.add_parser(
        "embed", help="embed stored texts for hybrid recall (as the schema owner)"))
    embed.add_argument("--backfill", action="store_true",
                       help="embed every memory and message without a vector of the model "
                            "(fixes the vector columns to its dimension and indexes them)")
    embed.add_argument("--embedder", required=True,
                       help="module:attr of an embedder (or a zero-argument factory), or "
                            "an isokron config file whose embedder key names it")
    embed.add_argument("--batch-size", type=positive_int, default=64,
                       help="texts per embedding call (default 64)")
    embed.add_argument("--quiet", action="store_true", help=_QUIET)
    embed.set_defaults(func=cmd_embed)
    _add_bench(sub)
    evaluate = sub.add_parser("eval", help="measure recall quality")
    eval_sub = evaluate.add_subparsers(dest="eval_command", required=True, parser_class=Parser)
    recall = eval_sub.add_parser(
        "recall", help="LoCoMo-format conversations through sync_turn and recall_items, "
                       "beside BM25 of the same texts: recall@k, hit@k, MRR as JSON")
    recall.add_argument("path", help="a LoCoMo-format .json file, or a folder of them")
    recall.add_argument("--k", type=positive_int, default=20, help="items per question "
                        "(default 20; metrics at 1, 5, 10, 20)")
    recall.add_argument("--dsn", type=dsn_type, help="runtime-role DSN of a migrated "
                        "database (default: a throwaway embedded server, never $ISOKRON_DSN)")
    recall.add_argument("--owner-dsn", type=dsn_type,
                        help="owner DSN that registers the workspaces (default: --dsn)")
    recall.add_argument("--embedder", help="hybrid recall with this embedder: module:attr, "
                        "or an isokron config file whose embedder key names it (adds the "
                        "dense ranking and the fusion of BM25 and dense beside)")
    recall.add_argument("--langgraph", action="store_true",
                        help="with --embedder: also LangGraph's vector search (its "
                             "AsyncPostgresStore.asearch) over the same texts and vectors")
    recall.add_argument("--vector-cache", type=writable_file, default=None,
                        help="file caching the embedder's vectors (dbm; default "
                             "~/.cache/isokron/eval-vectors)")
    recall.add_argument("--out", type=writable_file, help="also write the JSON here")
    recall.add_argument("--quiet", action="store_true", help=_QUIET)
    recall.set_defaults(func=cmd_eval)
    _add_memory(sub)
    _add_context_key(sub)
    _add_quota(sub)
    mcp = _with_dsn(sub.add_parser(
        "mcp", help="serve the memory and episodes tools of one workspace over stdio (MCP)"))
    mcp.add_argument("--workspace", required=True, type=workspace_type,
                     help="the one workspace the tools serve, e.g. org_2abc")
    mcp.add_argument("--actor-kind", default="kora",
                     help="whose episodes isokron_episodes_recent lists (default kora)")
    mcp.add_argument("--quota-result-bytes", type=positive_int, default=None,
                     help="largest tool result sent, in bytes (default 262144); a longer "
                          "listing loses its last items and says so")
    mcp.set_defaults(func=cmd_mcp)
    hermes = sub.add_parser("hermes-install", help="install the Hermes-style plugin")
    hermes.add_argument("--home", default=None, type=directory_type,
                        help="default: $HERMES_HOME or ~/.hermes")
    hermes.add_argument("--python", default=None, type=program_type,
                        help="the Python Hermes runs on (default: the `hermes` executable's)")
    hermes.set_defaults(func=cmd_hermes_install)
    demo = sub.add_parser("demo", help="run isokron end to end on an embedded PostgreSQL")
    demo.add_argument("--workspace", default="org_demo", type=workspace_type,
                      help="the demo workspace's id (default org_demo)")
    demo.add_argument("--data-dir", default=None, type=directory_type,
                      help="reuse this cluster directory")
    demo.set_defaults(func=cmd_demo)
    parser.description = f"{DESCRIPTION} Commands: {', '.join(sub.choices)}."
    return parser
