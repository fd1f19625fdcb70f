"""`dcgan-eval`: score a run's latest checkpoint, or train the classifier that scores it.

  dcgan-eval train-classifier --data_dir=DIR [--dataset=NAME] [--classifier_image_size=S]
                                                 train and cache a classifier for NAME
  dcgan-eval --workdir=W [--num_images=10000] [--inception_path=P]
                                                 score W's latest checkpoint (EMA if any) on
                                                 every available network; a --conditional
                                                 run draws every class in turn and is also
                                                 scored on whether the classifier sees the
                                                 class asked for (overall and per class)

The report goes to stdout, and a line of it to W/eval.jsonl (a read-only W gets a warning
instead: the scores are printed all the same).
"""

from dcgan_dist import cli
from dcgan_dist.data import info as data_info
from dcgan_dist.errors import UserError
from dcgan_dist.evaluation import classifier, evaluator, sampling
from dcgan_dist.rundir import files, progress, reopen, runinfo

USAGE = ("usage: dcgan-eval --workdir=W [--num_images=N] [--inception_path=P] | "
         "dcgan-eval train-classifier --data_dir=DIR [--dataset=NAME]")


def _data_dir(flag_values, config=None):
    data_dir = flag_values.data_dir or (config.data_dir if config else None)
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
    config, state = reopen.restore_run(workdir)
    image_shape = tuple(state.sampling_generator.output_shape[1:])
    scorer = evaluator.Evaluator.for_run(
        data_dir=_data_dir(flag_values, config), dataset=config.dataset,
        image_shape=image_shape, image_key=config.image_key,
        inception_path=flag_values.inception_path or config.inception_path,
        classifier_image_size=flag_values.classifier_image_size, label_key=config.label_key)
    labels = sampling.eval_labels(num_images, state.num_classes)
    images = sampling.generate(state.sampling_generator, num_images, config.noise_dim,
                               labels=labels)
    scores = scorer.score(images, labels)
    step = int(state.step.numpy())
    report = format_report(step, scores, scorer.reference(num_images), scorer)
    if "class_accuracy" in scores:
        report += "\n" + format_class_accuracy(scores, runinfo.read(workdir).class_names)
    print(report)
    record = {"step": step, "num_images": num_images,
              "networks": {n.name: n.sha256 for n in scorer.networks}, **scores}
    files.BestEffort()(f"{workdir}/eval.jsonl", progress.append_eval, workdir, record)


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


def format_class_accuracy(scores, class_names):
    """A conditional run's class accuracy: overall, then one line per class."""
    lines = [f"class accuracy (the classifier's top class is the one asked for): "
             f"{scores['class_accuracy']:.4f} over {scores['num_generated']} images, "
             f"{len(class_names)} classes in turn"]
    for k, (name, accuracy) in enumerate(zip(class_names, scores["class_accuracy_per_class"])):
        lines.append(f"  class {k:<4}{name[:20]:<22}{accuracy:>8.4f}")
    return "\n".join(lines)


def main(argv, flag_values):
    if argv[1:] == ["train-classifier"]:
        return train_classifier(flag_values)
    if argv[1:] or not flag_values.workdir:
        raise UserError(USAGE)
    return evaluate(flag_values)


def run(argv=None):
    cli.run(main, "dcgan-eval", argv)


if __name__ == "__main__":
    run()
