"""dcgan-eval's report: a table per network, generated images beside real ones, with the
image counts behind each number; and a conditional run's class accuracy, class by class."""


def format_report(step, scores, reference, evaluator):
    """A table per network: generated vs real training images, with the image counts."""
    num = scores["num_generated"]
    real = evaluator.real_split.split("[")[0]
    lines = [f"step {step}: {num} generated images vs the {evaluator.reference_split} split; "
             f"'real {real}' = {reference['num_generated']} real images from "
             f"{evaluator.real_split} scored the same way", scores["protocol_line"]]
    for network in evaluator.networks:
        name = network.name
        lines += [f"{name} {network.sha256}: {network.description}",
                  f"  {'metric':<22}{'generated':>12}{'real ' + real:>12}"]
        metric_names = [metric for key, metric in network.metric_names.items()
                        if key != "intra_frechet"]
        if name == "classifier":
            metric_names.insert(0, "classifier_score")
        for metric in metric_names:
            lines.append(f"  {metric:<22}{scores[metric]:>12.4f}{reference[metric]:>12.4f}")
        if name == "classifier":
            lines.append(f"  class histogram       {scores['class_histogram']}")
        intra = network.metric_names.get("intra_frechet")
        if intra in scores:
            per_class = " ".join(f"{v:.2f}" for v in scores[intra + "_per_class"])
            lines.append(f"  {intra + ' (mean)':<22}{scores[intra]:>12.4f}   per class: "
                         f"{per_class} (class k vs the class-k images among "
                         f"{scores[intra + '_reference_images']} reference images)")
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
