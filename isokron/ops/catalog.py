"""What isokron installed, as a manifest, and what the live catalog says against it.

``schema/catalog.json`` is generated from a database migrated from zero (``isokron schema
dump --catalog-out``) and shipped with the package. It records, for isokron's schemas
(``isokron``, ``kronicle``, ``hivex_foundation`` and the substrate tables in ``public``):

* every function: SECURITY DEFINER or not, its owner (one of isokron's NOLOGIN roles,
  or "the migrator", whose name varies by install), its ``SET`` options
  (``search_path``), the SHA-256 of its definition, and which of isokron's roles and
  PUBLIC may execute it. A function that the migrations create from inside another
  function (the pgvector functions, built for the server's vector schema and dimension;
  the ``context_signed_v1`` constant) is *generated*: its definition is not compared,
  everything else is;
* every row-level security policy: command, permissive or restrictive, roles, and its
  ``USING`` / ``WITH CHECK`` expressions as the server deparses them (compared only on a
  server of the manifest's major version, whose deparsing is the same);
* every trigger, every constraint (``pg_get_constraintdef``), the owner of every schema
  and relation, and every privilege isokron's roles hold on the schemas, tables and
  columns;
* that isokron installs no event trigger, default privileges, publication, grant on its
  objects to a role other than its four (and PUBLIC), or ``app.*`` / ``isokron.*`` /
  ``search_path`` setting on the database or its roles.

Beyond the manifest, the live snapshot says what reaches ``isokron_runtime`` and the
LOGIN roles that are its members, in every non-system schema: SECURITY DEFINER functions
they may execute and relations they may use that the manifest lacks, and anything a
member login owns.

:func:`catalog_drift` compares a live snapshot (:func:`isokron.ops.doctor_checks.catalog_facts`)
with the manifest and returns one line per difference, each naming the object: a policy
added (``USING (true)``), a function replaced by a stub, a SECURITY DEFINER function that
isokron did not install, a ``search_path`` removed, ``CREATE`` on a schema granted to the
runtime role. The doctor fails on any line.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "CATALOG_PATH",
    "OWN_SCHEMAS",
    "catalog_drift",
    "load_catalog",
    "manifest_from_facts",
    "write_catalog",
]

#: the packaged manifest of what the migrations install
CATALOG_PATH = Path(__file__).parent.parent / "schema" / "catalog.json"
#: schemas isokron owns whole: a function in them that the manifest lacks is a failure
OWN_SCHEMAS = ("isokron", "kronicle", "hivex_foundation")

_OWNER_ROLES = ("isokron_definer", "isokron_context", "isokron_runtime", "isokron_sweeper")
#: the functions the manifest records (a function elsewhere is judged by what reaches it)
_MANIFEST_SCHEMAS = (*OWN_SCHEMAS, "public")
#: what the migrations never create: every entry the live catalog holds is a difference
_NONE_INSTALLED = ("default_privileges", "event_triggers", "publications")
_NO_ENTRIES = ("foreign_grants", "settings")
_MIGRATOR = "the migrator"


def _who(roles: list[str]) -> str:
    """isokron_runtime when it may (its member logins then may too), else the logins."""
    return "isokron_runtime" if "isokron_runtime" in roles else ", ".join(roles)


def _owner(role: str | None) -> str:
    """The migrator's own name varies by install; isokron's NOLOGIN owners do not."""
    return role if role in _OWNER_ROLES else _MIGRATOR


# "create or replace function <schema>.<name>(" inside a body (a pattern, not a statement)
_CREATED_INSIDE = re.compile(r"(?:create)\s+or\s+replace\s+function\s+([a-z_]+\.[a-z0-9_]+)\s*\(",
                             re.IGNORECASE)


def _generated_names(functions: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Qualified names of the functions another function's body creates."""
    names: set[str] = set()
    for facts in functions.values():
        names.update(m.lower() for m in _CREATED_INSIDE.findall(str(facts.get("body", ""))))
    return names


def _qualified_name(signature: str) -> str:
    return signature.split("(", 1)[0].lower()


