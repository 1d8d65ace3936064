"""Mutation testing of the sync engine (`make mutation`): run mutmut, then print the score.

mutmut 3 leaves every decorated function unmutated (boxed/mutmut#387), which would leave out
`get_records`, `validate_response` and the backoff hooks. `@override`, `@property` and
`@cached_property` change nothing a mutant could break, so this runner lets mutmut mutate
functions decorated only with them, and keeps those decorators off the copies it makes of
each function (the trampoline alone carries them). mutmut is pinned: the hooks patched here
are its internals (its worker processes are forked, so they inherit the patches).

`mutation-equivalents.txt` lists the mutants no behaviour can tell from the original, one a
line: `name  fingerprint  reason`. The fingerprint is a digest of the mutant's change, so an
entry whose mutant has changed (mutmut numbers mutants within a function) is not trusted:
that mutant is tested like any other and the entry reported. Listed mutants are not run.

The score is killed / (mutants - listed equivalents); a timeout counts as killed, and so does
a crash (a mutant that loops until the memory limit ends its tests with a segfault); a mutant
no selected test reaches counts as surviving.
"""

from __future__ import annotations

import hashlib
import json
import resource
import shutil
import sys
import typing as t
from pathlib import Path

import libcst as cst
import mutmut.__main__ as mutmut_main
from mutmut.__main__ import cli
from mutmut.mutation import file_mutation
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.state import state as mutmut_state
from mutmut.stats import status_by_exit_code
from mutmut.workers.isolation import MutantRunner, get_mutant_runner

if t.TYPE_CHECKING:
    from collections.abc import Sequence

EQUIVALENTS = Path(__file__).parent / "mutation-equivalents.txt"
#: Decorators that only describe a method; a function carrying nothing else is mutated.
TRANSPARENT = frozenset({"override", "property", "cached_property"})
#: The exit code mutmut records for a mutant it was told to skip.
SKIPPED = 34
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


def change_of(name: str) -> list[str]:
    """Return the lines a mutant removes and adds, without the function's (renamed) `def`."""
    return [
        line
        for line in get_diff_for_mutant(name).splitlines()
        if line[:1] in "+-" and line[:3] not in {"---", "+++"} and "def " not in line
    ]


def fingerprint(name: str) -> str:
    """Return a short digest of a mutant's change."""
    return hashlib.sha256("\n".join(change_of(name)).encode()).hexdigest()[:10]


def read_equivalents() -> dict[str, tuple[str, str]]:
    """Return the listed equivalent mutants: name -> (fingerprint, reason)."""
    listed = {}
    for line in EQUIVALENTS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, digest, reason = line.split(maxsplit=2)
            listed[name] = (digest, reason)
    return listed


def skip_listed_equivalents(listed: dict[str, tuple[str, str]], trusted: set[str]) -> None:
    """Have mutmut skip each listed mutant whose change is still the listed one."""
    collect = mutmut_main.collect_source_file_mutation_data

    def collect_skipping(*, mutant_names: t.Any) -> t.Any:
        mutants, by_path = collect(mutant_names=mutant_names)
        for data, name, _ in mutants:
            if name in listed and fingerprint(name) == listed[name][0]:
                trusted.add(name)
                data.exit_code_by_key[name] = SKIPPED
                data.save()
        return [(data, name, data.exit_code_by_key[name]) for data, name, _ in mutants], by_path

    mutmut_main.collect_source_file_mutation_data = collect_skipping


def run_fastest_tests_first() -> None:
    """Hand each mutant's tests to pytest fastest first (mutmut hands them in set order).

    pytest runs with `-x`, so a killed mutant costs the time up to its first failing test.
    """

    def sorting_runner(max_workers: int = 1) -> MutantRunner:
        runner = get_mutant_runner(max_workers)
        submit = runner.submit

        def submit_sorted(name: str, tests: list[str], limit: int, estimate: float) -> None:
            duration = mutmut_state().duration_by_test
            submit(name, sorted(tests, key=lambda test: (duration[test], test)), limit, estimate)

        runner.submit = submit_sorted  # type: ignore[method-assign,assignment]
        return runner

    mutmut_main.get_mutant_runner = sorting_runner  # type: ignore[attr-defined]


def read_results() -> dict[str, bool]:
    """Return, for every mutant mutmut tried under `mutants/`, whether a test caught it."""
    caught = {}
    for meta in sorted(Path("mutants").rglob("*.py.meta")):
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        for name, code in codes.items():
            caught[name] = status_by_exit_code[code] in {"killed", "timeout", "segfault"}
    return caught


def report(caught: dict[str, bool], listed: dict[str, tuple[str, str]], trusted: set[str]) -> int:
    """Print the survivors and the score (as the last line); return the exit status."""
    untrusted = sorted(set(listed) - trusted)
    survivors = sorted(name for name, hit in caught.items() if not hit and name not in trusted)
    for name in survivors:
        print(f"survived: {name}  {fingerprint(name)}  {' / '.join(change_of(name))}")
    for name in untrusted:
        state = "gone" if name not in caught else "changed, so tested"
        print(f"listed as equivalent but {state}: {name}")
    killed = sum(1 for name, hit in caught.items() if hit and name not in trusted)
    counted = len(caught) - len(trusted)
    print(
        f"{len(caught)} mutants, {len(trusted)} listed as equivalent, {killed} killed, "
        f"{len(survivors)} survived"
    )
    print(f"mutation score: {100 * killed // counted if counted else 0}%")
    return 0 if caught and not untrusted else 1


def main() -> int:
    """Run mutmut from scratch over the configured modules, then report."""
    listed, trusted = read_equivalents(), set[str]()
    allow_transparent_decorators()
    skip_listed_equivalents(listed, trusted)
    run_fastest_tests_first()
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, resource.RLIM_INFINITY))
    shutil.rmtree("mutants", ignore_errors=True)
    try:
        cli(["run", "--max-children", "2"], standalone_mode=False)
    except SystemExit as stop:
        if stop.code:
            return int(stop.code) if isinstance(stop.code, int) else 1
    return report(read_results(), listed, trusted)


if __name__ == "__main__":
    sys.exit(main())
