"""Source-level guarantees: no shell commands built from strings, no unrestricted unpickling."""

import pathlib
import re

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "dcgan_dist"
FORBIDDEN = [r"shell\s*=\s*True", r"os\.system\(", r"os\.popen\(", r"pickle\.loads?\(",
             r"\beval\(", r"\bexec\("]


def test_package_runs_no_shell_strings_and_never_unpickles_freely():
    sources = {p.name: p.read_text() for p in PACKAGE.glob("*.py")}
    assert "prepare.py" in sources and len(sources) > 10
    found = [(name, pattern) for name, text in sources.items() for pattern in FORBIDDEN
             if re.search(pattern, text)]
    assert found == []
    # The one unpickler is the restricted one.
    assert "class _NumpyOnlyUnpickler(pickle.Unpickler)" in sources["prepare.py"]