def manifest_from_facts(facts: Mapping[str, Any]) -> dict[str, Any]:
    """Turn a live snapshot of a freshly migrated database into the manifest."""
    generated = _generated_names(facts["functions"])
    functions: dict[str, Any] = {}
    for sig, f in sorted(facts["functions"].items()):
        if sig.split(".", 1)[0] not in _MANIFEST_SCHEMAS:
            continue
        entry = {k: v for k, v in f.items() if k not in ("body", "body_sha256", "reach")}
        entry["owner"] = _owner(f["owner"])
        if _qualified_name(sig) in generated:
            entry["generated"] = True
        else:
            entry["body_sha256"] = f["body_sha256"]
        functions[sig] = entry
    return {
        "comment": "generated by `isokron schema dump --catalog-out`; the doctor compares "
                   "the live catalog with it",
        "server_major": facts["server_major"],
        "functions": functions,
        "policies": dict(sorted(facts["policies"].items())),
        "triggers": dict(sorted(facts["triggers"].items())),
        "schema_privileges": dict(sorted(facts["schema_privileges"].items())),
        "table_privileges": dict(sorted(facts["table_privileges"].items())),
        "column_privileges": dict(sorted(facts["column_privileges"].items())),
        "constraints": dict(sorted(facts["constraints"].items())),
        "owners": {k: _owner(v) for k, v in sorted(facts["owners"].items())},
        **{key: dict(sorted(facts[key].items())) for key in _NONE_INSTALLED},
        **{key: sorted(facts[key]) for key in _NO_ENTRIES},
    }


def write_catalog(manifest: Mapping[str, Any], path: str | os.PathLike[str] = CATALOG_PATH) -> Path:
    """Write ``manifest`` as stable, sorted JSON."""
    out = Path(path)
    out.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8",
                   newline="\n")
    return out


def load_catalog(path: str | os.PathLike[str] = CATALOG_PATH) -> dict[str, Any]:
    """Read the manifest (the packaged one by default)."""
    data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return data


