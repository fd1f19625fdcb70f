"""Class-conditional training and generation (--conditional): labels from TFDS and from a
folder's sub-folders, the conditional layers, the step (exact resume, mixed precision with
XLA; the keystone is a case of test_step's), and generation, export and scores by class."""

import json
import os
import subprocess
import sys
import textwrap

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from dcgan_dist import build, models
from dcgan_dist.config import Config
from dcgan_dist.data import info as data_info, prepare, readers
from dcgan_dist.data.images import to_uint8
from dcgan_dist.errors import UserError
from dcgan_dist.evaluation import metrics, sampling
from dcgan_dist.models import conditioning
from dcgan_dist.programs import data as data_cli, eval as eval_cli, export, generate, train
from dcgan_dist.rundir import progress, runinfo
from dcgan_dist.training import step as step_lib
from conftest import SMALL, batches, two_replicas, write_class_folder
from helpers import WITHOUT_THE_PACKAGE, last_line, run_in_process


# --- labels from the data -------------------------------------------------------------------

def test_the_label_and_its_class_names_come_from_the_dataset_info(shapes_data_dir,
                                                                   tiny_data_dir):
    shapes = data_info.read("shapes3", shapes_data_dir)
    assert (shapes.label_key, shapes.num_classes) == ("label", 3)
    assert shapes.class_names == ("square", "bar", "column")
    assert data_info.read("mnist", tiny_data_dir).class_names == tuple("0123456789")
    assert data_info.read("blobs3", shapes_data_dir).label_key is None
    with pytest.raises(UserError) as raised:
        data_info.read("shapes3", shapes_data_dir, label_key="digit")
    assert str(raised.value) == ("--label_key=digit is not a class label (ClassLabel feature) "
                                 "of shapes3; its class labels: label")


def test_conditional_without_a_label_is_one_clear_error(make_config, shapes_data_dir):
    config = make_config(dataset="blobs3", data_dir=shapes_data_dir, conditional=True)
    with pytest.raises(UserError) as raised:
        data_info.load_info(config.data)
    assert str(raised.value) == (
        "--conditional needs a class label, but blobs3 has none (features: image); sort its "
        "images into one sub-folder per class and prepare it again with: dcgan-data prepare "
        f"folder --source=DIR --name=blobs3 --data_dir={shapes_data_dir} --labels=subfolders "
        "--overwrite")
    with pytest.raises(UserError, match=r"^--label_key=label names the label of --conditional "
                                        "training; add --conditional, or drop --label_key$"):
        make_config(label_key="label")


@pytest.mark.parametrize("source", ["in_memory", "streaming"])
def test_every_image_comes_with_its_own_label_and_resumes_in_place(make_config, tiny_data_dir,
                                                                    source):
    truth = {ex["image"].tobytes(): int(ex["label"]) for ex in tfds.as_numpy(tfds.load(
        "mnist", split="train", data_dir=tiny_data_dir, download=False))}
    config = make_config(conditional=True)
    read = batches(config, 10, source=source)  # 8 steps an epoch: into the second
    for images, labels in read:
        assert labels.dtype == np.int32 and images.shape == (8, 28, 28, 1)
        assert [truth[image.tobytes()] for image in to_uint8(images)] == labels.tolist()
    resumed = batches(config, 4, start_step=6, source=source)
    for (images_a, labels_a), (images_b, labels_b) in zip(read[6:], resumed):
        np.testing.assert_array_equal(images_a, images_b)
        np.testing.assert_array_equal(labels_a, labels_b)
    halves = batches(config, 1, strategy=two_replicas(), source=source)[0]
    np.testing.assert_array_equal(np.concatenate([h[1] for h in halves]), read[0][1])


def test_synthetic_data_draws_labels_in_range(make_config):
    images, labels = batches(make_config(conditional=True, synthetic_data=True,
                                         global_batch_size=64), 1)[0]
    assert images.shape == (64, 28, 28, 1) and labels.dtype == np.int32
    assert set(labels.tolist()) == set(range(10))  # 64 uniform draws cover 10 classes


