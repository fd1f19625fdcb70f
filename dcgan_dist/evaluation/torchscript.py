"""The weights inside a TorchScript file, read without torch and without running its code.

A TorchScript file (`torch.jit.save`) is a zip: `ARCHIVE/data.pkl` pickles the module tree
(objects of `__torch__.*` classes whose state holds their submodules, tensors and plain
attributes), `ARCHIVE/data/KEY` holds each tensor storage's raw little-endian bytes, and
`ARCHIVE/code/` the TorchScript source of each class, which is never read here. The pickle is
read by a restricted unpickler that builds only what a module tree is made of: tensors
(`torch._utils._rebuild_tensor_v2` over a storage), ordered dicts, int lists and module
objects. Any other global, `os.system` say, is refused before anything is called.

  read(fileobj) -> Module      # .kind "inceptionv3.Conv2dLayer", .children, .attrs
"""

import collections
import io
import pickle
import zipfile

import numpy as np

STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64,
                  "HalfStorage": np.float16, "LongStorage": np.int64, "IntStorage": np.int32,
                  "ByteStorage": np.uint8, "BoolStorage": np.bool_}
MODULE_PREFIX = "__torch__."
MAX_BYTES = 1 << 30  # all storages together, and data.pkl: the real network has 87 MB


class FormatError(ValueError):
    """Not a TorchScript file, or one holding something other than a module tree."""


class Module:
    """One module of the tree: its class (without `__torch__.` and torch's `___torch_mangle_N`
    parts), its submodules and tensors in the order they were defined, and its plain
    attributes (stride, padding, training, ...)."""

    def __init__(self, kind="", children=None, attrs=None):
        self.kind, self.children, self.attrs = kind, dict(children or {}), dict(attrs or {})

    def __setstate__(self, state):  # pickle's BUILD, after NEWOBJ made the bare object
        self.__init__(type(self).KIND)
        for name, value in state.items():
            (self.children if isinstance(value, (Module, np.ndarray)) else self.attrs)[name] = value

    def find(self, path):
        """The module or tensor at a dotted path ("layers.mixed_9.conv.weight")."""
        node = self
        for part in path.split("."):
            if not isinstance(node, Module) or part not in node.children:
                raise FormatError(f"no {path!r} in the network (stopped at {part!r})")
            node = node.children[part]
        return node


def _module_class(qualified_name):
    kind = ".".join(part for part in qualified_name.split(".")
                    if not part.startswith("___torch_mangle_"))
    return type(kind.rsplit(".", 1)[-1], (Module,), {"KIND": kind})


class _Storage:
    """A storage as persistent_load made it: a 1-D array no tensor may reach past."""

    def __init__(self, array):
        self.array = array


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _rebuild_tensor(storage, offset, size, stride, *unused):
    """The tensor's elements copied out of its storage, every index checked first: a
    crafted file must not read outside the storage nor ask for more memory than it holds."""
    if not isinstance(storage, _Storage):
        raise FormatError("a tensor whose storage is not a storage")
    size, stride = tuple(size), tuple(stride)
    if not (_is_count(offset) and len(size) == len(stride)
            and all(map(_is_count, size + stride))
            and all(s > 0 or n <= 1 for n, s in zip(size, stride))):
        raise FormatError(f"a tensor with a bad layout (offset {offset!r:.20}, shape "
                          f"{size!r:.40}, strides {stride!r:.40})")
    array = storage.array
    count = int(np.prod(size, dtype=np.int64)) if size else 1
    last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if count else offset - 1
    if last >= array.size or count > array.size:
        raise FormatError(f"a tensor of shape {size} reaches past its storage")
    return np.lib.stride_tricks.as_strided(
        array[offset:], shape=size, strides=tuple(s * array.itemsize for s in stride)).copy()


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, load_storage):
        super().__init__(file)
        self._load_storage = load_storage

    def find_class(self, module, name):
        if module.startswith(MODULE_PREFIX):
            return _module_class(f"{module[len(MODULE_PREFIX):]}.{name}")
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch.jit._pickle", "build_intlist"):
            return list
        if module == "torch" and name in STORAGE_DTYPES:
            return STORAGE_DTYPES[name]
        raise FormatError(f"refusing {module}.{name}: a TorchScript module tree holds only "
                          "modules and tensors")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise FormatError(f"unknown persistent reference {pid!r:.60}")
        _, dtype, key, _, numel = pid
        if not (isinstance(dtype, type) and dtype in STORAGE_DTYPES.values()
                and _is_count(numel)):
            raise FormatError(f"a storage of an unknown type or size ({pid!r:.60})")
        return _Storage(self._load_storage(str(key), dtype, numel))


def read(fileobj):
    """The module tree of a TorchScript zip (a path or a binary file object)."""
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError) as e:
        raise FormatError(f"not a TorchScript file (not a zip: {e})") from e
    with archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if not pickles:
            raise FormatError("not a TorchScript file (no ARCHIVE/data.pkl inside)")
        prefix = pickles[0][:-len("data.pkl")]
        loaded, budget = {}, [MAX_BYTES]

        def member(name):
            """A member's bytes, its declared size checked against what is left of the budget
            first (zipfile reads no more than it declares, and checks its CRC)."""
            size = archive.getinfo(name).file_size
            if size > budget[0]:
                raise FormatError(f"{name} makes the file larger than a network file "
                                  f"({MAX_BYTES} bytes)")
            budget[0] -= size
            return archive.read(name)

        def load_storage(key, dtype, numel):
            if key not in loaded:  # a storage may back many tensors: read it once
                name, itemsize = f"{prefix}data/{key}", np.dtype(dtype).itemsize
                if name not in archive.namelist():
                    raise FormatError(f"storage {key} is missing from the file")
                if archive.getinfo(name).file_size < numel * itemsize:
                    raise FormatError(f"storage {key} is truncated: "
                                      f"{archive.getinfo(name).file_size} of {numel * itemsize} "
                                      "bytes")
                data = member(name)
                loaded[key] = np.frombuffer(data, np.dtype(dtype).newbyteorder("<"))[:numel]
            return loaded[key]

        try:
            data = member(pickles[0])
            root = _Unpickler(io.BytesIO(data), load_storage).load()
        except FormatError:
            raise
        except Exception as e:  # whatever a damaged or crafted file raises, as one line
            raise FormatError(f"a damaged TorchScript file ({type(e).__name__}: {e})") from e
    if not isinstance(root, Module):
        raise FormatError("the TorchScript file holds no module")
    return root
