"""--config=NAME and --flagfile=PATH: packaged configs from any folder, includes by name or
path, and the messages for a config or include that is not there. In-process."""

import os

import pytest

from dcgan_dist import config as config_lib, flagfiles
from dcgan_dist.errors import UserError
from dcgan_dist.programs import cli, generate, train
from helpers import last_line, parse_train as parse, run_in_process

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGED = os.path.join(REPO, "dcgan_dist", "configs")


def test_the_repository_configs_folder_is_the_packaged_one():
    assert os.path.realpath(os.path.join(REPO, "configs")) == os.path.realpath(PACKAGED)
    assert set(flagfiles.CONFIGS) == {name[:-4] for name in os.listdir(PACKAGED)}


def test_a_config_by_name_works_from_any_folder_and_names_its_includes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no configs/ here: --config needs none
    args = ["--config=folder64", "--dataset=faces", f"--workdir={tmp_path}/w"]
    flag_values, _ = cli.parse("dcgan-train", train.FLAGS, ["dcgan-train", *args])
    assert flag_values["config"].value == ["folder64", "dcgan"]  # folder64 includes dcgan
    config = config_lib.Config.from_flags(flag_values)
    assert (config.model.architecture, config.data.image_size, config.data.random_flip,
            config.schedule.train_steps, config.data.global_batch_size) == (
        "dcgan", 64, True, 20000, 128)
    # The old spelling, from the repository root, is the same config.
    monkeypatch.chdir(REPO)
    assert parse("--flagfile=configs/folder64.cfg", "--dataset=faces",
                 f"--workdir={tmp_path}/w") == config


def test_later_flags_win_over_a_config(tmp_path):
    config = parse("--config=tpu", "--config=folder64", "--dataset=faces", "--tpu=local",
                   "--workdir=gs://b/r")
    assert config.runtime.global_batch_size == 128  # dcgan's, through folder64: the TPU check warns
    config = parse("--config=tpu", "--config=folder64", "--global_batch_size=1024",
                   "--dataset=faces", "--tpu=local", "--workdir=gs://b/r")
    assert (config.runtime.global_batch_size, config.runtime.strategy) == (1024, "tpu")


def test_a_users_flagfile_may_include_configs_and_files_beside_it(tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "base.cfg").write_text("# my base\n--g_lr=3e-4\n")
    (folder / "run.cfg").write_text("--config=mnist_fast\n// a comment\n\n"
                                    "--flagfile=base.cfg\n--d_lr=5e-5\n")
    monkeypatch.chdir(tmp_path)  # base.cfg is not here: it is found beside run.cfg
    config = parse(f"--flagfile={folder}/run.cfg", "--workdir=w")
    assert (config.objective.g_lr, config.objective.d_lr, config.model.d_dense_units) == (
        3e-4, 5e-5, 256)


def test_a_missing_include_says_where_it_was_looked_for(tmp_path, monkeypatch, capsys):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "run.cfg").write_text("--config=mnist\n--flagfile=configs/gone.cfg\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_in_process(train.run, "dcgan-train", [
        "--flagfile=cfg/run.cfg", "--workdir=w"], capsys)
    assert code == 2
    assert last_line(err) == (
        f"dcgan-train: error: flagfile configs/gone.cfg (in {tmp_path}/cfg/run.cfg) not found: "
        f"looked for {tmp_path}/configs/gone.cfg and {tmp_path}/cfg/configs/gone.cfg")


def test_an_unknown_config_names_the_ones_there_are(capsys):
    code, _, err = run_in_process(train.run, "dcgan-train", ["--config=mnist_fastest"], capsys)
    assert code == 2
    assert last_line(err) == (
        "dcgan-train: error: --config=mnist_fastest (on the command line) is not a packaged "
        f"config; use one of {', '.join(sorted(flagfiles.CONFIGS))} (dcgan-train --list_configs)")


def test_a_circular_include_is_refused(tmp_path):
    (tmp_path / "a.cfg").write_text(f"--flagfile={tmp_path}/b.cfg\n")
    (tmp_path / "b.cfg").write_text(f"--flagfile={tmp_path}/a.cfg\n")
    with pytest.raises(UserError, match=r"a.cfg includes itself \(.*a.cfg -> .*b.cfg -> "
                                        r".*a.cfg\); remove the circular include"):
        flagfiles.expand(["dcgan-train", f"--flagfile={tmp_path}/a.cfg"], configs=True)


def test_list_configs_shows_each_config_with_its_purpose(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_in_process(train.run, "dcgan-train", ["--list_configs"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("dcgan-train --config=NAME (from dcgan_dist/configs/")
    assert len(lines) == 1 + len(flagfiles.CONFIGS)
    assert ("  folder64        Your own images at 64x64 with the DCGAN paper's networks; name "
            "the prepared folder.") in lines
    assert not os.listdir(tmp_path)  # listing writes nothing


def test_other_programs_take_no_config(capsys):
    code, _, err = run_in_process(generate.run, "dcgan-generate", ["--config=mnist"], capsys)
    assert code == 2 and "Unknown command line flag 'config'" in last_line(err)
