"""What can be checked of deploy/ without a container engine or a cluster: every file
parses, the pieces refer to each other correctly, nginx accepts the proxy config, and
the dashboard and alert rules use only metrics the app exports."""

from __future__ import annotations

import datetime
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from nginx_support import LOCATIONS
from servers import require_binary

from app.config import Settings
from app.observability import counters

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def k8s(kind: str) -> dict[str, Any]:
    docs = [d for p in sorted((DEPLOY / "k8s").glob("*.yaml")) for d in load_all(p)]
    (found,) = [d for d in docs if d.get("kind") == kind]
    return found


def test_every_yaml_and_json_file_parses() -> None:
    paths = sorted(DEPLOY.rglob("*.yaml"))
    assert len(paths) >= 10
    for path in paths:
        assert load_all(path), path
    json.loads((DEPLOY / "monitoring" / "grafana-kaari.json").read_text())


def test_the_image_is_multi_stage_and_unprivileged() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)$", text, re.MULTILINE)
    assert stages == ["web", "build", "runtime"]
    # the web app is built in its stage and served from the image (KAARI_WEB_DIR)
    assert "COPY --from=web --chown=root:root /web/dist /opt/kaari/web" in text
    assert "KAARI_WEB_DIR=/opt/kaari/web" in text
    assert re.search(r"^USER 10001:10001$", text, re.MULTILINE)
    assert 'ENTRYPOINT ["kaari"]' in text


def test_compose_runs_two_instances_behind_the_proxy() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"kaari-a", "kaari-b", "proxy", "postgres", "redis", "coturn", "migrate"} <= set(
        services
    )
    for name in ("kaari-a", "kaari-b"):
        env = services[name]["environment"]
        assert env["KAARI_ENV"] == "production"
        assert env["KAARI_DATABASE_URL"].startswith("postgresql://")
        assert env["KAARI_REDIS_URL"].startswith("redis://")
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        # every KAARI_ variable is a real setting
        known = {"KAARI_" + field.upper() for field in Settings.__struct_fields__}
        assert set(env) <= known, set(env) - known
    assert services["migrate"]["command"] == ["migrate"]
    nginx = (DEPLOY / "nginx" / "nginx.conf").read_text()
    assert "server kaari-a:8000" in nginx
    assert "server kaari-b:8000" in nginx
    proxy_ip = services["proxy"]["networks"]["internal"]["ipv4_address"]
    assert services["kaari-a"]["environment"]["KAARI_FORWARDED_ALLOW_IPS"] == proxy_ip


def test_kubernetes_probes_jobs_and_budget() -> None:
    deployment = k8s("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert {"secretRef": {"name": "kaari-secrets"}} in container["envFrom"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    job = k8s("Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    assert k8s("PodDisruptionBudget")["spec"]["minAvailable"] == 1
    annotations = k8s("Ingress")["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    config = k8s("ConfigMap")["data"]
    known = {"KAARI_" + name.upper() for name in Settings.__struct_fields__}
    assert set(config) <= known, set(config) - known
    secret = load_all(DEPLOY / "k8s" / "secret.example.yaml")[0]["stringData"]
    assert set(secret) <= known, set(secret) - known


def exported_metrics() -> set[str]:
    names = set()
    for metric in counters.REGISTRY.collect():
        for sample in metric.samples:
            names.add(sample.name)
        names.add(metric.name)
    # the counters with their _total, the histograms' series, the sampled gauges
    names |= {n + "_total" for n in names}
    for hist in ("kaari_http_request_duration_seconds", "kaari_background_job_duration_seconds"):
        names |= {hist + s for s in ("_bucket", "_count", "_sum")}
    names |= {
        "kaari_websocket_connections",
        "kaari_outbox_pending",
        "kaari_outbox_oldest_pending_age_seconds",
        "kaari_outbox_failed",
        "kaari_mailbox_pending_rows",
        "kaari_metrics_sample_ok",
        "kaari_metrics_sample_age_seconds",
        "up",
    }
    return names


def used_metrics(expr: str) -> set[str]:
    return set(re.findall(r"\b((?:kaari|process)_[a-z_]+|up)\b(?=\{|\s|\)|\[|$)", expr))


def test_alerts_and_dashboard_use_only_exported_metrics() -> None:
    known = exported_metrics()
    rules = yaml.safe_load((DEPLOY / "monitoring" / "kaari-alerts.yaml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    dashboard = json.loads((DEPLOY / "monitoring" / "grafana-kaari.json").read_text())
    exprs += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) > 20
    for expr in exprs:
        used = used_metrics(expr)
        assert used, expr
        assert used <= known, (expr, used - known)


def throwaway_certificate(directory: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kaari.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True)
    (directory / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def test_nginx_accepts_the_compose_proxy_config(tmp_path: Path) -> None:
    binary = require_binary("nginx", "/usr/sbin/nginx")
    throwaway_certificate(tmp_path / "tls")
    text = (DEPLOY / "nginx" / "nginx.conf").read_text()
    # the same file with this machine's paths: the certificate, the locations, temp
    # files, and loopback for the compose service names nginx would resolve
    for old, new in {
        "/tmp/": f"{tmp_path}/",  # noqa: S108 (replaced, not used); first: tmp_path is in /tmp
        "/etc/nginx/kaari-locations.conf": str(LOCATIONS),
        "/etc/nginx/tls/": f"{tmp_path}/tls/",
        "kaari-a:8000": "127.0.0.1:8001",
        "kaari-b:8000": "127.0.0.1:8002",
    }.items():
        assert old in text
        text = text.replace(old, new)
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    result = subprocess.run(
        [binary, "-t", "-p", str(tmp_path), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
