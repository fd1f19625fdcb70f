"""Source-level guarantees: no shell commands built from strings, no unrestricted unpickling,
and the package's layering (what each wing may import; no import cycles)."""

import ast
import pathlib
import re

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "dcgan_dist"
FORBIDDEN = [r"shell\s*=\s*True", r"os\.system\(", r"os\.popen\(", r"pickle\.loads?\(",
             r"\beval\(", r"\bexec\("]


def _sources():
    """{module name: source text} of every module of the package, subpackages included."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path.read_text()
    return out


def test_package_runs_no_shell_strings_and_never_unpickles_freely():
    sources = _sources()
    # Subpackages are scanned too: the preparer that unpickles lives in data/.
    assert "dcgan_dist.data.mnist" in sources and len(sources) > 30
    found = [(name, pattern) for name, text in sources.items() for pattern in FORBIDDEN
             if re.search(pattern, text)]
    assert found == []
    # The one unpickler is the restricted one.
    assert "class _NumpyOnlyUnpickler(pickle.Unpickler)" in sources["dcgan_dist.data.mnist"]


def _imports(source):
    """The dcgan_dist modules a module imports (module names, `from X import y` as X.y when
    y is a module of the package)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return {n for n in names if n.startswith("dcgan_dist")}


# What each wing may import besides itself (its __init__ docstring names the same modules:
# test_each_wing_states_its_rule). A package above an allowed module may be imported too
# (`from dcgan_dist.runtime import streams`): that runs only the package's docstring.
WING_RULES = {
    "dcgan_dist.runtime": {"dcgan_dist.errors"},
    "dcgan_dist.models": {"dcgan_dist.errors"},
    "dcgan_dist.data": {"dcgan_dist.errors", "dcgan_dist.runtime.streams"},
    "dcgan_dist.training": {"dcgan_dist.errors", "dcgan_dist.runtime.streams",
                            "dcgan_dist.models"},
    "dcgan_dist.rundir": {"dcgan_dist.errors", "dcgan_dist.paths"},
    "dcgan_dist.evaluation": {"dcgan_dist.errors", "dcgan_dist.runtime.streams",
                              "dcgan_dist.data", "dcgan_dist.rundir"},
}
# The core path and the programs: no wing imports them.
CORE = ("dcgan_dist.programs", "dcgan_dist.flags", "dcgan_dist.config", "dcgan_dist.build",
        "dcgan_dist.loop")


def _within(name, package):
    return name == package or name.startswith(package + ".")


def test_each_wing_imports_only_what_it_declares_and_nothing_is_circular():
    sources = _sources()
    graph = {name: {i for i in _imports(text) if i in sources and i != name}
             for name, text in sources.items()}
    broken = []
    for wing, allowed in WING_RULES.items():
        for name, imported in graph.items():
            if _within(name, wing):
                broken += [(name, i) for i in imported if not (
                    _within(i, wing) or any(_within(i, a) or _within(a, i) for a in allowed))]
    assert broken == []
    assert not [(n, i) for n, imported in graph.items() for i in imported
                if any(_within(n, w) for w in WING_RULES) and any(_within(i, c) for c in CORE)]
    assert not [n for n, imported in graph.items() if not _within(n, "dcgan_dist.programs")
                and any(_within(i, "dcgan_dist.programs") for i in imported)], (
        "the library never imports a program")
    assert not [n for n, imported in graph.items() if "dcgan_dist.loop" in imported
                and n != "dcgan_dist.programs.train"], "only dcgan-train may import the loop"
    assert not [n for n, imported in graph.items() if "dcgan_dist.build" in imported
                and n != "dcgan_dist.loop" and not _within(n, "dcgan_dist.programs")], (
        "only the loop and the programs build runs")

    def cycle_from(start, node, seen):
        for nxt in graph[node] - {"dcgan_dist"}:
            if nxt == start:
                return [node, nxt]
            if nxt not in seen:
                seen.add(nxt)
                found = cycle_from(start, nxt, seen)
                if found:
                    return [node] + found
        return None

    cycles = [cycle_from(name, name, set()) for name in graph]
    assert not [c for c in cycles if c], [c for c in cycles if c][:1]


def test_each_wing_states_its_rule():
    """Each wing's __init__ docstring names, in backquotes, every module its rule allows
    (`errors`, `runtime.streams`, ...)."""
    sources = _sources()
    for wing, allowed in WING_RULES.items():
        docstring = ast.get_docstring(ast.parse(sources[wing]))
        missing = [a for a in allowed if f"`{a.removeprefix('dcgan_dist.')}`" not in docstring]
        assert missing == [], f"{wing}'s docstring does not name {missing}"