def test_generated_classes_are_uniform_keyed_by_step_and_independent_of_the_split():
    whole = step_lib.replica_labels(0, 5, 8, 3, 0, 8)
    halves = [step_lib.replica_labels(0, 5, 8, 3, r, 4) for r in range(2)]
    np.testing.assert_array_equal(whole, tf.concat(halves, 0))
    many = step_lib.replica_labels(0, 5, 3000, 3, 0, 3000).numpy()
    assert np.bincount(many).tolist() == pytest.approx([1000] * 3, abs=100)
    assert not np.array_equal(many, step_lib.replica_labels(0, 6, 3000, 3, 0, 3000))


# --- the conditional layers -----------------------------------------------------------------

def test_class_embedding_and_conditional_batch_norm_arithmetic():
    embedding = conditioning.ClassEmbedding(3, 5)
    out = embedding(tf.constant([2, 0, 2]))
    assert out.shape == (3, 5)
    np.testing.assert_allclose(out, embedding.embeddings.numpy()[[2, 0, 2]], rtol=1e-6)
    rng = np.random.default_rng(0)
    for shape in [(6, 4), (6, 2, 3, 4)]:  # after a Dense, after a conv
        layer = conditioning.ConditionalBatchNorm(3)
        x, labels = rng.normal(2, 3, shape).astype(np.float32), np.array([0, 1, 2, 2, 1, 0])
        layer(x, labels)
        gamma, beta = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
        axes = tuple(range(len(shape) - 1))
        normal = (x - x.mean(axes)) / np.sqrt(x.var(axes) + 1e-3)  # Keras' epsilon
        expand = (slice(None),) + (None,) * (len(shape) - 2)
        expected = normal * gamma[labels][expand] + beta[labels][expand]
        np.testing.assert_allclose(layer(x, labels, training=True), expected, atol=1e-4)


@pytest.mark.parametrize("architecture, image_shape", [("tutorial", (28, 28, 1)),
                                                       ("dcgan", (32, 32, 3))])
def test_the_generated_image_depends_on_the_label(architecture, image_shape):
    config = Config.of(workdir="/tmp/unused", architecture=architecture, **SMALL)
    generator, discriminator = models.build(config.model, image_shape, num_classes=3)
    z = tf.random.stateless_normal([4, SMALL["noise_dim"]], [1, 2])
    images = {k: generator([z, tf.fill([4], k)], training=False).numpy() for k in range(3)}
    assert images[0].shape == (4, *image_shape) and np.abs(images[0]).max() <= 1
    assert all(np.abs(images[a] - images[b]).max() > 1e-4 for a, b in [(0, 1), (1, 2), (0, 2)])
    np.testing.assert_array_equal(images[1], generator([z, tf.fill([4], 1)]).numpy())
    assert discriminator(images[0], tf.constant([0, 1, 2, 0])).shape == (4, 1)


def test_conditioning_adds_exactly_the_class_weights():
    # tutorial, g_filters 16, noise 16, 3 classes: the embedding (3 x 16), the first Dense's
    # wider input (16 more rows of 7*7*16), and per BN 3 scales and offsets per channel in
    # place of one (784, 8 and 4 channels); the discriminator: 3 projection vectors as long
    # as its 7*7*16 features.
    config = Config.of(workdir="/tmp/unused", g_filters=16, d_filters=8, noise_dim=16)
    g_plain, d_plain = models.build(config.model, (28, 28, 1))
    g_cond, d_cond = models.build(config.model, (28, 28, 1), num_classes=3)
    assert g_cond.count_params() - g_plain.count_params() == (
        3 * 16 + 16 * 784 + 2 * (3 - 1) * (784 + 8 + 4))
    assert d_cond.count_params() - d_plain.count_params() == 3 * 784


def test_the_projection_adds_the_class_vector_dotted_with_the_features():
    discriminator = models.build(Config.of(workdir="/tmp/unused", d_dropout=0.0,
                                           d_dense_units=8, **SMALL).model, (28, 28, 1),
                                 num_classes=3)[1]
    projection = np.random.default_rng(1).normal(size=(3, 8)).astype(np.float32)
    discriminator.projection.embeddings.assign(projection)
    x = tf.random.stateless_uniform([4, 28, 28, 1], [3, 4], -1, 1)
    labels = np.array([0, 1, 2, 1])
    features = discriminator.base.features(x).numpy()  # the hidden layer's 8 units
    expected = discriminator.base(x).numpy()[:, 0] + (projection[labels] * features).sum(1)
    np.testing.assert_allclose(discriminator(x, labels).numpy()[:, 0], expected, rtol=1e-5,
                               atol=1e-6)


