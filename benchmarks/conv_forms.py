"""The dcgan layers' stride-2 convolutions in other exact forms, against TensorFlow's own.

    .venv/bin/python -m benchmarks.conv_forms     # ~5 min on 2 cores

Issue 23 asked whether an equivalent formulation of the 4x4, stride-2, "same" convolution
and its transpose beats TensorFlow's oneDNN kernels on a CPU. Timed per layer shape (batch
64, float32 unless --dtype says otherwise), forward and both gradients in one tf.function:
- `phases`: the transposed convolution as its four output phases, each a 2x2 stride-1
  convolution of the padded input, interleaved by depth_to_space (no multiply by zero).
- `im2col`: the convolution as space_to_depth of the padded input, a 2x2 im2col and one
  GEMM; its transpose as one GEMM, a 2x2 col2im and depth_to_space; gradients by autodiff.
- the package's forms (models.strided): `blocks` (space_to_depth + a 2x2 stride-1
  convolution) and `gemm` (GEMMs with their own gradients).
Each is first checked in float64 against tf.nn.conv2d / conv2d_transpose (outputs and both
gradients). The first table has every form on the 64 px dcgan's layers; the second has, for
the shapes where models.strided chooses, TensorFlow's op against the form it would choose
(`form` in the last column) or the one it declines.
"""

import argparse
import time

import numpy as np
import tensorflow as tf

from benchmarks.common import command_line, machine_line, progress
from dcgan_dist.models import strided

BATCH = 64
# (channels in, channels out, input side) of the 64 px dcgan's discriminator convolutions;
# the generator's transposed convolutions are the same shapes, run backwards.
LAYERS = ((1, 64, 64), (64, 128, 32), (128, 256, 16), (256, 512, 8))
PAD = strided.PAD


def conv(x, kernel):
    return tf.nn.conv2d(x, kernel, 2, "SAME")


def conv_transpose(y, kernel):
    n, h, w, _ = y.shape
    return tf.nn.conv2d_transpose(y, kernel, [n, 2 * h, 2 * w, kernel.shape[2]], 2, "SAME")


def _gemm_kernel(kernel):
    """[4, 4, C, O] -> [16 C, O], rows in im2col's (dh, dw, bh, bw, c) order: models.strided's
    block kernel as one matrix."""
    return tf.reshape(strided._block_kernel(kernel), [-1, kernel.shape[-1]])


