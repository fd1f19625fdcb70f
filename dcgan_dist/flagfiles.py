"""Configs and flagfiles, turned into plain flags before a program parses them.

    argv = expand(argv, configs=True)    # --config=NAME and --flagfile=PATH, recursively

The configs are package data (`dcgan_dist/configs/NAME.cfg`, also reachable as the
repository's `configs/`), so `dcgan-train --config=NAME` works from any folder and from an
installed wheel; inside a config, `--config=OTHER` includes another by name. CONFIGS is the
table behind --config; each config's first line is its one-line purpose (--list_configs).

`--flagfile=PATH` keeps absl's meaning (a file of flags, `#` and `//` comments, later flags
win), expanded here rather than by absl so that a flagfile may name configs, and so that a
missing include says where it was looked for. A relative include is looked for in the current
folder (absl's rule, which existing commands rely on), then beside the file that includes it.
"""

import dataclasses
import importlib.resources
import os

from dcgan_dist.errors import UserError

CONFIG_SUFFIX = ".cfg"
_PACKAGE_DIR = "dcgan_dist/configs"  # how messages name the folder, wherever it is installed


def _config_dir():
    return importlib.resources.files("dcgan_dist").joinpath("configs")


# --config's choices: every packaged NAME.cfg.
CONFIGS = {entry.name[:-len(CONFIG_SUFFIX)]: entry for entry in _config_dir().iterdir()
           if entry.name.endswith(CONFIG_SUFFIX)}


@dataclasses.dataclass(frozen=True)
class _Source:
    """Where a line of flags came from, for messages: 'the command line', or a file."""
    name: str             # e.g. "dcgan_dist/configs/tpu.cfg" or "/home/me/x.cfg"
    folder: str | None    # the folder relative includes may also be found in
    key: str              # identity for the include chain (cycles)

    @property
    def where(self):
        return f"in {self.name}" if self.key else "on the command line"


_COMMAND_LINE = _Source("the command line", None, "")


def purpose(name):
    """A config's one-line purpose: its first line, a `#` comment."""
    first = CONFIGS[name].read_text().splitlines()[0]
    return first.lstrip("#").strip()


def describe_configs():
    """The --list_configs text: every packaged config with its purpose."""
    width = max(map(len, CONFIGS))
    lines = [f"dcgan-train --config=NAME (from {_PACKAGE_DIR}/; later flags win, e.g. "
             "--config=dcgan --dataset=my_photos):"]
    lines += [f"  {name:<{width}}  {purpose(name)}" for name in sorted(CONFIGS)]
    return "\n".join(lines)


def expand(argv, configs):
    """argv with every --flagfile (and, if `configs`, every --config) replaced by its flags.

    argv[0] is the program. Expansion stops at `--`, as absl's does. A --config=NAME stays
    in place before its flags, so the program's parsed --config lists the configs used.
    """
    out = [argv[0]]
    out += _expand(argv[1:], _COMMAND_LINE, configs, chain=())
    return out


def _expand(args, source, configs, chain):
    out = []
    args = list(args)
    while args:
        arg = args.pop(0)
        if arg == "--":
            return out + [arg] + args
        name, value = _directive(arg, args, source)
        if name == "flagfile":
            out += _include_file(value, source, configs, chain)
        elif name == "config" and configs:
            out += [f"--config={value}"] + _include_config(value, source, chain)
        else:
            out.append(arg)
    return out


def _directive(arg, rest, source):
    """('flagfile' or 'config', value) if `arg` is one (taking `--flagfile PATH`'s PATH from
    `rest`), else (None, None)."""
    for name in ("flagfile", "config"):
        for dashes in ("--", "-"):
            if arg.startswith(f"{dashes}{name}="):
                return name, arg.split("=", 1)[1]
            if arg == f"{dashes}{name}":
                if not rest:
                    raise UserError(f"--{name} needs a value ({source.where})")
                return name, rest.pop(0)
    return None, None


def _include_config(name, source, chain):
    if name not in CONFIGS:
        raise UserError(f"--config={name} ({source.where}) is not a packaged config; use one "
                        f"of {', '.join(sorted(CONFIGS))} (dcgan-train --list_configs)")
    entry = CONFIGS[name]
    included = _Source(f"{_PACKAGE_DIR}/{entry.name}", None, f"config:{name}")
    return _read(entry.read_text(), included, True, chain)


def _include_file(path, source, configs, chain):
    if not path:  # absl ignores an empty --flagfile=
        return []
    path = os.path.expanduser(path)
    candidates = [os.path.abspath(path)]
    if source.folder and not os.path.isabs(path):
        candidates.append(os.path.join(source.folder, path))
    found = next((c for c in candidates if os.path.isfile(c)), None)
    if found is None:
        looked = " and ".join(dict.fromkeys(candidates))
        raise UserError(f"flagfile {path} ({source.where}) not found: looked for {looked}")
    if _same_config(found) and configs:
        # The repository's configs/ is the package's folder: an old-style include of a config
        # counts as that config, for cycles and messages alike.
        return _include_config(os.path.basename(found)[:-len(CONFIG_SUFFIX)], source, chain)
    included = _Source(found, os.path.dirname(found), os.path.realpath(found))
    try:
        with open(found) as f:
            text = f.read()
    except OSError as e:
        raise UserError(f"flagfile {found} ({source.where}) cannot be read: {e}") from e
    return _read(text, included, configs, chain)


def _same_config(path):
    """Whether `path` is one of the packaged configs (through the configs/ symlink or not)."""
    name = os.path.basename(path)
    if not name.endswith(CONFIG_SUFFIX) or name[:-len(CONFIG_SUFFIX)] not in CONFIGS:
        return False
    packaged = CONFIGS[name[:-len(CONFIG_SUFFIX)]]
    try:
        return os.path.samefile(path, os.fspath(packaged))
    except (OSError, TypeError):  # packaged configs not on a file system (zip)
        return False


def _read(text, source, configs, chain):
    """The flags of a file's text: blank lines and `#`/`//` comments dropped, each other line
    one argument (absl's format), includes expanded."""
    if source.key in chain:
        names = " -> ".join([*chain, source.key])
        raise UserError(f"{source.name} includes itself ({names}); remove the circular include")
    args = [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith(("#", "//"))]
    return _expand(args, source, configs, chain + (source.key,))