# --- the step ---------------------------------------------------------------------------------

# The keystone with --conditional (one and two replicas agree: labels split with their images,
# generated classes keyed by the step, conditional BN synchronised, augmentation leaving the
# labels alone) is a case of test_step's keystone: conditional-r1-ada-dcgan.


@pytest.mark.slow
def test_augmentation_moves_pixels_and_each_image_keeps_its_label(make_config):
    """--augment with --conditional: D reads each augmented image with its own label (real:
    the data's, generated: the class it was drawn as). The step's d_loss is the one computed
    by hand from the same draws, and the labels matter: shuffled, the loss differs."""
    from dcgan_dist.runtime import streams
    from dcgan_dist.training import augment, losses, state as state_lib
    config = make_config(conditional=True, augment="diffaugment", d_dropout=0.0,
                         d_r1_gamma=0.0, global_batch_size=4)
    strategy = tf.distribute.get_strategy()
    state = state_lib.build_state(config.model, config.objective, config.augment, strategy,
                                  (28, 28, 1), "float32", num_classes=3)
    projection = state.discriminator.projection.embeddings
    projection.assign(np.random.default_rng(2).normal(size=projection.shape))
    images = tf.random.stateless_uniform([4, 28, 28, 1], [1, 2], -1, 1)
    labels = tf.constant([0, 1, 2, 1])
    transforms = augment.parse_policy(config.augment.augment_policy)

    def by_hand(real_labels):  # step 0, one replica: the whole global batch
        seed = config.objective.seed
        u_real, u_fake = (augment.draw(seed, stream, 0, 4, 0, 4)
                          for stream in (streams.AUGMENT_REAL, streams.AUGMENT_FAKE))
        z = step_lib.replica_noise(seed, 0, 4, config.model.noise_dim, 0, 4)
        fake_labels = step_lib.replica_labels(seed, 0, 4, 3, 0, 4)
        fakes = state.generator([z, fake_labels], training=True)
        d_real = state.discriminator(augment.apply(images, u_real, transforms, 1.0),
                                     real_labels, training=True)
        d_fake = state.discriminator(augment.apply(fakes, u_fake, transforms, 1.0),
                                     fake_labels, training=True)
        return float(tf.reduce_mean(losses.d_nonsaturating(d_real, d_fake)))

    expected, shuffled = by_hand(labels), by_hand(tf.constant([1, 2, 0, 2]))
    out = step_lib.make_train_fn(strategy, state, config.objective, config.augment, 4)(
        iter(tf.data.Dataset.from_tensors((images, labels)).repeat()), tf.constant(1),
        tf.constant(1))
    np.testing.assert_allclose(float(out["d_loss"]), expected, rtol=1e-5)
    assert abs(shuffled - expected) > 1e-3


# Exact resume and mixed precision with --conditional: test_objectives.py runs them with every
# objective option and --conditional on.


