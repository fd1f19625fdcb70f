"""`dcgan-eval` and `dcgan-generate`: score a run's latest checkpoint, or sample from it.

  dcgan-eval train-classifier --data_dir=DIR     train and cache the evaluation classifier
  dcgan-eval --workdir=W [--num_images=10000]    score W's latest checkpoint (EMA if any)
  dcgan-generate --workdir=W --num_images=N --output=FILE.npz [--grid]
"""

import dataclasses
import io
import json

from absl import flags, logging
import numpy as np
import tensorflow as tf

from dcgan_dist import UserError, cli
from dcgan_dist import data, evaluation, rundir, samples, state as state_lib
from dcgan_dist import flags as flag_defs  # noqa: F401 - defines --workdir and --data_dir

flags.DEFINE_integer("num_images", 10000, "Images to generate (and to score).")
flags.DEFINE_string("output", None, "dcgan-generate: .npz file for the uint8 images.")
flags.DEFINE_bool("grid", False, "dcgan-generate: also write an 8x8 PNG grid beside --output.")
FLAGS = flags.FLAGS


def restore_run(workdir):
    """(config, state) of a run directory's latest checkpoint, on this machine's CPU/GPU."""
    run = rundir.read(workdir, strategy="auto", tpu=None)
    config, image_shape = run.config, run.image_shape
    if image_shape is None:  # a run from before run.json: its dataset's own shape
        image_shape = data.load_info(dataclasses.replace(config, synthetic_data=True)).image_shape
    state = state_lib.build_state(config, tf.distribute.get_strategy(), image_shape, "float32")
    manager = state_lib.make_checkpoint_manager(state, f"{workdir}/ckpt", max_to_keep=None)
    _, latest = state_lib.restore_latest(state, manager)  # falls back past a damaged one
    if latest is None:
        raise UserError(f"no checkpoint in {workdir}/ckpt; train first with dcgan-train")
    logging.info("Restored %s (step %d, %s generator)", latest, int(state.step.numpy()),
                 "EMA" if state.g_ema is not None else "plain")
    return config, state


def _data_dir(config=None):
    data_dir = FLAGS.data_dir or (config.data_dir if config else None)
    if not data_dir:
        raise UserError("--data_dir is required: the TFDS folder holding mnist")
    return data_dir


def eval_main(argv):
    if argv[1:] == ["train-classifier"]:
        _, info = evaluation.get_classifier(_data_dir())
        print(f"classifier {info['sha256']}: test accuracy {info['accuracy']:.4f}")
        return
    if argv[1:] or not FLAGS.workdir:
        raise UserError("usage: dcgan-eval --workdir=W [--num_images=N] | dcgan-eval "
                        "train-classifier --data_dir=DIR")
    config, state = restore_run(FLAGS.workdir)
    data_dir = _data_dir(config)
    evaluator = evaluation.Evaluator(data_dir)
    images = evaluation.generate(state.sampling_generator, FLAGS.num_images, config.noise_dim)
    scores = evaluator.score(images)
    reference = evaluator.reference(data_dir, FLAGS.num_images)
    step = int(state.step.numpy())
    print(format_report(step, scores, reference, evaluator.info, FLAGS.num_images))
    record = {"step": step, "num_images": FLAGS.num_images,
              "classifier": evaluator.info.get("sha256"), **scores}
    with tf.io.gfile.GFile(f"{FLAGS.workdir}/eval.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


def format_report(step, scores, reference, info, num_images):
    lines = [f"step {step}, {num_images} generated images vs the test split; classifier "
             f"{info.get('sha256')} (test accuracy {info.get('accuracy', float('nan')):.4f})",
             f"{'metric':<20}{'generated':>12}{'real train':>12}"]
    for name in ("classifier_score", "frechet_distance", "kernel_distance"):
        lines.append(f"{name:<20}{scores[name]:>12.4f}{reference[name]:>12.4f}")
    lines.append(f"{'kernel_distance_se':<20}{scores['kernel_distance_se']:>12.4f}"
                 f"{reference['kernel_distance_se']:>12.4f}")
    lines.append(f"class histogram      {scores['class_histogram']}")
    return "\n".join(lines)


def generate_main(argv):
    if argv[1:] or not FLAGS.workdir or not FLAGS.output:
        raise UserError("usage: dcgan-generate --workdir=W --num_images=N --output=FILE.npz [--grid]")
    config, state = restore_run(FLAGS.workdir)
    images = evaluation.generate(state.sampling_generator, FLAGS.num_images, config.noise_dim)
    images_uint8 = samples.to_uint8(images)
    buffer = io.BytesIO()  # zipfile seeks back while writing; GFile cannot
    np.savez_compressed(buffer, images=images_uint8)
    samples.write_atomic(FLAGS.output, buffer.getvalue())
    print(f"{FLAGS.output}: images {images_uint8.shape} {images_uint8.dtype}")
    if FLAGS.grid:
        grid_uint8 = samples.make_grid(images[:64], columns=8, scale=2)
        path = FLAGS.output.rsplit(".", 1)[0] + ".png"
        samples.write_atomic(path, samples.encode_png(grid_uint8))
        print(f"{path}: {min(64, len(images))} images in a grid")


def run_eval():
    cli.run(eval_main, "dcgan-eval")


def run_generate():
    cli.run(generate_main, "dcgan-generate")


if __name__ == "__main__":
    run_eval()
