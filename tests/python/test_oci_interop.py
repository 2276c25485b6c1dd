"""berth's OCI artifacts and signatures against tools berth did not write.

A real registry (Debian's docker-registry) on a free loopback port; ORAS's Python client
pushes and pulls Wasm artifacts on the other side, and OpenSSL makes and checks the
ECDSA signatures in cosign's format, so neither direction only agrees with itself.
"""

from __future__ import annotations

import base64
import contextlib
import os
import hashlib
import json
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import oras.client
import pytest

from conftest import REPO, berth_binary, free_port, wait_listening

WASM_CONFIG = "application/vnd.wasm.config.v0+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
PAYLOAD = "application/vnd.dev.cosign.simplesigning.v1+json"


@contextlib.contextmanager
def run_registry(extra_config: str = "") -> Iterator[str]:
    """Runs a docker-registry from a temporary folder; yields its `host:port`."""
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not Path(binary).is_file():
        pytest.fail("docker-registry is not installed (`make test` installs it)")
    folder = Path(tempfile.mkdtemp(prefix="berth-registry-"))
    port = free_port()
    (folder / "config.yml").write_text(
        f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{extra_config}"
    )
    process = subprocess.Popen([binary, "serve", str(folder / "config.yml")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port, "docker-registry", process)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def registry() -> Iterator[str]:
    """`host:port` of an open docker-registry."""
    with run_registry() as address:
        yield address


def berth(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([berth_binary(), *args], capture_output=True, text=True, timeout=120, env=env)


def plugin(name: str) -> Path:
    return REPO / "plugins" / f"{name}.wasm"


def http_get(url: str, accept: str | None = None) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def put_blob(registry: str, repo: str, data: bytes) -> str:
    """Uploads a blob the two-step way the distribution spec describes; its digest."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = urllib.request.Request(f"http://{registry}/v2/{repo}/blobs/uploads/", method="POST")
    with urllib.request.urlopen(start, timeout=10) as response:
        location = response.headers["Location"]
    if location.startswith("/"):
        location = f"http://{registry}{location}"
    joiner = "&" if "?" in location else "?"
    put = urllib.request.Request(f"{location}{joiner}digest={digest}", data=data, method="PUT")
    put.add_header("Content-Type", "application/octet-stream")
    urllib.request.urlopen(put, timeout=10).close()
    return digest


def openssl_key_pair(folder: Path, name: str) -> tuple[Path, Path]:
    key, pub = folder / f"{name}.key", folder / f"{name}.pub"
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key)], check=True)
    subprocess.run(["openssl", "ec", "-in", str(key), "-pubout", "-out", str(pub)], check=True, capture_output=True)
    return key, pub


def test_oras_artifacts_load_in_berth_and_berths_load_in_oras(registry: str, tmp_path: Path) -> None:
    client = oras.client.OrasClient(insecure=True)
    # ORAS pushes a component with the Wasm OCI layout; berth pulls and loads it.
    staged = tmp_path / "textkit.wasm"
    shutil.copy(plugin("textkit"), staged)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"architecture": "wasm", "os": "wasip2"}))
    client.push(
        target=f"{registry}/oras/textkit:1",
        files=[f"{staged}:application/wasm"],
        manifest_config=f"{config}:{WASM_CONFIG}",
        disable_path_validation=True,
    )
    plugins, cache = tmp_path / "plugins", tmp_path / "cache"
    pulled = berth("pull", f"oci://{registry}/oras/textkit:1", "--plain-http", "--plugins", str(plugins), "--cache-dir", str(cache))
    assert pulled.returncode == 0, pulled.stderr
    assert (plugins / "textkit.wasm").read_bytes() == plugin("textkit").read_bytes()
    listed = berth("list", "--plugins", str(plugins), "--cache-dir", str(cache))
    assert "tool      json_query" in listed.stdout, listed.stdout + listed.stderr

    # berth pushes; ORAS pulls the same bytes, and the manifest has the layout's media types.
    pushed = berth("push", str(plugin("echo")), f"oci://{registry}/berth/echo:1", "--plain-http")
    assert pushed.returncode == 0, pushed.stderr
    out = tmp_path / "oras-out"
    files = client.pull(target=f"{registry}/berth/echo:1", outdir=str(out))
    assert [Path(f).read_bytes() for f in files] == [plugin("echo").read_bytes()]
    manifest = json.loads(http_get(f"http://{registry}/v2/berth/echo/manifests/1", OCI_MANIFEST))
    assert manifest["config"]["mediaType"] == WASM_CONFIG
    assert [layer["mediaType"] for layer in manifest["layers"]] == ["application/wasm"]


def test_signatures_verify_across_berth_and_openssl(registry: str, tmp_path: Path) -> None:
    key, pub = openssl_key_pair(tmp_path, "signer")
    # berth signs; OpenSSL verifies the payload and signature berth stored, cosign's way.
    pushed = berth("push", str(plugin("echo")), f"oci://{registry}/signed/echo:1", "--plain-http", "--sign", str(key))
    assert pushed.returncode == 0, pushed.stderr
    digest = next(line.split()[1] for line in pushed.stdout.splitlines() if line.startswith("digest "))
    sig_tag = digest.replace(":", "-") + ".sig"
    signature_manifest = json.loads(http_get(f"http://{registry}/v2/signed/echo/manifests/{sig_tag}", OCI_MANIFEST))
    (layer,) = signature_manifest["layers"]
    assert layer["mediaType"] == PAYLOAD
    payload = http_get(f"http://{registry}/v2/signed/echo/blobs/{layer['digest']}")
    claims = json.loads(payload)
    assert claims["critical"]["image"]["docker-manifest-digest"] == digest
    assert claims["critical"]["type"] == "cosign container image signature"
    assert claims["critical"]["identity"]["docker-reference"] == f"{registry}/signed/echo"
    (tmp_path / "payload.json").write_bytes(payload)
    (tmp_path / "sig.der").write_bytes(base64.b64decode(layer["annotations"]["dev.cosignproject.cosign/signature"]))
    verified = subprocess.run(
        ["openssl", "dgst", "-sha256", "-verify", str(pub), "-signature", str(tmp_path / "sig.der"), str(tmp_path / "payload.json")],
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0 and "Verified OK" in verified.stdout, verified.stdout + verified.stderr

    # OpenSSL signs a payload for an unsigned artifact, stored by hand in cosign's layout; berth verifies it.
    pushed = berth("push", str(plugin("textkit")), f"oci://{registry}/handsigned/textkit:1", "--plain-http")
    assert pushed.returncode == 0, pushed.stderr
    digest = next(line.split()[1] for line in pushed.stdout.splitlines() if line.startswith("digest "))
    payload = json.dumps(
        {
            "critical": {
                "identity": {"docker-reference": f"{registry}/handsigned/textkit"},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    ).encode()
    (tmp_path / "hand.json").write_bytes(payload)
    subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", str(key), "-out", str(tmp_path / "hand.sig"), str(tmp_path / "hand.json")],
        check=True,
    )
    repo = "handsigned/textkit"
    payload_digest = put_blob(registry, repo, payload)
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [payload_digest]}}).encode()
    config_digest = put_blob(registry, repo, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": len(config)},
        "layers": [
            {
                "mediaType": PAYLOAD,
                "digest": payload_digest,
                "size": len(payload),
                "annotations": {"dev.cosignproject.cosign/signature": base64.b64encode((tmp_path / "hand.sig").read_bytes()).decode()},
            }
        ],
    }
    put = urllib.request.Request(
        f"http://{registry}/v2/{repo}/manifests/{digest.replace(':', '-')}.sig",
        data=json.dumps(manifest).encode(),
        method="PUT",
        headers={"Content-Type": OCI_MANIFEST},
    )
    urllib.request.urlopen(put, timeout=10).close()
    pulled = berth(
        "pull", f"oci://{registry}/{repo}:1", "--plain-http", "--plugins", str(tmp_path / "p"),
        "--cache-dir", str(tmp_path / "c"), "--trusted-key", str(pub),
    )
    assert pulled.returncode == 0, pulled.stderr
    assert f"signature verified with {pub}" in pulled.stdout

    _, other = openssl_key_pair(tmp_path, "other")
    refused = berth(
        "pull", f"oci://{registry}/{repo}:1", "--plain-http", "--plugins", str(tmp_path / "p2"),
        "--cache-dir", str(tmp_path / "c2"), "--trusted-key", str(other),
    )
    assert refused.returncode != 0 and "no signature verifies" in refused.stderr, refused.stderr


def test_credentials_come_from_the_environment_or_the_docker_config(tmp_path: Path) -> None:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("alice:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt()).decode() + "\n")
    auth = f"auth:\n  htpasswd:\n    realm: berth-test\n    path: {htpasswd}\n"
    with run_registry(auth) as address:
        reference = f"oci://{address}/private/echo:1"
        base = {k: v for k, v in os.environ.items() if k not in ("BERTH_REGISTRY_USER", "BERTH_REGISTRY_PASSWORD")}
        base["DOCKER_CONFIG"] = str(tmp_path / "no-docker-config")
        anonymous = berth("push", str(plugin("echo")), reference, "--plain-http", env=base)
        assert anonymous.returncode != 0 and "had no credentials" in anonymous.stderr, anonymous.stderr
        wrong = berth("push", str(plugin("echo")), reference, "--plain-http",
                      env={**base, "BERTH_REGISTRY_USER": "alice", "BERTH_REGISTRY_PASSWORD": "guess"})
        assert wrong.returncode != 0 and "refused the credentials" in wrong.stderr, wrong.stderr
        pushed = berth("push", str(plugin("echo")), reference, "--plain-http",
                       env={**base, "BERTH_REGISTRY_USER": "alice", "BERTH_REGISTRY_PASSWORD": "s3cret"})
        assert pushed.returncode == 0, pushed.stderr

        # What `docker login` leaves behind: an auths entry in config.json.
        docker = tmp_path / "docker"
        docker.mkdir()
        token = base64.b64encode(b"alice:s3cret").decode()
        (docker / "config.json").write_text(json.dumps({"auths": {address: {"auth": token}}}))
        pulled = berth("pull", reference, "--plain-http", "--plugins", str(tmp_path / "p"), "--cache-dir", str(tmp_path / "c"),
                       env={**base, "DOCKER_CONFIG": str(docker)})
        assert pulled.returncode == 0, pulled.stderr
        assert (tmp_path / "p" / "echo.wasm").read_bytes() == plugin("echo").read_bytes()
