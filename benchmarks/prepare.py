"""`dcgan-data prepare images` on a CelebA-sized archive: images/s of each pass, as printed.

    .venv/bin/python -m benchmarks.prepare --workroot=DIR [--num_images=200000]
                                           [--image_size=64] [--format=zip]

Writes DIR/faces.zip once (kept for reruns): `--num_images` photo-like 218x178 JPEGs (quality
90, ~7 KB each as CelebA's are: smooth colour fields with a few soft shapes and grain), in
folders of 10,000 under one wrapping folder, as `img_align_celeba.zip` is laid out. Then runs
the prepare command a person would (a subprocess, `--image_size`, default hold-out) and
reports its wall time, images/s overall and for each pass (from prepare's own progress lines),
the peak memory and the dataset's size on disk.
"""

import argparse
import io
import os
import re
import resource
import subprocess
import sys
import time
import zipfile

import numpy as np

from benchmarks import common

WIDTH, HEIGHT = 178, 218


def _photo(rng):
    """One 218x178 RGB uint8 image: smooth colour fields, soft blobs, grain."""
    from PIL import Image, ImageFilter
    coarse = rng.integers(0, 256, (4, 3, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize((WIDTH, HEIGHT), Image.BICUBIC)
    array = np.asarray(image, np.int16).copy()
    for _ in range(3):
        cy, cx, r = rng.integers(20, HEIGHT - 20), rng.integers(20, WIDTH - 20), rng.integers(8, 40)
        yy, xx = np.ogrid[:HEIGHT, :WIDTH]
        array[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] += rng.integers(-60, 60, 3, dtype=np.int16)
    array += rng.integers(-4, 5, array.shape, dtype=np.int16)
    image = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(0.6))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def write_archive(path, num_images):
    if os.path.exists(path):
        return
    rng = np.random.default_rng(0)
    partial = path + ".partial"
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as archive:  # JPEGs: stored, as CelebA
        for i in range(num_images):
            archive.writestr(f"faces/{i // 10000:02d}/{i:06d}.jpg", _photo(rng))
            if (i + 1) % 20000 == 0:
                common.progress(f"wrote {i + 1}/{num_images} images into {partial}")
    os.rename(partial, path)


def _rates(log):
    """{pass: images/s} from prepare's last progress line of each pass."""
    rates = {}
    for line in log.splitlines():
        match = re.search(r"\] (scanned|wrote train|wrote test) (\d+)/(\d+) images \((\d+)/s\)", line)
        if match:
            rates[match.group(1)] = (int(match.group(2)), int(match.group(4)))
    return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workroot", required=True)
    parser.add_argument("--num_images", type=int, default=200_000)
    parser.add_argument("--image_size", type=int, default=64)
    args = parser.parse_args()
    os.makedirs(args.workroot, exist_ok=True)
    archive = os.path.join(args.workroot, f"faces_{args.num_images}.zip")
    write_archive(archive, args.num_images)
    data_dir = os.path.join(args.workroot, "tfds")
    program = os.path.join(os.path.dirname(sys.executable), "dcgan-data")
    command = [program, "prepare", "images", f"--source={archive}", "--name=faces",
               f"--data_dir={data_dir}", f"--image_size={args.image_size}", "--overwrite"]
    common.progress("running " + " ".join(command))
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.monotonic() - start
    if result.returncode:
        sys.exit(result.stderr[-3000:])
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rates = _rates(result.stderr)
    stored = sum(os.path.getsize(os.path.join(root, f))
                 for root, _, files in os.walk(os.path.join(data_dir, "faces")) for f in files)
    print(common.machine_line())
    print(f"\n`{' '.join(['dcgan-data'] + command[1:])}` on {args.num_images:,} JPEGs of "
          f"{WIDTH}x{HEIGHT} in a {os.path.getsize(archive) / 2**30:.2f} GiB zip\n")
    print("| pass | images | images/s |\n|---|---:|---:|")
    for name, (count, rate) in rates.items():
        print(f"| {name} | {count:,} | {rate:,} |")
    print(f"| **whole prepare** | {args.num_images:,} | **{args.num_images / seconds:,.0f}** |")
    print(f"\nwall time {seconds / 60:.1f} min; peak RSS {peak_mb:,.0f} MB; the dataset on disk "
          f"{stored / 2**20:,.0f} MiB\n\n{result.stdout.strip()}")


if __name__ == "__main__":
    main()
