"""The kind target: a kubernetes target whose cluster the harness makes itself, from
manifests/kind-cluster.yaml, with its kubeconfig kept under the harness's home (not in
~/.kube/config). The cluster's node ports reach this machine through the kind config's
extraPortMappings.

The cluster is pytest-kind's KindCluster, the same object the project's real-cluster
test uses. Importing pytest_kind runs no pytest plugin: its package exports the cluster
class, and its fixtures load only inside a pytest session.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pytest_kind import KindCluster

from ...errors import HarnessError
from ...paths import state_home
from .access import kind_host_port
from .api import KIND_CLUSTER, KIND_CONFIG, require, run
from .target import KubeTarget


class KindTarget(KubeTarget):
    OPTIONS = frozenset({"keep_cluster"})
    # the cluster it made stays for the next namespace
    SELFTEST_REMOVE_OPTIONS: ClassVar[Mapping[str, object]] = {"keep_cluster": True}
    kind_config = KIND_CONFIG

    def __init__(self, namespace: str, keep_cluster: bool = False):
        super().__init__("kind", namespace)
        self.kube_context = f"kind-{KIND_CLUSTER}"
        # kind's kubeconfig stays ours (not ~/.kube/config); ".kind" is no namespace name
        self.kubeconfig = str(state_home() / ".kind" / "kubeconfig")
        self.keep_cluster = keep_cluster  # purge leaves the cluster

    @classmethod
    def create(cls, context: str, namespace: str, **options: Any) -> KindTarget:
        return cls(namespace, **options)

    def cluster_missing(self) -> str | None:
        if Path(self.kubeconfig).is_file():
            return None
        return f"kind cluster {KIND_CLUSTER} is not set up here"

    def require_tools(self) -> None:
        super().require_tools()
        require("kind", "install kind (go install sigs.k8s.io/kind@latest) and deploy again")
        require("docker", "kind needs Docker: install a Docker engine")
        run(["docker", "info"], "docker info (kind needs a running Docker engine)")

    def kind_cluster(self) -> KindCluster:
        """pytest-kind's handle on the cluster (its working folder kept under our home)."""
        home = Path(self.kubeconfig).parent
        home.mkdir(parents=True, exist_ok=True)
        with contextlib.chdir(home):  # KindCluster makes ./.pytest-kind/<name>
            return KindCluster(
                KIND_CLUSTER,
                kubeconfig=Path(self.kubeconfig),
                kind_path=Path(shutil.which("kind") or "kind"),
                kubectl_path=Path(shutil.which("kubectl") or "kubectl"),
            )

    def ensure_cluster(self) -> None:
        """Create the cluster from manifests/kind-cluster.yaml, or reuse it (then export its
        kubeconfig first: it may have been made elsewhere)."""
        if KIND_CLUSTER in run(["kind", "get", "clusters"], "kind get clusters").split():
            run(
                ["kind", "export", "kubeconfig", "--name", KIND_CLUSTER, "--kubeconfig", self.kubeconfig],
                "kind export kubeconfig",
            )
        try:
            self.kind_cluster().create(KIND_CONFIG)
        except (subprocess.CalledProcessError, OSError) as e:
            raise HarnessError(
                f"kind create cluster {KIND_CLUSTER} failed ({e}): run `kind create cluster "
                f"--config {KIND_CONFIG}` to see why"
            ) from None

    def node_address(self, port: int) -> str | None:
        return f"http://127.0.0.1:{kind_host_port(self.kind_config, port)}"

    def purge_cluster(self) -> str:
        if self.keep_cluster:
            return ""
        if self._releases(all_namespaces=True):  # another deployment (verify's scratch, a second namespace)
            return f"; kept kind cluster {KIND_CLUSTER}: other releases run in it"
        self.kind_cluster().delete()
        Path(self.kubeconfig).unlink(missing_ok=True)
        return f"; deleted kind cluster {KIND_CLUSTER} (--keep-cluster keeps it)"
