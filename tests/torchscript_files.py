"""TorchScript files written without torch, and a small FID network in the wheel's layout.

`write(path, root)` writes a module tree the way `torch.jit.save` lays it out (a zip with
ARCHIVE/data.pkl pickling `__torch__.*` objects whose tensors point at raw little-endian
storages in ARCHIVE/data/KEY); `tiny_inception(width)` is the wheel's network with the same
modules, attributes and file layout but `width` channels per branch (numpy_inception.py runs
it).
"""

import collections
import io
import pickle
import zipfile

import numpy as np


class _Global:
    """Pickled as GLOBAL module.name: what the reader must resolve."""

    def __init__(self, module, name):
        self.torch_global = (module, name)

    def __call__(self, *args):  # never called while writing
        raise AssertionError


class _Module:
    """A module object of class `__torch__.{kind}`: NEWOBJ, then BUILD with its state."""

    def __init__(self, kind, **state):
        self.kind, self.state = kind, {"training": False, "_is_full_backward_hook": None,
                                       **state}


class Strided:
    """A tensor written with a layout of the caller's choosing over `storage` (float32):
    how a crafted file would try to read outside its storage."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.layout = np.asarray(storage, "<f4"), (offset, size, stride)


REBUILD = _Global("torch._utils", "_rebuild_tensor_v2")
FLOAT_STORAGE = _Global("torch", "FloatStorage")


class _Writer(pickle._Pickler):  # the pure-Python pickler, to write chosen GLOBALs
    def __init__(self, file, storages):
        super().__init__(file, protocol=2)
        self.storages = storages

    def reducer_override(self, obj):
        if isinstance(obj, _Global):
            module, name = obj.torch_global
            self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode())
            return (_pop_and_keep, ())  # the GLOBAL is on the stack: leave it there
        if isinstance(obj, _Module):
            module, _, name = f"__torch__.{obj.kind}".rpartition(".")
            return (_NewObj(_Global(module, name)), (), obj.state)
        if isinstance(obj, Strided):
            key = str(len(self.storages))
            self.storages[key] = obj.storage.tobytes()
            return (REBUILD, (_Storage(key, obj.storage.size), *obj.layout, False,
                              collections.OrderedDict()))
        if isinstance(obj, np.ndarray):
            key = str(len(self.storages))
            # Written transposed and strided back, so the reader must honour the strides.
            fortran = np.asfortranarray(obj.astype("<f4"))
            storage = fortran.reshape(-1, order="F")
            self.storages[key] = storage.tobytes()
            strides = tuple(int(s) // 4 for s in fortran.strides)
            return (REBUILD, (_Storage(key, storage.size), 0, obj.shape, strides, False,
                              collections.OrderedDict()))
        return NotImplemented

    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", FLOAT_STORAGE, obj.key, "cpu", obj.numel)
        return None


class _Storage:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class _NewObj:
    """Reduces to GLOBAL cls, EMPTY_TUPLE, NEWOBJ by way of copyreg.__newobj__'s protocol."""

    def __init__(self, cls):
        self.cls = cls


def _pop_and_keep():
    raise AssertionError


def _save_reduce_patch():
    original = pickle._Pickler.save_reduce

    def save_reduce(self, func, args, state=None, *rest, obj=None, **kwargs):
        if func is _pop_and_keep:  # the GLOBAL was written by reducer_override itself
            return
        if isinstance(func, _NewObj):
            self.save(func.cls)
            self.write(pickle.EMPTY_TUPLE + pickle.NEWOBJ)
            self.memoize(obj)
            self.save(state)
            self.write(pickle.BUILD)
            return
        return original(self, func, args, state, *rest, obj=obj, **kwargs)
    return save_reduce


_Writer.save_reduce = _save_reduce_patch()


def write(path, root, archive="archive", pickle_bytes=None):
    """Writes the module tree `root` (a _Module) as a TorchScript zip at `path`."""
    storages, buffer = {}, io.BytesIO()
    _Writer(buffer, storages).dump(root)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{archive}/data.pkl", pickle_bytes or buffer.getvalue())
        for key, data in storages.items():
            z.writestr(f"{archive}/data/{key}", data)
        z.writestr(f"{archive}/version", "3\n")
        z.writestr(f"{archive}/constants.pkl", pickle.dumps((), protocol=2))


# -- the network: the wheel's module tree with `width` channels per convolution --------------

