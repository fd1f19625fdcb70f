"""`dcgan-eval`: score a run's latest checkpoint, or train the classifier that scores it.

  dcgan-eval train-classifier --data_dir=DIR [--dataset=NAME] [--classifier_image_size=S]
                                                 train and cache a classifier for NAME
  dcgan-eval --workdir=W [--num_images=10000] [--inception_path=P] [--reference_split=S]
                                                 score W's latest checkpoint (EMA if any) on
                                                 every available network; a --conditional
                                                 run draws every class in turn and is also
                                                 scored on whether the classifier sees the
                                                 class asked for (overall and per class)

The report goes to stdout, and a line of it to W/eval.jsonl (a read-only W gets a warning
instead: the scores are printed all the same).
"""

import dataclasses

from dcgan_dist import build
from dcgan_dist.data import info as data_info
from dcgan_dist.errors import UserError
from dcgan_dist.evaluation import classifier, evaluator, report, sampling
from dcgan_dist.programs import cli
from dcgan_dist.rundir import files, progress

FLAGS = ("workdir", "data_dir", "dataset", "num_images", "inception_path", "reference_split",
         "classifier_image_size", "reject", "verbose")
USAGE = ("usage: dcgan-eval --workdir=W [--num_images=N] [--inception_path=P] | "
         "dcgan-eval train-classifier --data_dir=DIR [--dataset=NAME]")


def _data_dir(flag_values, config=None):
    data_dir = flag_values.data_dir or (config.data.data_dir if config else None)
    if not data_dir:
        raise UserError("--data_dir is required: the TFDS folder holding the dataset (the "
                        "classifier and reference statistics are cached there)")
    return data_dir


def train_classifier(flag_values):
    """`dcgan-eval train-classifier`: train and cache the classifier for --dataset."""
    data_dir, dataset = _data_dir(flag_values), flag_values.dataset
    info = data_info.read_prepared(dataset, data_dir)
    size = flag_values.classifier_image_size
    image_shape = (size, size, info.source_shape[-1]) if size else info.source_shape
    classifier.check_trainable(dataset, info, image_shape)
    _, classifier_info = classifier.get_classifier(data_dir, dataset, image_shape)
    print(f"{dataset} classifier {classifier_info['sha256']} at "
          f"{'x'.join(map(str, image_shape))}: test accuracy {classifier_info['accuracy']:.4f}")


def evaluate(flag_values):
    """`dcgan-eval --workdir=W`: the report on stdout and a line of eval.jsonl."""
    workdir, num_images = flag_values.workdir, flag_values.num_images
    record, state = build.reopen(workdir)
    config = record.config
    image_shape = tuple(state.sampling_generator.output_shape[1:])
    evaluation = dataclasses.replace(
        config.evaluation, data_dir=_data_dir(flag_values, config),
        inception_path=flag_values.inception_path or config.evaluation.inception_path,
        reference_split=flag_values.reference_split or config.evaluation.reference_split)
    scorer = evaluator.Evaluator.for_run(evaluation, image_shape,
                                         flag_values.classifier_image_size)
    labels = sampling.eval_labels(num_images, state.num_classes)
    images = sampling.generate(state.sampling_generator, num_images, config.model.noise_dim,
                               labels=labels, discriminator=state.discriminator,
                               reject=flag_values.reject)
    scores = scorer.score(images, labels)
    if flag_values.reject:  # the protocol's generated images are the kept ones
        scores["reject"] = flag_values.reject
        scores["protocol_line"] += (
            f"; kept of {sampling.drawn_for(num_images, flag_values.reject)} drawn by the "
            f"discriminator (--reject={flag_values.reject:g})")
    step = int(state.step.numpy())
    text = report.format_report(step, scores, scorer.reference(num_images), scorer)
    if "class_accuracy" in scores:
        text += "\n" + report.format_class_accuracy(scores, record.class_names)
    print(text)
    record = {"step": step, "num_images": num_images,
              "networks": {n.name: n.sha256 for n in scorer.networks}, **scores}
    files.BestEffort()(f"{workdir}/eval.jsonl", progress.append_eval, workdir, record)


def main(argv, flag_values):
    if argv[1:] == ["train-classifier"]:
        return train_classifier(flag_values)
    if argv[1:] or not flag_values.workdir:
        raise UserError(USAGE)
    return evaluate(flag_values)


def run(argv=None):
    cli.run(main, "dcgan-eval", FLAGS, argv)


if __name__ == "__main__":
    run()