def _diff_keys(kind: str, expected: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    lines = [f"{kind} {name} is missing" for name in sorted(expected.keys() - live.keys())]
    lines += [f"{kind} {name} was not installed by isokron"
              for name in sorted(live.keys() - expected.keys())]
    return lines


def _function_drift(expected: Mapping[str, Any], live: Mapping[str, Any],
                    vectors: bool) -> list[str]:
    lines: list[str] = []
    for sig in sorted(expected.keys() - live.keys()):
        if expected[sig].get("generated") and not vectors and "context_signed" not in sig:
            continue  # built by enable_vectors_v1() only where pgvector is installed
        lines.append(f"function {sig} is missing")
    for sig in sorted(live.keys() - expected.keys()):
        f = live[sig]
        own = sig.split(".", 1)[0] in OWN_SCHEMAS
        if own or (f["security_definer"] and f["reach"]):
            what = "SECURITY DEFINER function" if f["security_definer"] else "function"
            lines.append(f"{what} {sig} was not installed by isokron"
                         + (f" ({_who(f['reach'])} may execute it)" if f["reach"] else ""))
    for sig in sorted(expected.keys() & live.keys()):
        want, have = expected[sig], live[sig]
        if not want.get("generated") and want["body_sha256"] != have["body_sha256"]:
            lines.append(f"function {sig}: its definition differs from the one isokron "
                         f"installed")
        if want["security_definer"] != have["security_definer"]:
            lines.append(f"function {sig}: SECURITY DEFINER is {have['security_definer']}, "
                         f"isokron installed {want['security_definer']}")
        if want["config"] != have["config"]:
            lines.append(f"function {sig}: SET options are {have['config'] or 'none'}, "
                         f"isokron installed {want['config'] or 'none'}")
        if (want["owner"] or _MIGRATOR) != _owner(have["owner"]):
            lines.append(f"function {sig}: owned by {have['owner']}, isokron installed "
                         f"{want['owner'] or _MIGRATOR}")
        if want["execute"] != have["execute"]:
            lines.append(f"function {sig}: executable by {', '.join(have['execute']) or 'no one'}"
                         f", isokron granted {', '.join(want['execute']) or 'no one'}")
    # Wherever it lives, a SECURITY DEFINER function the runtime role can call must pin
    # its search_path, or a caller's objects can stand in for the ones it names.
    for sig, f in sorted(live.items()):
        if (f["security_definer"] and f["reach"]
                and not any(c.startswith("search_path=") for c in f["config"])):
            lines.append(f"SECURITY DEFINER function {sig} has no search_path and "
                         f"{_who(f['reach'])} may execute it")
    return lines


def _policy_drift(expected: Mapping[str, Any], live: Mapping[str, Any],
                  same_deparser: bool) -> list[str]:
    lines = _diff_keys("policy", expected, live)
    for name in sorted(expected.keys() & live.keys()):
        want, have = expected[name], live[name]
        for field in ("command", "permissive", "roles"):
            if want[field] != have[field]:
                lines.append(f"policy {name}: {field} is {have[field]}, isokron installed "
                             f"{want[field]}")
        if same_deparser:
            for field, word in (("using", "USING"), ("check", "WITH CHECK")):
                if want[field] != have[field]:
                    lines.append(f"policy {name}: {word} ({have[field]}) differs from the "
                                 f"one isokron installed")
    return lines


def _privilege_drift(kind: str, expected: Mapping[str, Any],
                     live: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    for obj in sorted(expected.keys() | live.keys()):
        want, have = expected.get(obj, {}), live.get(obj, {})
        for role in sorted(want.keys() | have.keys()):
            extra = sorted(set(have.get(role, ())) - set(want.get(role, ())))
            lost = sorted(set(want.get(role, ())) - set(have.get(role, ())))
            if extra:
                lines.append(f"{role} holds {', '.join(extra)} on {kind} {obj}, which "
                             f"isokron did not grant")
            if lost:
                lines.append(f"{role} lacks {', '.join(lost)} on {kind} {obj}")
    return lines


def catalog_drift(manifest: Mapping[str, Any], live: Mapping[str, Any]) -> tuple[list[str], bool]:
    """Compare a live snapshot with the manifest: (one line per difference, whether policy
    expressions were compared)."""
    same_deparser = int(manifest["server_major"]) == int(live["server_major"])
    lines = _function_drift(manifest["functions"], live["functions"], bool(live["vectors"]))
    lines += _policy_drift(manifest["policies"], live["policies"], same_deparser)
    lines += _diff_keys("trigger", manifest["triggers"], live["triggers"])
    lines += [f"trigger {name}: {live['triggers'][name]}, isokron installed {want}"
              for name, want in sorted(manifest["triggers"].items())
              if name in live["triggers"] and live["triggers"][name] != want]
    lines += _privilege_drift("schema", manifest["schema_privileges"],
                              live["schema_privileges"])
    lines += _privilege_drift("table", manifest["table_privileges"], live["table_privileges"])
    lines += _reach_drift(manifest, live, same_deparser)
    return lines, same_deparser


def _reach_drift(manifest: Mapping[str, Any], live: Mapping[str, Any],
                 same_deparser: bool) -> list[str]:
    """What the first manifests did not record: columns, constraints, owners, and what
    reaches isokron_runtime's member logins (``live["runtime_logins"]``)."""
    vectors = bool(live["vectors"])
    lines = [line for line in _privilege_drift("column", manifest.get("column_privileges", {}),
                                               live["column_privileges"])
             if vectors or not (line.endswith(".embedding") and " lacks " in line)]
    constraints = manifest.get("constraints", {})
    lines += _diff_keys("constraint", constraints, live["constraints"])
    lines += [f"constraint {name}: {live['constraints'][name]}, isokron installed {want}"
              for name, want in sorted(constraints.items())
              if same_deparser and name in live["constraints"]
              and live["constraints"][name] != want]
    owners = manifest.get("owners", {})
    lines += [f"{obj} was not installed by isokron (owned by {live['owners'][obj]})"
              for obj in sorted(live["owners"].keys() - owners.keys())]
    lines += [f"{obj}: owned by {live['owners'][obj]}, isokron installed {want}"
              for obj, want in sorted(owners.items())
              if obj in live["owners"] and _owner(live["owners"][obj]) != want]
    lines += [f"{line}, a LOGIN member of isokron_runtime" for line in live["owned_by_logins"]]
    known = manifest["table_privileges"].keys()
    lines += [f"relation {name} was not installed by isokron and {_who(roles)} may use it"
              for name, roles in sorted(live["reachable_relations"].items()) if name not in known]
    for key in _NONE_INSTALLED:
        word = key.replace("_", " ").rstrip("s")
        expected = manifest.get(key, {})
        lines += [f"{word} {name} ({live[key][name]}) was not installed by isokron"
                  for name in sorted(live[key].keys() - expected.keys())]
    grants = set(manifest.get("foreign_grants", ()))
    lines += [f"{g}, which isokron did not grant" for g in live["foreign_grants"]
              if g not in grants]
    settings = set(manifest.get("settings", ()))
    lines += [f"{s} is set, which isokron did not set (a default tenant or search_path)"
              for s in live["settings"] if s not in settings]
    return lines
