"""Mutation testing of the sync engine (`make mutation`): run mutmut, then print the score.

mutmut 3 leaves every decorated function unmutated (boxed/mutmut#387), which would leave out
`get_records`, `validate_response` and the backoff hooks. `@override`, `@property` and
`@cached_property` change nothing a mutant could break, so this runner lets mutmut mutate
functions decorated only with them, and keeps those decorators off the copies it makes of
each function (the trampoline alone carries them). mutmut is pinned: the two hooks patched
here are its internals (its worker processes are forked, so they inherit the patch).

The score is killed / (mutants - listed equivalents); a timeout counts as killed, a mutant
no selected test reaches counts as surviving. `mutation-equivalents.txt` lists the mutants
that no behaviour can tell from the original, one a line: `name  reason`.
"""

from __future__ import annotations

import json
import resource
import shutil
import sys
import typing as t
from pathlib import Path

import libcst as cst
from mutmut.__main__ import cli
from mutmut.mutation import file_mutation
from mutmut.stats import status_by_exit_code

if t.TYPE_CHECKING:
    from collections.abc import Sequence

EQUIVALENTS = Path("mutation-equivalents.txt")
#: Decorators that only describe a method; a function carrying nothing else is mutated.
TRANSPARENT = frozenset({"override", "property", "cached_property"})
#: A mutant that loops allocating (say, windows without end) stops here, not at the machine's.
MEMORY_LIMIT_BYTES = 4 * 1024**3


def transparent(function: cst.FunctionDef) -> bool:
    """Tell whether a function is decorated, but only with decorators in `TRANSPARENT`."""
    names = [d.decorator for d in function.decorators]
    return bool(names) and all(
        isinstance(name, cst.Name) and name.value in TRANSPARENT for name in names
    )


def allow_transparent_decorators() -> None:
    """Let mutmut mutate functions whose only decorators are in `TRANSPARENT`."""
    visitor = file_mutation.MutationVisitor
    skip = visitor._skip_node_and_children
    arrange = file_mutation.function_trampoline_arrangement

    def skip_node(self: file_mutation.MutationVisitor, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.FunctionDef) and transparent(node):
            node = node.with_changes(decorators=())
        return skip(self, node)

    def arrangement(
        function: cst.FunctionDef, mutants: t.Any, class_name: str | None
    ) -> tuple[t.Any, Sequence[t.Any], t.Any, Sequence[str]]:
        declarations, methods, assignments, names = arrange(function, mutants, class_name)
        if transparent(function):  # the copies are plain functions the trampoline calls
            trampoline, *copies = methods
            methods = [trampoline, *(copy.with_changes(decorators=()) for copy in copies)]
        return declarations, methods, assignments, names

    visitor._skip_node_and_children = skip_node  # type: ignore[method-assign]
    file_mutation.function_trampoline_arrangement = arrangement


def read_equivalents() -> dict[str, str]:
    """Return the listed equivalent mutants and why each is one."""
    listed = {}
    for line in EQUIVALENTS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            listed[name] = reason.strip()
    return listed


def read_results() -> dict[str, bool]:
    """Return, for every mutant mutmut tried under `mutants/`, whether a test caught it."""
    caught = {}
    for meta in sorted(Path("mutants").rglob("*.py.meta")):
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        for name, code in codes.items():
            caught[name] = status_by_exit_code[code] in {"killed", "timeout"}
    return caught


def report(caught: dict[str, bool], equivalents: dict[str, str]) -> int:
    """Print the survivors and the score (as the last line); return the exit status."""
    stale = sorted(set(equivalents) - set(caught))
    caught_listed = sorted(name for name in equivalents if caught.get(name))
    survivors = sorted(name for name, hit in caught.items() if not hit and name not in equivalents)
    for name in survivors:
        print(f"survived: {name}  (mutmut show {name})")
    for name in stale + caught_listed:
        print(f"listed as equivalent but {'gone' if name in stale else 'caught'}: {name}")
    counted = len([name for name in caught if name not in equivalents])
    killed = len([name for name, hit in caught.items() if hit and name not in equivalents])
    print(
        f"{len(caught)} mutants, {len(equivalents) - len(stale)} listed as equivalent, "
        f"{killed} killed, {len(survivors)} not"
    )
    score = 100 * killed // counted if counted else 0
    print(f"mutation score: {score}%")
    return 0 if caught and not stale and not caught_listed else 1


def main() -> int:
    """Run mutmut from scratch over the configured modules, then report."""
    allow_transparent_decorators()
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, resource.RLIM_INFINITY))
    shutil.rmtree("mutants", ignore_errors=True)
    try:
        cli(["run", "--max-children", "2"], standalone_mode=False)
    except SystemExit as stop:
        if stop.code:
            return int(stop.code) if isinstance(stop.code, int) else 1
    return report(read_results(), read_equivalents())


if __name__ == "__main__":
    sys.exit(main())
