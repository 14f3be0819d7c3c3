"""``make mutants``: break each guarantee on purpose and check that its tests notice.

Each entry of ``tools/mutants.toml`` names one mutation: a file, an exact piece of its text (which
must occur exactly once, so the list cannot rot silently when the code changes), its replacement,
and the tests that must fail with it. For every selected entry the runner writes the mutated file
into a private copy of the tree, runs only those tests (``pytest -x -q``, ``CI=true``), and puts
the original bytes back; it prints a table (killed / survived, seconds each) and exits non-zero
if any mutant survived or could not be judged.

The working tree itself is never modified: the copy lives in a temporary folder, removed at the
end, even on Ctrl-C or an exception. No bytecode is written (a mutant the size of the original,
written within the same second, would otherwise run a stale ``.pyc``).

Why a script and not mutmut: mutmut mutates blindly (hundreds of operator swaps, most of them in
code no guarantee depends on) and runs the whole suite, or a coverage-derived part of it, per
mutant. Here a suite run takes minutes and starts servers, so each mutant must run just the few
tests that state its guarantee; and a named, hand-written mutant documents which test guards which
promise, which is the point.

    python tools/mutants.py               # every mutant
    python tools/mutants.py --list        # names, files and tests, nothing run
    python tools/mutants.py --only NAME   # one (repeatable; a trailing * matches a prefix)
    python tools/mutants.py --check       # only validate the list (each old text occurs exactly once)
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: pytest's own dependency reads TOML there
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LIST = ROOT / "tools" / "mutants.toml"
#: Never copied into the private tree.
IGNORED = (
    *(".git", ".venv", "__pycache__", "*.pyc", ".mypy_cache", ".ruff_cache", ".pytest_cache"),
    *("instance", "test-artifacts", "build", "dist", "*.egg-info", "node_modules"),
)
#: pytest's exit codes: 1 means tests failed (the mutant is killed); anything else is no verdict.
PYTEST_FAILED = 1
PYTEST_PASSED = 0


@dataclass
class Mutant:
    name: str
    file: str
    old: str
    new: str
    tests: list[str]
    guarantee: str = ""
    pytest_args: list[str] = field(default_factory=list)


@dataclass
class Verdict:
    mutant: Mutant
    status: str  # killed, survived, error, timeout
    seconds: float
    detail: str = ""


class ListError(Exception):
    """The mutant list does not match the code (or is malformed)."""


def load(path: Path) -> list[Mutant]:
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    mutants = []
    for index, entry in enumerate(raw.get("mutant", [])):
        try:
            mutants.append(
                Mutant(
                    name=entry["name"],
                    file=entry["file"],
                    old=entry["old"],
                    new=entry["new"],
                    tests=list(entry["tests"]),
                    guarantee=entry.get("guarantee", ""),
                    pytest_args=list(entry.get("pytest_args", [])),
                )
            )
        except KeyError as exc:
            raise ListError(f"entry #{index + 1} ({entry.get('name', '?')}) lacks {exc}") from None
    names = [m.name for m in mutants]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ListError(f"duplicate names: {', '.join(duplicates)}")
    return mutants


def validate(mutants: list[Mutant], root: Path = ROOT) -> list[str]:
    """Every problem with the list: missing files, old text found zero or several times, no-ops."""
    problems = []
    for mutant in mutants:
        path = root / mutant.file
        if not path.is_file():
            problems.append(f"{mutant.name}: {mutant.file} does not exist")
            continue
        count = path.read_text(encoding="utf-8").count(mutant.old)
        if count != 1:
            problems.append(f"{mutant.name}: its old text occurs {count} times in {mutant.file} (must be exactly once)")
        if mutant.old == mutant.new:
            problems.append(f"{mutant.name}: old and new text are the same")
        if not mutant.tests:
            problems.append(f"{mutant.name}: names no test")
    return problems


def select(mutants: list[Mutant], only: list[str]) -> list[Mutant]:
    if not only:
        return mutants
    chosen = [m for m in mutants if any(fnmatch.fnmatchcase(m.name, pattern) for pattern in only)]
    unknown = [p for p in only if not any(fnmatch.fnmatchcase(m.name, p) for m in mutants)]
    if unknown:
        raise ListError(f"no mutant named {', '.join(unknown)} (see --list)")
    return chosen


def existing_tests(tree: Path, tests: list[str]) -> tuple[list[str], list[str]]:
    """(node ids whose file exists, node ids whose file does not exist yet)."""
    present: list[str] = []
    missing: list[str] = []
    for node in tests:
        (present if (tree / node.split("::", 1)[0]).exists() else missing).append(node)
    return present, missing


def copy_tree(destination: Path) -> Path:
    tree = destination / "tree"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(*IGNORED), symlinks=True)
    return tree


def environment(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(CI="true", PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(tree))
    env.pop("PYTEST_ADDOPTS", None)
    return env


def check_imports_from(tree: Path, python: str) -> None:
    """The copy, not the editable install, must be what ``import stask`` finds there."""
    found = subprocess.run(
        [python, "-c", "import stask; print(stask.__file__)"],
        cwd=tree,
        env=environment(tree),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(found).resolve().is_relative_to(tree.resolve()):
        raise ListError(f"in the private copy, `import stask` finds {found}: the mutants would not be tested")


def run_pytest(tree: Path, python: str, tests: list[str], extra: list[str], timeout: float) -> tuple[int | None, str]:
    """(pytest's exit code or None on timeout, its output)."""
    command = [python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header", *extra, *tests]
    process = subprocess.Popen(
        command, cwd=tree, env=environment(tree), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, interrupt(process)
    except BaseException:  # Ctrl-C: stop the tests we started, then let the interrupt go on
        interrupt(process)
        raise
    return process.returncode, output


def interrupt(process: subprocess.Popen[str], grace: float = 30) -> str:
    """Stop a pytest run as Ctrl-C would: its fixtures then stop the servers and worker processes
    they started (those run in sessions of their own, which a kill of pytest would orphan)."""
    process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output or ""


def summary_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    return (failed[0] if failed else lines[-1] if lines else "")[:160]


def judge(tree: Path, python: str, mutant: Mutant, timeout: float) -> Verdict:
    target = tree / mutant.file
    original = target.read_bytes()
    present, missing = existing_tests(tree, mutant.tests)
    note = f"missing: {', '.join(missing)}" if missing else ""
    if not present:
        return Verdict(mutant, "survived", 0.0, f"none of its tests exist yet ({note})")
    started = time.monotonic()
    try:
        target.write_bytes(original.replace(mutant.old.encode(), mutant.new.encode(), 1))
        code, output = run_pytest(tree, python, present, mutant.pytest_args, timeout)
    finally:
        target.write_bytes(original)  # always: the next mutant starts from the original tree
    seconds = time.monotonic() - started
    detail = "; ".join(part for part in (summary_line(output), note) if part)
    if code is None:
        return Verdict(mutant, "timeout", seconds, f"no verdict within {timeout:.0f} s; {detail}")
    if code == PYTEST_FAILED:
        return Verdict(mutant, "killed", seconds, detail)
    if code == PYTEST_PASSED:
        return Verdict(mutant, "survived", seconds, detail)
    return Verdict(mutant, "error", seconds, f"pytest exit code {code}: {detail}")


def baseline(tree: Path, python: str, mutants: list[Mutant], timeout: float) -> None:
    """Every named test must pass on the unmutated tree, or a 'killed' would mean nothing."""
    tests = list(dict.fromkeys(node for m in mutants for node in existing_tests(tree, m.tests)[0]))
    if not tests:
        return
    print(f"baseline: {len(tests)} test paths on the unmutated tree …", flush=True)
    started = time.monotonic()
    code, output = run_pytest(tree, python, tests, [], timeout * 3)
    if code != PYTEST_PASSED:
        print(output[-6000:], file=sys.stderr)
        raise ListError(f"the named tests do not pass without any mutant (exit code {code}): fix them first")
    print(f"baseline: passed in {time.monotonic() - started:.1f} s", flush=True)


def print_table(verdicts: list[Verdict], wall: float) -> None:
    width = max([len(v.mutant.name) for v in verdicts] + [6])
    print()
    print(f"{'mutant':<{width}}  {'verdict':<8}  {'time':>7}  detail")
    print(f"{'-' * width}  {'-' * 8}  {'-' * 7}  {'-' * 40}")
    for v in verdicts:
        print(f"{v.mutant.name:<{width}}  {v.status:<8}  {v.seconds:6.1f}s  {v.detail}")
    counts = {s: sum(v.status == s for v in verdicts) for s in ("killed", "survived", "error", "timeout")}
    print()
    print(
        f"{len(verdicts)} mutants: {counts['killed']} killed, {counts['survived']} survived, "
        f"{counts['error']} errors, {counts['timeout']} timeouts; wall time {wall:.1f} s"
    )
    survivors = [v for v in verdicts if v.status != "killed"]
    if survivors:
        print("\nNOT KILLED (a guarantee no test holds):")
        for v in survivors:
            print(f"  {v.mutant.name} [{v.status}] {v.mutant.file}: {v.mutant.guarantee}")
            print(f"      tests: {' '.join(v.mutant.tests)}")


def print_list(mutants: list[Mutant]) -> None:
    for m in mutants:
        print(f"{m.name}\n    {m.file}: {m.guarantee}\n    tests: {' '.join(m.tests)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--check", action="store_true", help="validate the list against the code and exit")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="run only this mutant")
    parser.add_argument("--file", type=Path, default=DEFAULT_LIST, help="the mutant list (TOML)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per mutant before giving up")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run of the named tests")
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs pytest")
    args = parser.parse_args(argv)
    try:
        mutants = select(load(args.file), args.only)
        problems = validate(mutants)
        if problems:
            raise ListError("the mutant list does not match the code:\n  " + "\n  ".join(problems))
        if args.list:
            print_list(mutants)
            return 0
        if args.check:
            print(f"{len(mutants)} mutants: each old text occurs exactly once")
            return 0
        started = time.monotonic()
        verdicts: list[Verdict] = []
        with tempfile.TemporaryDirectory(prefix="stask-mutants-") as folder:
            tree = copy_tree(Path(folder))
            check_imports_from(tree, args.python)
            if not args.no_baseline:
                baseline(tree, args.python, mutants, args.timeout)
            for number, mutant in enumerate(mutants, 1):
                print(f"[{number}/{len(mutants)}] {mutant.name} …", end=" ", flush=True)
                verdict = judge(tree, args.python, mutant, args.timeout)
                print(f"{verdict.status} ({verdict.seconds:.1f} s)", flush=True)
                verdicts.append(verdict)
        print_table(verdicts, time.monotonic() - started)
    except ListError as exc:
        print(f"mutants: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nmutants: interrupted; the working tree was never modified", file=sys.stderr)
        return 130
    return 0 if all(v.status == "killed" for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