def test_periodic_generation_draws_image_i_as_class_i_mod_k_on_every_replica():
    strategy = two_replicas()
    with strategy.scope():
        generator = models.build(Config.of(workdir="/tmp/unused", **SMALL).model,
                                 (28, 28, 1), num_classes=3)[0]
    generate_fn = sampling.make_generate_fn(strategy, generator, SMALL["noise_dim"],
                                            per_replica_images=2, seed=5, num_classes=3)
    images = generate_fn(7)  # chunks of 2 replicas x 2 images, cut to 7
    labels = sampling.eval_labels(7, 3)
    assert labels.tolist() == [0, 1, 2, 0, 1, 2, 0]
    from dcgan_dist.runtime import streams
    for index in range(4):  # chunk index // 2, replica index % 2: images 2*index, 2*index+1
        key = streams.keyed(5, streams.PERIODIC_EVAL_NOISE, index // 2, index % 2)
        z = tf.random.stateless_normal([2, SMALL["noise_dim"]], seed=key)
        classes = tf.constant([(2 * index) % 3, (2 * index + 1) % 3])
        expected = generator([z, classes], training=False).numpy()[:max(0, 7 - 2 * index)]
        np.testing.assert_allclose(images[2 * index:2 * index + 2], expected, atol=1e-6)


# --- a run directory: grids, run.json, eval, generate, export ----------------------------------

@pytest.mark.slow
def test_a_conditional_run_describes_its_classes_and_draws_a_row_per_class(conditional_run):
    record = json.loads((conditional_run / "run.json").read_text())
    assert record["classes"] == list("0123456789") and record["config"]["conditional"]
    assert build.read_run(str(conditional_run)).num_classes == 10
    grid = iio.imread(conditional_run / "samples" / "step_000004.png")
    assert grid.shape == (2 * (10 * 29 + 1), 2 * (8 * 29 + 1))  # 10 rows of 8, scaled 2x
    # Row k is class k of the same 8 noise vectors: rows differ.
    assert np.abs(grid[2:58].astype(int) - grid[60:116]).max() > 0
    events = [e for f in sorted((conditional_run / "tensorboard").iterdir())
              for e in tf.compat.v1.train.summary_iterator(str(f))]
    descriptions = {v.metadata.summary_description for e in events for v in e.summary.value
                    if v.tag == "samples"}
    assert descriptions == {"Rows, top to bottom: the classes 0, 1, 2, 3, 4, 5, 6, 7, 8, 9"}
    evaluated = [r for r in progress.read_stats(str(conditional_run)) if "eval/class_accuracy"
                 in r]
    assert [r["step"] for r in evaluated] == [4]
    assert len(evaluated[0]["eval/class_accuracy_per_class"]) == 10


def test_run_json_without_the_new_fields_still_reads_and_a_conditional_one_needs_classes(
        make_config, tmp_path):
    text = runinfo.encode(make_config().values, (28, 28, 1))
    old = json.loads(text)
    for key in ("conditional", "label_key"):
        del old["config"][key]  # as 0.1.0 wrote it
    assert Config.from_values(runinfo.decode(json.dumps(old)).values).data.conditional is False
    assert "classes" not in old
    conditional = json.loads(runinfo.encode(make_config(conditional=True).values, (28, 28, 1),
                                            "abc"))
    assert runinfo.decode(json.dumps(conditional)).class_names == ("a", "b", "c")
    del conditional["classes"]
    (tmp_path / "run.json").write_text(json.dumps(conditional))
    with pytest.raises(UserError, match='a --conditional run without its "classes"'):
        build.read_run(str(tmp_path))


def test_class_accuracy_golden_values():
    probs = np.eye(3)[[0, 1, 2, 2, 0, 1]] * 0.8 + 0.1
    overall, per_class = metrics.class_accuracy(probs, [0, 1, 1, 2, 1, 0])
    assert overall == pytest.approx(3 / 6)
    assert per_class == pytest.approx([1 / 2, 1 / 3, 1.0])


@pytest.mark.slow
def test_dcgan_eval_reports_class_accuracy_overall_and_per_class(conditional_run, tmp_path,
                                                                 capsys):
    import shutil
    workdir = tmp_path / "run"
    shutil.copytree(conditional_run, workdir)
    code, out, err = run_in_process(eval_cli.run, "dcgan-eval", [
        f"--workdir={workdir}", "--num_images=30"], capsys)
    assert code == 0, err[-2000:]
    record = json.loads((workdir / "eval.jsonl").read_text().splitlines()[-1])
    assert len(record["class_accuracy_per_class"]) == 10
    lines = out.splitlines()
    start = lines.index(next(l for l in lines if l.startswith("class accuracy")))
    assert lines[start] == (f"class accuracy (the classifier's top class is the one asked "
                            f"for): {record['class_accuracy']:.4f} over 30 images, 10 classes "
                            "in turn")
    assert [line.split()[:3] for line in lines[start + 1:start + 11]] == [
        ["class", str(k), str(k)] for k in range(10)]
    assert [float(line.split()[3]) for line in lines[start + 1:start + 11]] == pytest.approx(
        record["class_accuracy_per_class"], abs=1e-4)
    # Intra-class Frechet distance: each class against the reference images of that class
    # (classes with fewer than two images on a side have none).
    per_class = record["classifier_intra_frechet_per_class"]
    assert len(per_class) == 10 and np.isfinite(per_class).sum() >= 2
    assert record["classifier_intra_frechet"] == pytest.approx(np.nanmean(per_class))
    assert any(line.startswith("  classifier_intra_frechet (mean)") for line in lines)


def test_intra_class_frechet_hand_values():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(400, 3))
    labels = np.repeat([0, 1], 200)
    fake = real.copy()
    fake[labels == 1, 0] += 3.0  # class 1 moved by 3 along one axis: distance 9
    per_class, mean = metrics.intra_class_frechet(fake, labels, real, labels)
    assert per_class[0] == pytest.approx(0, abs=1e-9)
    assert per_class[1] == pytest.approx(9.0)
    assert mean == pytest.approx(4.5)
    # A class the reference lacks is left out, not scored against nothing.
    per_class, _ = metrics.intra_class_frechet(fake, np.repeat([0, 2], 200), real, labels)
    assert set(per_class) == {0}