def tiny_inception(width=2, seed=0):
    rng = np.random.default_rng(seed)
    channels = [3]

    def conv(out, kh, kw, stride=1, padding=0, cin=None):
        cin = channels[-1] if cin is None else cin
        mangled = isinstance(padding, list)
        return _Module("inceptionv3.___torch_mangle_2.Conv2dLayer" if mangled
                       else "inceptionv3.Conv2dLayer",
                       weight=rng.normal(0, 2.0 / np.sqrt(cin * kh * kw),
                                         (out, cin, kh, kw)).astype(np.float32),
                       beta=rng.uniform(0.0, 0.2, out).astype(np.float32),
                       mean=rng.normal(0, 0.1, out).astype(np.float32),
                       var=rng.uniform(0.5, 1.5, out).astype(np.float32),
                       stride=stride, padding=padding)

    def seq(*convs, kind="torch.nn.modules.container.Sequential"):
        names = ["conv"] + [f"conv_{i}" for i in range(1, len(convs))]
        return _Module(kind, **dict(zip(names, convs)))

    def chain(*specs, cin):
        out, c = [], cin
        for spec in specs:
            out.append(conv(*spec, cin=c))
            c = spec[0]
        return out

    w = width
    pool = lambda kind: _Module(f"torch.nn.modules.pooling.{kind}")  # noqa: E731
    layers = {}
    for name, spec in [("conv", (w, 3, 3, 2)), ("conv_1", (w, 3, 3)), ("conv_2", (w, 3, 3, 1, 1))]:
        layers[name] = conv(*spec)
        channels.append(spec[0])
    layers["pool0"] = pool("MaxPool2d")
    for name, spec in [("conv_3", (w, 1, 1)), ("conv_4", (w, 3, 3))]:
        layers[name] = conv(*spec)
        channels.append(spec[0])
    layers["pool1"] = pool("MaxPool2d")
    c = channels[-1]
    for name in ("mixed", "mixed_1", "mixed_2"):
        layers[name] = _Module("inceptionv3.InceptionA", conv=conv(w, 1, 1, cin=c),
                               tower=seq(*chain((w, 1, 1), (w, 5, 5, 1, 2), cin=c)),
                               tower_1=seq(*chain((w, 1, 1), (w, 3, 3, 1, 1), (w, 3, 3, 1, 1),
                                                  cin=c)),
                               tower_2=_Module("torch.nn.modules.container.Sequential",
                                               pool=pool("AvgPool2d"), conv=conv(w, 1, 1, cin=c)))
        c = 4 * w
    layers["mixed_3"] = _Module("inceptionv3.InceptionB", conv=conv(w, 3, 3, 2, cin=c),
                                tower=seq(*chain((w, 1, 1), (w, 3, 3, 1, 1), (w, 3, 3, 2),
                                                 cin=c)),
                                pool=pool("MaxPool2d"))
    c = 2 * w + c
    for name in ("mixed_4", "mixed_5", "mixed_6", "mixed_7"):
        layers[name] = _Module(
            "inceptionv3.InceptionC", conv=conv(w, 1, 1, cin=c),
            tower=seq(*chain((w, 1, 1), (w, 1, 7, 1, [0, 3]), (w, 7, 1, 1, [3, 0]), cin=c)),
            tower_1=seq(*chain((w, 1, 1), (w, 7, 1, 1, [3, 0]), (w, 1, 7, 1, [0, 3]),
                               (w, 7, 1, 1, [3, 0]), (w, 1, 7, 1, [0, 3]), cin=c)),
            tower_2=_Module("torch.nn.modules.container.Sequential", pool=pool("AvgPool2d"),
                            conv=conv(w, 1, 1, cin=c)))
        c = 4 * w
    layers["mixed_8"] = _Module(
        "inceptionv3.InceptionD", tower=seq(*chain((w, 1, 1), (w, 3, 3, 2), cin=c)),
        tower_1=seq(*chain((w, 1, 1), (w, 1, 7, 1, [0, 3]), (w, 7, 1, 1, [3, 0]), (w, 3, 3, 2),
                           cin=c)),
        pool=pool("MaxPool2d"))
    c = 2 * w + c
    for name, pool_kind in (("mixed_9", "AvgPool2d"), ("mixed_10", "MaxPool2d")):
        layers[name] = _Module(
            "inceptionv3.InceptionE", conv=conv(w, 1, 1, cin=c), tower_conv=conv(w, 1, 1, cin=c),
            tower_mixed_conv=conv(w, 1, 3, 1, [0, 1], cin=w),
            tower_mixed_conv_1=conv(w, 3, 1, 1, [1, 0], cin=w),
            tower_1_conv=conv(w, 1, 1, cin=c), tower_1_conv_1=conv(w, 3, 3, 1, 1, cin=w),
            tower_1_mixed_conv=conv(w, 1, 3, 1, [0, 1], cin=w),
            tower_1_mixed_conv_1=conv(w, 3, 1, 1, [1, 0], cin=w),
            tower_2_pool=pool(pool_kind), tower_2_conv=conv(w, 1, 1, cin=c))
        c = 6 * w
    layers["pool2"] = pool("AvgPool2d")
    net = _Module("inceptionv3.InceptionV3", layers=_Module(
        "torch.nn.modules.container.___torch_mangle_9.Sequential", **layers))
    return _Module("wrap_net.WrapNet", net=net), 6 * w
