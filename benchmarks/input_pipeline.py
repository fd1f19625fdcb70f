"""The input pipeline alone at 64x64x3, in memory and streaming, against what training eats.

    .venv/bin/python -m benchmarks.input_pipeline                 # ~15 min on 2 cores
    .venv/bin/python -m benchmarks.input_pipeline --sizes=2000 --quick

Writes generated photo-like images (smooth colour fields with noise, so PNG compresses them
like photos rather than like noise) as TFDS datasets of each --sizes, the way `dcgan-data
prepare folder` stores them (PNG in TFRecords), then, each in its own process so peak memory
is its own: images/s of InMemorySource and StreamingSource alone (batch 64, all cores), and
peak resident memory. Last, images/s of one training step of the tutorial's model at 64 px
(--synthetic_data), the rate the pipeline must outrun 10x so a GPU host's input is never the
bottleneck. Then the storage formats `prepare folder` could choose, on the same images:
bytes per image and decode rate (tf.data map on all cores) of PNG, JPEG (quality 95, lossy)
and raw pixels. Prints markdown tables with the machine named.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from benchmarks.common import REPO, command_line, machine_line

SIZE = 64


def _photo_like(rng, count):
    import numpy as np
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    for _ in range(count):
        a = rng.uniform(0, 255, (3, 3))
        field = a[:, 0, None, None] + a[:, 1, None, None] * x + a[:, 2, None, None] * y
        image = np.moveaxis(field, 0, -1) / 2 + rng.normal(0, 8, (SIZE, SIZE, 3))
        yield np.clip(image, 0, 255).astype(np.uint8)


def write_dataset(data_dir, name, count):
    import numpy as np
    import tensorflow_datasets as tfds
    if os.path.exists(os.path.join(data_dir, name)):
        return
    rng = np.random.default_rng(0)
    examples = ((i, {"image": image}) for i, image in enumerate(_photo_like(rng, count)))
    tfds.dataset_builders.store_as_tfds_dataset(
        name=name, version="1.0.0", data_dir=data_dir, split_datasets={"train": examples},
        features=tfds.features.FeaturesDict({"image": tfds.features.Image(shape=(SIZE, SIZE, 3))}),
        disable_shuffling=True)


def measure_source(data_dir, name, source, batches):
    """Runs in a child: images/s of one source after its first batch, and peak RSS."""
    import tensorflow as tf
    from dcgan_dist.config import Config
    from dcgan_dist.data import info as data_info, sources
    # The source alone, chosen by name (a run would choose by --cache_limit_mb), no run: the
    # work directory is never created.
    config = Config.of(workdir=os.path.join(tempfile.gettempdir(), "dcgan-input-unused"),
                       dataset=name, data_dir=data_dir, global_batch_size=64)
    info = data_info.load_info(config.data)
    start = time.monotonic()
    ds = sources.SOURCES[source](config.data, info).make_dataset(tf.distribute.InputContext(), 0)
    it = iter(ds)
    next(it)
    ready = time.monotonic() - start
    start = time.monotonic()
    for _ in range(batches):
        next(it)
    rate = batches * 64 / (time.monotonic() - start)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"images_per_sec": rate, "first_batch_secs": ready, "peak_mb": peak_mb}


def measure_training(steps):
    """Runs in a child: images/s of the tutorial's train step at 64x64x3, batch 64, in a run
    built as dcgan-train builds it (build.build_run), without its outer loop."""
    import tensorflow as tf
    from dcgan_dist import build
    from dcgan_dist.config import Config
    from dcgan_dist.data import info as data_info, sources
    with tempfile.TemporaryDirectory(prefix="dcgan-input-") as workdir:
        config = Config.of(workdir=workdir, synthetic_data=True, image_size=SIZE,
                           global_batch_size=64, precision="float32", strategy="cpu",
                           train_steps=2 + steps)
        # The synthetic source at 3 channels, given as the run's dataset: --synthetic_data
        # alone takes the dataset's shape (MNIST's one channel).
        info = data_info.DatasetInfo(name="synthetic", image_key="image",
                                     source_shape=(SIZE, SIZE, 3), splits={}, label_key=None,
                                     num_classes=0, image_shape=(SIZE, SIZE, 3))
        source = sources.SOURCES["synthetic"](config.data, info)
        with build.build_run(config, dataset_fn=source.make_dataset) as run:
            run.train_fn(run.iterator, tf.constant(2), tf.constant(run.schedule.total_steps))
            start = time.monotonic()
            run.train_fn(run.iterator, tf.constant(steps), tf.constant(run.schedule.total_steps))
            rate = steps * 64 / (time.monotonic() - start)
    return {"images_per_sec": rate}


def measure_formats(count):
    """Runs in a child: bytes per image and images/s decoding each storage format."""
    import numpy as np
    import tensorflow as tf
    images = np.stack(list(_photo_like(np.random.default_rng(1), count)))
    encoded = {
        "png": ([tf.io.encode_png(i).numpy() for i in images], tf.io.decode_png),
        "jpeg (q95, lossy)": ([tf.io.encode_jpeg(i, quality=95).numpy() for i in images],
                              tf.io.decode_jpeg),
        "raw uint8": ([i.tobytes() for i in images],
                      lambda b: tf.reshape(tf.io.decode_raw(b, tf.uint8), (SIZE, SIZE, 3))),
    }
    out = {}
    for name, (blobs, decode) in encoded.items():
        ds = tf.data.Dataset.from_tensor_slices(blobs).repeat(3).map(
            decode, num_parallel_calls=tf.data.AUTOTUNE).batch(64).prefetch(4)
        for _ in ds.take(2):
            pass
        start = time.monotonic()
        seen = sum(int(b.shape[0]) for b in ds)
        out[name] = {"bytes": float(np.mean([len(b) for b in blobs])),
                     "images_per_sec": seen / (time.monotonic() - start)}
    return out


def child(args):
    """Runs one measurement in this process (so peak memory is its own) and prints JSON."""
    kind, *rest = args.child.split(":")
    out = (measure_training(args.train_steps) if kind == "train" else
           measure_formats(int(rest[0])) if kind == "formats" else
           measure_source(args.data_dir, rest[0], kind, args.batches))
    print(json.dumps(out))


def run_child(spec, args):
    cmd = [sys.executable, "-m", "benchmarks.input_pipeline", f"--child={spec}",
           f"--data_dir={args.data_dir}",
           f"--batches={args.batches}", f"--train_steps={args.train_steps}",
           f"--format_images={args.format_images}"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True, cwd=REPO)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", default=os.path.join(tempfile.gettempdir(), "dcgan_bench"),
                        help="where the generated datasets are written (once) and read")
    parser.add_argument("--sizes", default="20000,200000", help="dataset sizes to generate")
    parser.add_argument("--batches", type=int, default=200, help="timed batches of 64")
    parser.add_argument("--train_steps", type=int, default=10)
    parser.add_argument("--format_images", type=int, default=5000,
                        help="images per storage format compared")
    parser.add_argument("--quick", action="store_true",
                        help="40 batches, 3 train steps, 1,000 images per format")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.batches, args.train_steps, args.format_images = 40, 3, 1000
    if args.child:
        return child(args)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    for count in sizes:
        name = f"bench_photos_{count}"
        print(f"writing {count} images ...", file=sys.stderr, flush=True)
        write_dataset(args.data_dir, name, count)
        for source in ("in_memory", "streaming"):
            print(f"timing {source} on {count} ...", file=sys.stderr, flush=True)
            rows.append((count, source, run_child(f"{source}:{name}", args)))
    train = run_child("train", args)
    formats = run_child(f"formats:{args.format_images}", args)
    cores = os.cpu_count()
    print(f"Machine: {machine_line()}  ")
    print(f"Command: `{command_line()}`  ")
    print(f"Input pipeline alone at {SIZE}x{SIZE}x3, batch 64, {args.batches} timed batches "
          f"after the first, PNG in TFDS TFRecords, {cores} cores.\n")
    print("| images | source | images/s | per core | × training | first batch (s) | peak RSS (MB) |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for count, source, r in rows:
        print(f"| {count:,} | {source} | {r['images_per_sec']:,.0f} | "
              f"{r['images_per_sec'] / cores:,.0f} | {r['images_per_sec'] / train['images_per_sec']:.0f}× | "
              f"{r['first_batch_secs']:.1f} | {r['peak_mb']:,.0f} |")
    print(f"\nTraining step (tutorial model at {SIZE}x{SIZE}x3, batch 64, float32, synthetic "
          f"data): {train['images_per_sec']:,.1f} images/s.")
    print(f"\nStorage formats: the same {args.format_images:,} images, decoded in a tf.data map "
          f"on all cores, batch 64.\n")
    print("| format | bytes per image | images/s decoded | × training |")
    print("|---|---:|---:|---:|")
    for name, r in formats.items():
        print(f"| {name} | {r['bytes']:,.0f} | {r['images_per_sec']:,.0f} | "
              f"{r['images_per_sec'] / train['images_per_sec']:.0f}× |")


if __name__ == "__main__":
    main()