@pytest.mark.slow
def test_dcgan_generate_by_label_by_list_and_per_class(conditional_run, tmp_path):
    run = str(conditional_run)
    seven = tmp_path / "seven.npz"
    assert generate.generate(run, 5, str(seven), labels="7") == [
        f"{seven}: images (5, 28, 28, 1) uint8, labels (5,) int32"]
    assert np.load(seven)["labels"].tolist() == [7] * 5
    generate.generate(run, 5, str(tmp_path / "cycle.npz"), labels="0, 2")
    cycle = np.load(tmp_path / "cycle.npz")
    assert cycle["labels"].tolist() == [0, 2, 0, 2, 0]
    # The images are the generator's for those labels, on dcgan-generate's usual noise.
    _, state = build.restore_run(run)
    expected = to_uint8(sampling.generate(state.sampling_generator, 5, SMALL["noise_dim"],
                                          labels=cycle["labels"]))
    np.testing.assert_array_equal(cycle["images"], expected)
    assert not np.array_equal(cycle["images"][0], np.load(seven)["images"][0])  # same z
    lines = generate.generate(run, 0, str(tmp_path / "each.npz"), grid=True, per_class=2)
    assert lines[1] == f"{tmp_path / 'each.png'}: one row per class"
    assert np.load(tmp_path / "each.npz")["labels"].tolist() == sorted(list(range(10)) * 2)
    assert iio.imread(tmp_path / "each.png").shape == (2 * (10 * 29 + 1), 2 * (8 * 29 + 1))


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["--labels=12"], "--labels=12 is not a class of this run: it has 10 classes, 0-9 (0, 1, "
                      "2, 3, 4, 5, 6, 7, 8, 9)"),
    (["--labels=3,seven"], "--labels=seven is not a class of this run: it has 10 classes, 0-9 "
                           "(0, 1, 2, 3, 4, 5, 6, 7, 8, 9)"),
    (["--per_class=-1"], "--per_class=-1 must not be negative"),
])
def test_dcgan_generate_refuses_a_label_out_of_range(conditional_run, tmp_path, capsys, args,
                                                     message):
    out = tmp_path / "x.npz"
    code, _, err = run_in_process(generate.run, "dcgan-generate", [
        f"--workdir={conditional_run}", f"--output={out}", *args], capsys)
    assert (code, last_line(err)) == (2, f"dcgan-generate: error: {message}")
    assert not out.exists()


@pytest.mark.slow
def test_an_unconditional_run_takes_no_labels(trained_run, tmp_path, capsys):
    code, _, err = run_in_process(generate.run, "dcgan-generate", [
        f"--workdir={trained_run}", f"--output={tmp_path / 'x.npz'}", "--labels=1"], capsys)
    assert (code, last_line(err)) == (2, "dcgan-generate: error: --labels needs a "
                                         "--conditional run; this run was trained without "
                                         "classes")


LOADER = WITHOUT_THE_PACKAGE + textwrap.dedent("""
    import numpy as np
    import tensorflow as tf

    model = tf.saved_model.load(sys.argv[1])
    given = np.load(sys.argv[2])
    sample = model.signatures["sample"](labels=tf.constant(given["labels"]),
                                        seed=tf.constant(0, tf.int64))["images"].numpy()
    generated = model.signatures["generate"](z=tf.constant(given["z"]), labels=tf.constant(
        given["labels"][:3]))["images"].numpy()
    try:
        model.signatures["sample"](labels=tf.constant([10]), seed=tf.constant(0, tf.int64))
        refused = ""
    except tf.errors.InvalidArgumentError as e:
        refused = e.message
    np.savez(sys.argv[3], sample=sample, generate=generated, refused=refused)
""")


