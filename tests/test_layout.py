"""The package's architecture, as the import graph shows it (read with ast, nothing imported).

build/ and verify/ are the two wings: they share core/ and never import each other, so either
can change without the other noticing; no module imports itself back through others.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from sheetgen.core.columns import COLUMNS
from sheetgen.verify import command as verify_command

PACKAGE = Path(__file__).resolve().parent.parent / "sheetgen"
ENTRY_POINTS = {"__init__", "__main__", "cli"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# Both packages' modules: the import graph (and its no-cycle rule) covers mnist_trainer too.
MODULES = {
    _module_name(path): path
    for package in (PACKAGE, PACKAGE.parent / "mnist_trainer")
    for path in sorted(package.rglob("*.py"))
}


def _imports(path: Path) -> set[str]:
    """Every module of ours `path` imports, at any depth (function-level imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from sheetgen.verify import checks` imports sheetgen.verify.prove.checks if that is a module.
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in MODULES}
    return found


GRAPH = {name: _imports(path) - {name} for name, path in MODULES.items()}


def test_the_graph_is_read_from_the_source():
    assert "sheetgen.verify.prove.checks" in GRAPH["sheetgen.verify.command"]
    assert "sheetgen.build.command" in GRAPH["sheetgen.cli"]  # a function-level import counts
    assert "mnist_trainer.launch" in GRAPH["mnist_trainer.cli"]


@pytest.mark.parametrize("wing", ["core", "build", "verify", "office"])
def test_each_wing_is_a_package(wing):
    assert (PACKAGE / wing / "__init__.py").is_file()


@pytest.mark.parametrize("wing, other", [("build", "verify"), ("verify", "build")])
def test_build_and_verify_never_import_each_other(wing, other):
    offending = {
        (name, target)
        for name, targets in GRAPH.items()
        if name == f"sheetgen.{wing}" or name.startswith(f"sheetgen.{wing}.")
        for target in targets
        if target == f"sheetgen.{other}" or target.startswith(f"sheetgen.{other}.")
    }
    assert not offending


# verify/'s stages, in pipeline order: each imports only the stages before it.
VERIFY_STAGES = ("read", "prove", "report")


@pytest.mark.parametrize("stage", VERIFY_STAGES)
def test_verify_stages_import_only_earlier_stages(stage):
    later = VERIFY_STAGES[VERIFY_STAGES.index(stage) + 1 :]
    offending = {
        (name, target)
        for name, targets in GRAPH.items()
        if name.startswith(f"sheetgen.verify.{stage}.")
        for target in targets
        for other in (*later, "command", "workers")
        if target == f"sheetgen.verify.{other}" or target.startswith(f"sheetgen.verify.{other}.")
    }
    assert not offending
    assert (PACKAGE / "verify" / stage / "__init__.py").is_file()


def test_verify_keeps_only_its_entry_and_class_runners_flat():
    flat = sorted(path.stem for path in (PACKAGE / "verify").glob("*.py"))
    assert flat == ["__init__", "command", "workers"], flat


def test_core_depends_on_no_wing():
    for name, targets in GRAPH.items():
        if name.startswith("sheetgen.core"):
            assert all(t.startswith("sheetgen.core") or t == "sheetgen" for t in targets), (name, targets)


def test_at_most_two_modules_sit_flat_beside_the_entry_points():
    flat = [path.stem for path in PACKAGE.glob("*.py") if path.stem not in ENTRY_POINTS]
    assert len(flat) <= 2, flat


ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"
README = PACKAGE.parent / "README.md"
DOCUMENTED = sorted(
    str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py") if path.stem not in ENTRY_POINTS
)


@pytest.mark.parametrize("module", DOCUMENTED)
def test_every_module_is_named_in_the_architecture_and_the_readme(module):
    """Each module is named in its wing's paragraph, in the picture, and in its README Layout row."""
    wing, _, name = module.partition("/")
    stem = Path(name).stem
    architecture = ARCHITECTURE.read_text(encoding="utf-8")
    paragraph = next(p for p in architecture.split("\n\n") if p.startswith(f"**{wing}/**"))
    named_in_paragraph = re.search(rf"`{re.escape(name)}`", paragraph)
    assert named_in_paragraph or f"`{module}`" in architecture, (module, "docs/architecture.md")
    assert re.search(rf"\b{re.escape(stem)}\b", architecture.split("```")[1]), (module, "the picture")
    layout_row = next(
        line
        for line in README.read_text(encoding="utf-8").splitlines()
        if line.startswith(f"| `sheetgen/{wing}/`")
    )
    assert f"`{name}`" in layout_row, (module, "README's Layout table")


def test_the_import_graph_has_no_cycle():
    done: set[str] = set()
    stack: list[str] = []

    def visit(name: str) -> None:
        if name in stack:
            raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(name) :] + [name]))
        if name in done:
            return
        stack.append(name)
        for target in sorted(GRAPH[name]):
            visit(target)
        stack.pop()
        done.add(name)

    for name in sorted(GRAPH):
        visit(name)


def _expand(help_text: str) -> set[str]:
    """Every spelling the help lists: family lines `xN (N = 1…8): aN / bN` read for each N."""
    spellings: set[str] = set()
    for line in help_text.replace("\n      ", " ").splitlines():
        head, _, rest = line.strip().partition(": ")
        items = [head.split(" (")[0], *rest.split(" / ")]
        if "(N = " in head:
            numbers = head.split("(N = ")[1].rstrip(")")
            if "…" in numbers:
                low, high = numbers.split("…")
                digits = [str(d) for d in range(int(low), int(high) + 1)]
            else:
                digits = numbers.split(", ")
            spellings |= {item.replace("N", d) for item in items for d in digits}
        else:
            spellings |= set(items)
    return spellings


def test_verify_help_lists_every_spelling_of_every_column():
    listed = _expand(verify_command.accepted_labels())
    assert "sheetgen verify" in verify_command.DESCRIPTION and verify_command.accepted_labels() in (
        verify_command.DESCRIPTION
    )
    for column in COLUMNS:
        for spelling in (column.label, *column.aliases):
            assert spelling in listed or spelling == column.key, (column.key, spelling)
