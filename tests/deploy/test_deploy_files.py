"""The deployment files agree with the CLI and with each other.

No Docker engine or Kubernetes runs here: the compose file and the manifests are
parsed, and every command they run is checked against the real ``calab serve`` /
``dask scheduler`` / ``dask worker`` command-line parsers. ``docker compose
config`` runs too where a Docker engine exists.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import click
import pytest
import yaml
from dask.utils import parse_bytes
from distributed.cli.dask_scheduler import main as dask_scheduler_cli
from distributed.cli.dask_worker import main as dask_worker_cli

from calab.cli.serve import serve
from calab.server.jobs import jobs_app

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
K8S = ROOT / "deploy" / "k8s"


def interpolate(value: object) -> object:
    """Resolve compose ``${VAR:-default}`` with the defaults (no variables set)."""
    if isinstance(value, str):
        return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    return value


def parse_cli(command: click.Command, args: list[str]) -> dict:
    """Parse ``args`` with the real click command (raises on unknown flags or bad values)."""
    context = command.make_context(command.name or "cmd", list(args), resilient_parsing=False)
    return dict(context.params)


def parse_serve(args: list[str], tmp_path: Path) -> dict:
    """Parse a ``calab serve ...`` argv; the data root is swapped for an existing dir."""
    assert args[:2] == ["calab", "serve"], args
    rest = list(args[2:])
    data_root = rest[rest.index("--data-root") + 1]
    rest[rest.index("--data-root") + 1] = str(tmp_path)
    params = parse_cli(serve, rest)
    params["data_root"] = data_root
    return params


@pytest.fixture(scope="module")
def compose() -> dict:
    return interpolate(yaml.safe_load(COMPOSE.read_text()))


def test_compose_services_share_one_image_and_volume(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {"scheduler", "worker", "calab"}
    images = {s["image"] for s in services.values()}
    assert len(images) == 1
    for service in services.values():
        assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).resolve() == \
            DOCKERFILE
        mounts = [v.split(":") for v in service["volumes"]]
        assert mounts == [["./data", "/data"]]
        assert "healthcheck" in service


def test_compose_scheduler_and_workers_match_the_dask_cli(compose: dict) -> None:
    scheduler = compose["services"]["scheduler"]
    assert scheduler["command"][:2] == ["dask", "scheduler"]
    params = parse_cli(dask_scheduler_cli, scheduler["command"][2:])
    port = int(params["port"])
    dashboard = int(params["dashboard_address"].rsplit(":", 1)[1])
    assert (port, dashboard) == (8786, 8787)
    published = {tuple(int(p) for p in mapping.split(":")) for mapping in scheduler["ports"]}
    assert published == {(8786, 8786), (8787, 8787)}
    assert f":{dashboard}/health" in " ".join(scheduler["healthcheck"]["test"])

    worker = compose["services"]["worker"]
    assert worker["command"][:2] == ["dask", "worker"]
    params = parse_cli(dask_worker_cli, worker["command"][2:])
    assert params["scheduler"] == f"tcp://scheduler:{port}"
    assert params["nthreads"] == 1
    assert parse_bytes(params["memory_limit"]) >= 2**30
    assert worker["deploy"]["replicas"] == 2
    worker_dashboard = params["dashboard_address"].rsplit(":", 1)[1]
    assert f":{worker_dashboard}/health" in " ".join(worker["healthcheck"]["test"])
    assert worker["depends_on"]["scheduler"]["condition"] == "service_healthy"


def test_compose_service_matches_calab_serve(compose: dict, tmp_path: Path) -> None:
    service = compose["services"]["calab"]
    params = parse_serve(service["command"], tmp_path)
    assert params["host"] == "0.0.0.0"
    assert params["max_concurrent"] >= 1
    assert [f"{params['port']}:{params['port']}"] == service["ports"]
    assert service["environment"]["DASK_SCHEDULER_ADDRESS"] == "tcp://scheduler:8786"
    mount = service["volumes"][0].split(":")[1]
    assert params["data_root"] == mount
    assert str(params["state_dir"]).startswith(mount + "/")  # the job database persists
    # the token: a compose secret, mounted where --token-file reads it
    assert service["secrets"] == ["calab_token"]
    assert str(params["token_file"]) == "/run/secrets/calab_token"
    assert compose["secrets"]["calab_token"] == {"environment": "CALAB_TOKEN"}
    health = " ".join(service["healthcheck"]["test"])
    assert f"127.0.0.1:{params['port']}/api/v1/health" in health


def test_every_flag_in_the_deploy_files_is_in_calab_serve_help() -> None:
    from click.testing import CliRunner

    from calab.cli.main import main

    help_text = CliRunner().invoke(main, ["serve", "--help"]).output
    used = set(re.findall(r"--[a-z][a-z-]+", COMPOSE.read_text() + (K8S / "service.yaml")
                          .read_text()))
    dask_flags = {"--port", "--dashboard-address", "--nthreads", "--memory-limit", "--name",
                  "--dashboard", "--local-directory", "--build", "--from-literal",
                  "--generate-name", "--repo", "--create-namespace", "--params", "--wait",
                  "--server"}
    for flag in sorted(used - dask_flags):
        assert flag in help_text, flag


def test_health_route_used_by_the_checks_exists(tmp_path: Path) -> None:
    app = jobs_app(data_root=tmp_path, state_dir=tmp_path / "s", token="t" * 20,
                   start_runner=False)
    paths = {route.path for route in app.routes}
    assert "/api/v1/health" in paths


def test_dockerfile_pins_dask_and_installs_calab() -> None:
    text = DOCKERFILE.read_text()
    version = re.search(r"^ARG DASK_VERSION=(\S+)$", text, re.M).group(1)
    assert re.fullmatch(r"\d{4}\.\d+\.\d+", version)
    assert '"dask[array]==${DASK_VERSION}"' in text
    assert '"distributed==${DASK_VERSION}"' in text
    assert "COPY calab ./calab" in text and 'pip install ".[' in text
    assert "s3" in text.split('pip install ".[', 1)[1].split("]", 1)[0]
    assert re.search(r"^USER calab$", text, re.M)
    for port in ("8000", "8786", "8787"):
        assert port in re.search(r"^EXPOSE (.+)$", text, re.M).group(1).split()


def test_dockerfile_default_command_is_a_valid_calab_serve(tmp_path: Path) -> None:
    import json

    cmd = json.loads(re.search(r"^CMD (\[.+\])$", DOCKERFILE.read_text(), re.M).group(1))
    params = parse_serve(cmd, tmp_path)
    assert params["data_root"] == "/data" and params["port"] == 8000


def k8s_documents() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind(kind: str) -> list[dict]:
    return [d for d in k8s_documents() if d["kind"] == kind]


def k8s_bytes(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    number, unit = re.fullmatch(r"(\d+)([KMGT]i)?", quantity).groups()
    return int(number) * units.get(unit, 1)


def test_k8s_daskcluster_workers_and_scheduler() -> None:
    (cluster,) = by_kind("DaskCluster")
    assert cluster["apiVersion"] == "kubernetes.dask.org/v1"
    worker_pod = cluster["spec"]["worker"]["spec"]
    (worker,) = worker_pod["containers"]
    assert cluster["spec"]["worker"]["replicas"] >= 2
    assert worker["args"][:2] == ["dask", "worker"]
    params = parse_cli(dask_worker_cli, worker["args"][2:])
    assert params["nthreads"] == 1
    assert parse_bytes(params["memory_limit"]) <= k8s_bytes(worker["resources"]["limits"]["memory"])
    scheduler_spec = cluster["spec"]["scheduler"]
    (scheduler,) = scheduler_spec["spec"]["containers"]
    params = parse_cli(dask_scheduler_cli, scheduler["args"][2:])
    ports = {p["name"]: p["containerPort"] for p in scheduler["ports"]}
    assert ports == {"tcp-comm": int(params["port"]), "http-dashboard": 8787}
    service_ports = {p["name"]: p["port"] for p in scheduler_spec["service"]["ports"]}
    assert service_ports == {"tcp-comm": 8786, "http-dashboard": 8787}
    assert scheduler["readinessProbe"]["httpGet"]["path"] == "/health"
    assert worker["image"] == scheduler["image"]


def test_k8s_service_deployment_matches_cli_cluster_secret_and_volume(tmp_path: Path) -> None:
    (cluster,) = by_kind("DaskCluster")
    (deployment,) = by_kind("Deployment")
    (service,) = by_kind("Service")
    (secret,) = by_kind("Secret")
    (claim,) = by_kind("PersistentVolumeClaim")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert deployment["spec"]["replicas"] == 1
    params = parse_serve(container["args"], tmp_path)
    env = {e["name"]: e["value"] for e in container["env"]}
    scheduler_port = next(p["port"] for p in cluster["spec"]["scheduler"]["service"]["ports"]
                          if p["name"] == "tcp-comm")
    assert env["DASK_SCHEDULER_ADDRESS"] == \
        f"tcp://{cluster['metadata']['name']}-scheduler:{scheduler_port}"
    assert container["image"] == cluster["spec"]["worker"]["spec"]["containers"][0]["image"]
    # the token file is the Secret's key, mounted read-only
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    token_volume = next(v for v in pod["volumes"] if "secret" in v)
    assert token_volume["secret"]["secretName"] == secret["metadata"]["name"]
    token_key = next(iter(secret["stringData"]))
    assert str(params["token_file"]) == f"{mounts[token_volume['name']]['mountPath']}/{token_key}"
    # the same claim at the same path in the service, the scheduler and the workers
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    pods = [pod, cluster["spec"]["worker"]["spec"], cluster["spec"]["scheduler"]["spec"]]
    for pod_spec in pods:
        data = next(v for v in pod_spec["volumes"] if "persistentVolumeClaim" in v)
        assert data["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
        for box in pod_spec["containers"]:
            (mount,) = [m for m in box["volumeMounts"] if m["name"] == data["name"]]
            assert mount["mountPath"] == params["data_root"] == "/data"
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "calab-data"
    # the Service reaches the container port calab serve listens on
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    (service_port,) = service["spec"]["ports"]
    assert ports[service_port["targetPort"]] == params["port"]
    assert service["spec"]["selector"].items() <= \
        deployment["spec"]["template"]["metadata"]["labels"].items()
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/v1/health"


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests


def test_docker_compose_config_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True,
                                        check=False).returncode != 0:
        pytest.skip("no Docker with the compose plugin on this machine")
    env = {**os.environ, "CALAB_TOKEN": "x" * 32}
    result = subprocess.run([docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
                            capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
