"""Whether this CPU computes bfloat16 natively: what `--precision=auto` asks on a CPU.

On x86, oneDNN runs bfloat16 matmuls and convolutions in hardware with AVX512_BF16 (Intel
Cooper Lake and later, AMD Zen 4 and later) or AMX-BF16 (Intel Sapphire Rapids and later);
Linux lists them as `avx512_bf16` and `amx_bf16` in /proc/cpuinfo. Without them bfloat16 is
emulated and much slower than float32. Other CPUs (ARM's `bf16`) are not counted: no
measurement here says they are faster in bfloat16.

The flags are read from /proc/cpuinfo rather than asked of TensorFlow: TensorFlow has no
public query, and reading a text file has no effect on how TensorFlow starts.
"""

import sys

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