def conv_gemm(x, kernel):
    n, h, w, c = x.shape
    blocks = tf.nn.space_to_depth(tf.pad(x, PAD), 2)  # [n, h/2 + 1, w/2 + 1, 4 c]
    cols = tf.concat([blocks[:, dh:dh + h // 2, dw:dw + w // 2]
                      for dh in (0, 1) for dw in (0, 1)], -1)
    y = tf.matmul(tf.reshape(cols, [-1, 16 * c]), _gemm_kernel(kernel))
    return tf.reshape(y, [n, h // 2, w // 2, -1])


def conv_transpose_gemm(y, kernel):
    n, h, w, c = y.shape
    cols = tf.matmul(tf.reshape(y, [-1, c]), _gemm_kernel(kernel), transpose_b=True)
    parts = tf.split(tf.reshape(cols, [n, h, w, -1]), 4, axis=-1)  # (dh, dw) in order
    blocks = tf.add_n([tf.pad(part, [[0, 0], [dh, 1 - dh], [dw, 1 - dw], [0, 0]])
                       for part, (dh, dw) in zip(parts, [(0, 0), (0, 1), (1, 0), (1, 1)])])
    return tf.nn.depth_to_space(blocks, 2)[:, 1:-1, 1:-1]


def conv_transpose_phases(y, kernel):
    """Output pixel (2m + a, 2n + b) reads the padded input at rows m + a + {0, 1} with kernel
    rows 3 - a - 2 {0, 1} (and the same for columns)."""
    n, h, w, _ = y.shape
    padded = tf.pad(y, PAD)
    phases = []
    for a in (0, 1):
        for b in (0, 1):
            k = tf.stack([tf.stack([kernel[3 - a - 2 * dh, 3 - b - 2 * dw] for dw in (0, 1)])
                          for dh in (0, 1)])  # [2, 2, out, in]
            phases.append(tf.nn.conv2d(padded[:, a:a + h + 1, b:b + w + 1],
                                       tf.transpose(k, [0, 1, 3, 2]), 1, "VALID"))
    stacked = tf.stack(phases, axis=3)  # [n, h, w, 4, out]
    return tf.nn.depth_to_space(tf.reshape(stacked, [n, h, w, -1]), 2)


FORMS = {  # name: (function, the tf op it stands for)
    "conv2d": (conv, conv),
    "conv2d as im2col": (conv_gemm, conv),
    "conv2d as blocks": (strided.conv_blocks, conv),
    "conv2d as gemm": (strided.conv_gemm, conv),
    "conv2d_transpose": (conv_transpose, conv_transpose),
    "conv2d_transpose as im2col": (conv_transpose_gemm, conv_transpose),
    "conv2d_transpose as phases": (conv_transpose_phases, conv_transpose),
    "conv2d_transpose as blocks": (strided.conv_transpose_blocks, conv_transpose),
    "conv2d_transpose as gemm": (strided.conv_transpose_gemm, conv_transpose),
}
# (channels in, out, input side) where models.strided chooses: the 4x4 maps' layers at widths
# 64-512 (gemm from 256), the image layers at 1 and 3 channels, 32-128 px (blocks).
CHOICES = ((64, 128, 8), (128, 256, 8), (256, 512, 8), (512, 1024, 8),
           (1, 64, 32), (1, 64, 64), (1, 64, 128), (3, 64, 32), (3, 64, 64), (3, 64, 128))


def forward_and_gradients(fn):
    """The forward pass's sum is returned too: with only the gradients asked for, TensorFlow
    prunes the forward convolution (its output is not needed for them)."""
    @tf.function(autograph=False)
    def step(x, kernel):
        with tf.GradientTape() as tape:
            tape.watch([x, kernel])
            out = fn(x, kernel)
        grads = tape.gradient(out, [x, kernel], output_gradients=tf.ones_like(out))
        return grads + [tf.reduce_sum(out)]
    return step


def check(rng):
    """Every form against the op it stands for, in float64: outputs and both gradients."""
    for name, (fn, reference) in FORMS.items():
        transpose = reference is conv_transpose
        x = rng.normal(size=(2, 6, 8, 5 if transpose else 3))
        kernel = tf.constant(rng.normal(size=(4, 4, 3, 5)))
        x = tf.constant(x)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([x, kernel])
            ours, theirs = fn(x, kernel), reference(x, kernel)
            ours, theirs = tf.reduce_sum(ours ** 2), tf.reduce_sum(theirs ** 2)
        pairs = [(ours, theirs)] + list(zip(tape.gradient(ours, [x, kernel]),
                                            tape.gradient(theirs, [x, kernel])))
        error = max(float(tf.reduce_max(tf.abs(a - b) / (1 + tf.abs(b)))) for a, b in pairs)
        if error > 1e-10:
            raise SystemExit(f"{name} differs from {reference.__name__}: {error:.1e}")


def time_form(fn, x, kernel, steps, repeats):
    step = forward_and_gradients(fn)
    step(x, kernel)[0].numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            grads = step(x, kernel)
        grads[0].numpy()
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def time_layer(rng, name, cin, cout, side, steps, repeats, dtype="float32"):
    """(seconds, models.strided's choice) for form `name` on the layer cin -> cout at `side`
    (the image side: the convolution's input, the transpose's output)."""
    fn, reference = FORMS[name]
    transpose = reference is conv_transpose
    shape = (BATCH, side // 2, side // 2, cout) if transpose else (BATCH, side, side, cin)
    x = tf.cast(rng.normal(size=shape), dtype)
    kernel = tf.cast(rng.normal(0, 0.02, size=(4, 4, cin, cout)), dtype)
    layer = (strided.Conv2DTranspose if transpose else strided.Conv2D)(
        cin if transpose else cout, 4, strides=2, padding="same")
    return time_form(fn, x, kernel, steps, repeats), strided.form(layer, x, kernel, transpose)


def layer_name(cin, cout, side, transpose):
    return (f"{cout}→{cin}, {side // 2}→{side}" if transpose
            else f"{cin}→{cout}, {side}→{side // 2}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"],
                        help="for the second table (the first is float32)")
    parser.add_argument("--only_choices", action="store_true", help="the second table only")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    check(rng)
    print(f"Machine: {machine_line()}  \nCommand: `{command_line()}`  \n"
          f"batch {BATCH}; ms for the forward pass and both gradients (best of "
          f"{args.repeats} x {args.steps}); every form checked in float64 first.\n")
    if not args.only_choices:
        print("float32, the 64 px dcgan's layers:\n\n| layer | form | ms | GFLOP/s |\n"
              "|---|---|---:|---:|")
        for cin, cout, side in LAYERS:
            flops = 3 * 2 * BATCH * (side // 2) ** 2 * 16 * cin * cout
            for name, (_, reference) in FORMS.items():
                layer = layer_name(cin, cout, side, reference is conv_transpose)
                progress(f"{layer}: {name}")
                secs, _ = time_layer(rng, name, cin, cout, side, args.steps, args.repeats)
                print(f"| {layer} | {name} | {secs * 1e3:.1f} | {flops / secs / 1e9:.0f} |",
                      flush=True)
    print(f"\n{args.dtype}, where models.strided chooses:\n\n| layer | TensorFlow's op, ms | "
          "the other form, ms | models.strided uses |\n|---|---:|---:|---|")
    for cin, cout, side in CHOICES:
        other = "blocks" if cin <= 4 else "gemm"
        for op in ("conv2d", "conv2d_transpose"):
            layer = layer_name(cin, cout, side, op != "conv2d")
            progress(f"{layer}: {op} and {other}")
            ours, _ = time_layer(rng, op, cin, cout, side, args.steps, args.repeats, args.dtype)
            theirs, choice = time_layer(rng, f"{op} as {other}", cin, cout, side, args.steps,
                                        args.repeats, args.dtype)
            print(f"| {layer} | {ours * 1e3:.1f} | {other}: {theirs * 1e3:.1f} | {choice} |",
                  flush=True)


if __name__ == "__main__":
    main()
