"""The precision a run computes in, and why: what `--precision=auto` stands for on this machine.

`auto` is mixed_bfloat16 on TPUs, mixed_float16 on GPUs, and on CPUs mixed_bfloat16 where the
CPU computes bfloat16 natively (issue 16 measured 1.5x float32's images/s on a Zen 4 with
avx512_bf16), float32 where bfloat16 would be emulated, which is slower.

On x86, oneDNN runs bfloat16 matmuls and convolutions in hardware with AVX512_BF16 (Intel
Cooper Lake and later, AMD Zen 4 and later) or AMX-BF16 (Intel Sapphire Rapids and later);
Linux lists them as `avx512_bf16` and `amx_bf16` in /proc/cpuinfo. Other CPUs (ARM's `bf16`)
are not counted: no measurement here says they are faster in bfloat16. The flags are read from
/proc/cpuinfo rather than asked of TensorFlow: TensorFlow has no public query, and reading a
text file has no effect on how TensorFlow starts.
"""

import sys

import tensorflow as tf

# --precision's choices besides `auto`, as Keras dtype policies.
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16", "float64")

CPUINFO_PATH = "/proc/cpuinfo"
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo_text):
    """The flags every processor in /proc/cpuinfo's text lists (x86 `flags :` lines)."""
    per_cpu = [set(line.split(":", 1)[1].split()) for line in cpuinfo_text.splitlines()
               if line.split(":", 1)[0].strip() == "flags" and ":" in line]
    return set.intersection(*per_cpu) if per_cpu else set()


def native_bfloat16(cpuinfo_text=None):
    """(has native bfloat16, why), from /proc/cpuinfo or from `cpuinfo_text` (tests).

    The reason is a phrase for the start-up log, e.g. "this CPU has no native bfloat16 (no
    avx512_bf16/amx_bf16 in /proc/cpuinfo)".
    """
    if cpuinfo_text is None:
        if not sys.platform.startswith("linux"):
            return False, f"cannot tell whether this CPU has native bfloat16 on {sys.platform} " \
                          f"(no {CPUINFO_PATH})"
        try:
            with open(CPUINFO_PATH) as f:
                cpuinfo_text = f.read()
        except OSError as e:
            return False, f"cannot tell whether this CPU has native bfloat16 ({e})"
    found = [flag for flag in BF16_FLAGS if flag in cpu_flags(cpuinfo_text)]
    if found:
        return True, f"this CPU has native bfloat16 ({', '.join(found)} in {CPUINFO_PATH})"
    return False, (f"this CPU has no native bfloat16 (no {'/'.join(BF16_FLAGS)} in "
                   f"{CPUINFO_PATH})")


def resolve_precision(precision, kind, native_bfloat16_fn=native_bfloat16):
    """(precision, why): what `--precision` stands for under strategy `kind` on this machine.

    Args:
      precision: the flag's value, `auto` or one of PRECISIONS.
      kind: the strategy kind (`strategy.resolve_kind`): cpu, gpu, mirrored, multi_worker, tpu.
      native_bfloat16_fn: `() -> (bool, reason)`, the CPU detection (tests pass a fake).
    """
    if precision != "auto":
        if precision != "mixed_bfloat16" or _device(kind) != "cpu":
            return precision, "set by --precision"
        native, why = native_bfloat16_fn()
        return precision, "set by --precision" + (
            "" if native else f"; {why}, so it is emulated and slower than float32")
    return _AUTO[_device(kind)](native_bfloat16_fn)


def _device(kind):
    """Where the steps run: tpu, gpu or cpu (a mirrored or multi-worker run without GPUs)."""
    if kind == "tpu":
        return "tpu"
    return "gpu" if kind != "cpu" and tf.config.list_physical_devices("GPU") else "cpu"


def _auto_cpu(native_bfloat16_fn):
    native, why = native_bfloat16_fn()
    return ("mixed_bfloat16" if native else "float32"), why


_AUTO = {
    "tpu": lambda _: ("mixed_bfloat16", "TPUs compute in bfloat16"),
    "gpu": lambda _: ("mixed_float16", "GPUs compute float16 on tensor cores"),
    "cpu": _auto_cpu,
}
