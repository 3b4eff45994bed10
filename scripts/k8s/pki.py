"""Throwaway certificates, service-account keys and the admin kubeconfig for one run dir."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

from layout import RunDir, TestenvError


def openssl(*args: str) -> None:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise TestenvError(f"openssl {' '.join(args[:2])} failed: {result.stderr.strip()}")


def generate_pki(pki: Path) -> None:
    """A throwaway CA, a serving cert for the apiserver, an admin client cert, SA keys."""
    if (pki / ".complete").exists():
        return
    pki.mkdir(parents=True, exist_ok=True)
    openssl("genrsa", "-out", str(pki / "ca.key"), "2048")
    openssl(
        "req",
        "-x509",
        "-new",
        "-key",
        str(pki / "ca.key"),
        "-days",
        "3650",
        "-subj",
        "/CN=sidestage-testenv-ca",
        "-out",
        str(pki / "ca.crt"),
    )
    sans = (
        "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,"
        "DNS:kubernetes.default,DNS:kubernetes.default.svc,"
        "DNS:kubernetes.default.svc.cluster.local"
    )
    issue_cert(pki, "apiserver", "/CN=kube-apiserver", [sans, "extendedKeyUsage=serverAuth"])
    # system:masters bypasses RBAC: the suite acts as cluster admin, like envtest does.
    admin_subject = "/O=system:masters/CN=sidestage-admin"
    issue_cert(pki, "admin", admin_subject, ["extendedKeyUsage=clientAuth"])
    openssl("genrsa", "-out", str(pki / "sa.key"), "2048")
    openssl("rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))
    (pki / ".complete").touch()


def issue_cert(pki: Path, name: str, subject: str, extensions: list[str]) -> None:
    key, csr, crt, ext = (pki / f"{name}.{suffix}" for suffix in ("key", "csr", "crt", "ext"))
    ext.write_text("\n".join(["basicConstraints=CA:FALSE", *extensions]) + "\n")
    openssl("genrsa", "-out", str(key), "2048")
    openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
    openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(pki / "ca.crt"),
        "-CAkey",
        str(pki / "ca.key"),
        "-CAcreateserial",
        "-days",
        "3650",
        "-extfile",
        str(ext),
        "-out",
        str(crt),
    )


def write_kubeconfig(run: RunDir, server: str) -> None:
    def b64(name: str) -> str:
        return base64.b64encode((run.pki / name).read_bytes()).decode()

    # Certificates are embedded so the file keeps working if it is copied elsewhere.
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "sidestage-testenv",
                "cluster": {"server": server, "certificate-authority-data": b64("ca.crt")},
            }
        ],
        "users": [
            {
                "name": "sidestage-admin",
                "user": {
                    "client-certificate-data": b64("admin.crt"),
                    "client-key-data": b64("admin.key"),
                },
            }
        ],
        "contexts": [
            {
                "name": "sidestage-testenv",
                "context": {"cluster": "sidestage-testenv", "user": "sidestage-admin"},
            }
        ],
        "current-context": "sidestage-testenv",
    }
    tmp = run.kubeconfig.with_suffix(".tmp")
    # JSON is valid YAML, and every kubeconfig loader accepts it.
    tmp.write_text(json.dumps(config, indent=2) + "\n")
    tmp.chmod(0o600)
    os.replace(tmp, run.kubeconfig)