@pytest.mark.slow
def test_the_export_takes_labels_and_loads_without_the_package(conditional_run, tmp_path,
                                                               capsys):
    code, out, err = run_in_process(export.run, "dcgan-export", [
        f"--workdir={conditional_run}", f"--output={tmp_path / 'model'}"], capsys)
    assert code == 0, err[-2000:]
    assert "signatures generate(z, labels) and sample(labels, seed)" in out
    generate.generate(str(conditional_run), 0, str(tmp_path / "gen.npz"), labels="9,3",
                      per_class=2)
    expected = np.load(tmp_path / "gen.npz")
    z = sampling.chunk_noise(0, 0, 3, SMALL["noise_dim"]).numpy()
    np.savez(tmp_path / "given.npz", labels=expected["labels"], z=z)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    loaded = subprocess.run([sys.executable, "-c", LOADER, str(tmp_path / "model"),
                             str(tmp_path / "given.npz"), str(tmp_path / "out.npz")],
                            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    got = np.load(tmp_path / "out.npz")
    np.testing.assert_array_equal(got["sample"], expected["images"])  # labels 9, 9, 3, 3
    np.testing.assert_array_equal(got["generate"], expected["images"][:3])
    assert "labels must be in [0, 10)" in str(got["refused"])


# --- a folder sorted into classes ---------------------------------------------------------------

@pytest.mark.slow
def test_a_three_class_folder_prepares_with_its_labels_and_trains_conditionally(
        tmp_path, capsys):
    source = write_class_folder(str(tmp_path / "shapes"))
    data_dir = tmp_path / "tfds"
    code, out, err = run_in_process(data_cli.run, "dcgan-data", [
        "prepare", "folder", f"--source={source}", "--name=my_shapes", f"--data_dir={data_dir}",
        "--labels=subfolders", "--holdout=0"], capsys)
    assert code == 0, err[-2000:]
    assert "3 classes: bar, column, square" in out.splitlines()
    info = data_info.read("my_shapes", str(data_dir))
    assert info.class_names == ("bar", "column", "square") and info.source_shape == (16, 16, 1)
    paths = readers.FolderReader(source, None).names()  # the dataset keeps their sorted order
    stored = list(tfds.as_numpy(tfds.load("my_shapes", split="train", data_dir=str(data_dir))))
    assert [int(ex["label"]) for ex in stored] == [
        info.class_names.index(p.split("/")[0]) for p in paths]

    workdir = tmp_path / "run"
    code, _, err = run_in_process(train.run, "dcgan-train", [
        f"--workdir={workdir}", "--dataset=my_shapes", f"--data_dir={data_dir}", "--conditional",
        "--global_batch_size=6", "--train_steps=2", "--sample_every_steps=2",
        "--g_filters=8", "--d_filters=4", "--noise_dim=8", "--precision=float32"], capsys)
    assert code == 0, err[-2000:]
    assert json.loads((workdir / "run.json").read_text())["classes"] == [
        "bar", "column", "square"]
    grid = iio.imread(workdir / "samples" / "step_000002.png")
    assert grid.shape == (3 * (3 * 17 + 1), 3 * (8 * 17 + 1))  # 3 rows of 8, scaled 3x
    generate.generate(str(workdir), 4, str(tmp_path / "sq.npz"), labels="square")
    assert np.load(tmp_path / "sq.npz")["labels"].tolist() == [2] * 4


def test_folder_labels_errors_name_the_fix(tmp_path, capsys):
    source = write_class_folder(str(tmp_path / "shapes"), per_class=2)
    iio.imwrite(os.path.join(source, "stray.png"), np.zeros((16, 16), np.uint8))
    with pytest.raises(UserError) as raised:
        prepare.prepare(source, "strays", str(tmp_path / "tfds"), labels="subfolders")
    assert str(raised.value) == (
        "--labels=subfolders takes each image's class from its sub-folder, but 1 images are "
        f"directly in --source={source} (stray.png); move them into a sub-folder named by "
        "their class")
    code, _, err = run_in_process(data_cli.run, "dcgan-data", [
        "prepare", "folder", f"--source={source}", "--name=x", f"--data_dir={tmp_path}",
        "--labels=folders"], capsys)
    assert (code, last_line(err)) == (2, "dcgan-data: error: --labels=folders does not apply "
                                         "to shapes (a folder); use --labels=subfolders|none, "
                                         "or leave it out")
    assert not os.path.exists(tmp_path / "tfds")
