"""The FID network's forward pass in numpy, on a module tree of torchscript_files: written from
pytorch-fid's listing of the 2015 graph, independently of dcgan_dist.evaluation.inception_v3,
to check it (NHWC, float64)."""

import numpy as np

from torchscript_files import _Module


def _np_conv(x, m):
    s = m.state
    weight = s["weight"]  # O, I, kh, kw
    ph, pw = (s["padding"],) * 2 if np.isscalar(s["padding"]) else s["padding"]
    x = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    kh, kw, stride = weight.shape[2], weight.shape[3], s["stride"]
    out_h, out_w = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    y = 0
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i:i + stride * out_h:stride, j:j + stride * out_w:stride, :]
            y = y + patch @ weight[:, :, i, j].T
    y = (y - s["mean"]) / np.sqrt(s["var"] + 1e-3) + s["beta"]  # batch norm, no scale
    return np.maximum(y, 0)


def _np_pool(x, size, stride, pad, op):
    """op 'max' pads with -inf; 'avg' averages over the real pixels only."""
    n, h, w, c = x.shape
    fill = -np.inf if op == "max" else 0.0
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=fill)
    ones = np.pad(np.ones((1, h, w, 1)), ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    out_h, out_w = (h + 2 * pad - size) // stride + 1, (w + 2 * pad - size) // stride + 1
    acc, count = None, 0
    for i in range(size):
        for j in range(size):
            window = xp[:, i:i + stride * out_h:stride, j:j + stride * out_w:stride]
            valid = ones[:, i:i + stride * out_h:stride, j:j + stride * out_w:stride]
            if op == "max":
                acc = window if acc is None else np.maximum(acc, window)
            else:
                acc = window if acc is None else acc + window
                count = count + valid
    return acc if op == "max" else acc / count


def _np_seq(x, m):
    for child in m.state.values():
        if isinstance(child, _Module):
            x = (_np_pool(x, 3, 1, 1, "avg") if child.kind.endswith("AvgPool2d")
                 else _np_conv(x, child))
    return x


def reference_features(root, images_uint8):
    """[N, H, W, 3] uint8 -> [N, D]: TF1's bilinear resize to 299, (x - 128) / 128, the net."""
    x = images_uint8.astype(np.float64)
    n, h, w, _ = x.shape

    def axis(size_in):  # source = target * in / out, neighbours clamped at the border
        src = np.arange(299) * (size_in / 299)
        low = np.floor(src).astype(int)
        return low, np.minimum(low + 1, size_in - 1), src - low

    (y0, y1, fy), (x0, x1, fx) = axis(h), axis(w)
    rows = x[:, y0] * (1 - fy)[None, :, None, None] + x[:, y1] * fy[None, :, None, None]
    x = rows[:, :, x0] * (1 - fx)[None, None, :, None] + rows[:, :, x1] * fx[None, None, :, None]
    x = (x - 128) / 128
    layers = root.state["net"].state["layers"].state
    for name, m in layers.items():
        if not isinstance(m, _Module):
            continue
        kind = m.kind.rsplit(".", 1)[-1]
        s = m.state
        if kind == "Conv2dLayer":
            x = _np_conv(x, m)
        elif kind == "MaxPool2d":
            x = _np_pool(x, 3, 2, 0, "max")
        elif kind == "AvgPool2d":
            x = _np_pool(x, 8, 8, 0, "avg")
        elif kind in ("InceptionA", "InceptionC"):
            x = np.concatenate([_np_conv(x, s["conv"]), _np_seq(x, s["tower"]),
                                _np_seq(x, s["tower_1"]), _np_seq(x, s["tower_2"])], -1)
        elif kind == "InceptionB":
            x = np.concatenate([_np_conv(x, s["conv"]), _np_seq(x, s["tower"]),
                                _np_pool(x, 3, 2, 0, "max")], -1)
        elif kind == "InceptionD":
            x = np.concatenate([_np_seq(x, s["tower"]), _np_seq(x, s["tower_1"]),
                                _np_pool(x, 3, 2, 0, "max")], -1)
        elif kind == "InceptionE":
            a = _np_conv(x, s["tower_conv"])
            b = _np_conv(_np_conv(x, s["tower_1_conv"]), s["tower_1_conv_1"])
            op = "max" if s["tower_2_pool"].kind.endswith("MaxPool2d") else "avg"
            x = np.concatenate([_np_conv(x, s["conv"]), _np_conv(a, s["tower_mixed_conv"]),
                                _np_conv(a, s["tower_mixed_conv_1"]),
                                _np_conv(b, s["tower_1_mixed_conv"]),
                                _np_conv(b, s["tower_1_mixed_conv_1"]),
                                _np_conv(_np_pool(x, 3, 1, 1, op), s["tower_2_conv"])], -1)
    return x.reshape(n, -1)
