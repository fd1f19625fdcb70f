"""`dcgan-eval` and `dcgan-generate`: score a run's latest checkpoint, or sample from it.

  dcgan-eval train-classifier --data_dir=DIR [--dataset=NAME] [--classifier_image_size=S]
                                                 train and cache a classifier for NAME
  dcgan-eval --workdir=W [--num_images=10000] [--inception_path=P]
                                                 score W's latest checkpoint (EMA if any) on
                                                 every available network
  dcgan-generate --workdir=W --num_images=N --output=FILE.npz [--grid]
"""

import dataclasses
import io
import json

from absl import flags, logging
import numpy as np
import tensorflow as tf

from dcgan_dist import UserError, cli
from dcgan_dist import classifier, data, eval_data, evaluation, rundir, samples
from dcgan_dist import state as state_lib
from dcgan_dist import flags as flag_defs  # noqa: F401 - defines --workdir and --data_dir

flags.DEFINE_integer("num_images", 10000, "Images to generate (and to score).")
flags.DEFINE_string("output", None, "dcgan-generate: .npz file for the uint8 images.")
flags.DEFINE_bool("grid", False, "dcgan-generate: also write an 8x8 PNG grid beside --output.")
flags.DEFINE_integer("classifier_image_size", 0, "dcgan-eval: the classifier's input size in "
                     "pixels; images of other sizes are resized to it. 0 = the run's image size "
                     "(train-classifier: the dataset's own). Scores compare only across runs "
                     "scored by the same classifier hash.")
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
        raise UserError("--data_dir is required: the TFDS folder holding the dataset (the "
                        "classifier and reference statistics are cached there)")
    return data_dir


def train_classifier_main():
    """`dcgan-eval train-classifier`: train and cache the classifier for --dataset."""
    data_dir, dataset = _data_dir(), FLAGS.dataset
    info = eval_data.split_info(data_dir, dataset)
    size = FLAGS.classifier_image_size
    image_shape = (size, size, info.image_shape[-1]) if size else info.image_shape
    classifier.check_trainable(dataset, info, image_shape)
    _, classifier_info = classifier.get_classifier(data_dir, dataset, image_shape)
    print(f"{dataset} classifier {classifier_info['sha256']} at "
          f"{'x'.join(map(str, image_shape))}: test accuracy {classifier_info['accuracy']:.4f}")


def eval_main(argv):
    if argv[1:] == ["train-classifier"]:
        return train_classifier_main()
    if argv[1:] or not FLAGS.workdir:
        raise UserError("usage: dcgan-eval --workdir=W [--num_images=N] [--inception_path=P] | "
                        "dcgan-eval train-classifier --data_dir=DIR [--dataset=NAME]")
    config, state = restore_run(FLAGS.workdir)
    image_shape = tuple(state.sampling_generator.output_shape[1:])
    evaluator = evaluation.Evaluator.for_run(
        data_dir=_data_dir(config), dataset=config.dataset, image_shape=image_shape,
        inception_path=FLAGS.inception_path or config.inception_path,
        classifier_image_size=FLAGS.classifier_image_size)
    images = evaluation.generate(state.sampling_generator, FLAGS.num_images, config.noise_dim)
    scores = evaluator.score(images)
    reference = evaluator.reference(FLAGS.num_images)
    step = int(state.step.numpy())
    print(format_report(step, scores, reference, evaluator))
    record = {"step": step, "num_images": FLAGS.num_images,
              "networks": {n.name: n.sha256 for n in evaluator.networks}, **scores}
    with tf.io.gfile.GFile(f"{FLAGS.workdir}/eval.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


def format_report(step, scores, reference, evaluator):
    """A table per network: generated vs real training images, with the image counts."""
    num = scores["num_generated"]
    real = evaluator.real_split.split("[")[0]
    lines = [f"step {step}: {num} generated images vs the {evaluator.reference_split} split; "
             f"'real {real}' = {reference['num_generated']} real images from "
             f"{evaluator.real_split} scored the same way"]
    for network in evaluator.networks:
        name = network.name
        lines += [f"{name} {network.sha256}: {network.description}",
                  f"  {'metric':<22}{'generated':>12}{'real ' + real:>12}"]
        metric_names = list(network.metric_names.values())
        if name == "classifier":
            metric_names.insert(0, "classifier_score")
        for metric in metric_names:
            lines.append(f"  {metric:<22}{scores[metric]:>12.4f}{reference[metric]:>12.4f}")
        if name == "classifier":
            lines.append(f"  class histogram       {scores['class_histogram']}")
        lines.append(f"  images: mean/covariance of {scores[name + '_reference_images']} "
                     f"{evaluator.reference_split} images; KID vs a sample of "
                     f"{scores[name + '_sample_images']}; precision/recall on "
                     f"{scores[name + '_pr_images']} real and {scores[name + '_pr_images']} "
                     f"generated; {num} generated in all")
    for name, reason in evaluator.skipped.items():
        lines.append(f"not scored on {name}: {reason}")
    lines += evaluator.warnings(num)
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
