"""NetworkPolicy semantics, as the Kubernetes API defines them, over policies read from a
cluster: may one pod open a connection to another on a port?

A connection needs both ends: the source's egress and the destination's ingress. For each
direction, a pod no policy of that type selects is not isolated (everything allowed); a pod
some policy selects gets only what a rule of one of those policies allows. A rule with no
peers allows every peer, with no ports every port; a peer is a podSelector (pods of the
policy's namespace), a namespaceSelector (every pod of the namespaces it selects), both
(those pods of those namespaces) or an ipBlock (an address, where the pod's is known). A
named port is the one the destination's containers declare under that name.

Pure: dicts as the API serves them (camelCase), no client. Which CNI enforces policies at
all is the cluster's business; this says what the policies allow where one does.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Pod:
    """A pod as policies see it: where it is, its labels, its declared ports (name → number)."""

    namespace: str
    labels: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)
    ip: str | None = None


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    selecting: tuple[str, ...]  # names of the policies that isolate the pod in this direction
    allowing: str | None  # the policy whose rule allows it, where one does

    def said(self, direction: str, pod: str) -> str:
        if not self.selecting:
            return f"no NetworkPolicy selects {pod} for {direction}: not isolated"
        names = ", ".join(self.selecting)
        if self.allowed:
            return f"NetworkPolicy {self.allowing} allows it ({direction} of {pod}, selected by {names})"
        return f"NetworkPolicy {names} selects {pod} for {direction} and no rule of it allows it"


def selects(selector: dict | None, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions, ANDed; empty selects everything)."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for term in selector.get("matchExpressions") or []:
        key, op, values = term["key"], term["operator"], set(term.get("values") or [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _types(spec: dict) -> list[str]:
    """policyTypes, or its default: Ingress, and Egress where the policy has egress rules."""
    return spec.get("policyTypes") or ["Ingress", *(["Egress"] if spec.get("egress") else [])]


def _peer_matches(peer: dict, policy_namespace: str, other: Pod, namespace_labels: dict[str, dict]) -> bool:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        if other.ip is None:
            return False
        address = ipaddress.ip_address(other.ip)
        inside = address in ipaddress.ip_network(block["cidr"], strict=False)
        return inside and not any(address in ipaddress.ip_network(e, strict=False) for e in block.get("except") or [])
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], namespace_labels.get(other.namespace, {})):
            return False
    elif other.namespace != policy_namespace:
        return False
    return selects(peer.get("podSelector"), other.labels) if "podSelector" in peer else True


def _port_matches(rule_port: dict, port: int, protocol: str, destination: Pod) -> bool:
    if rule_port.get("protocol", "TCP") != protocol:
        return False
    wanted = rule_port.get("port")
    if wanted is None:
        return True
    if isinstance(wanted, str) and not wanted.isdigit():
        return destination.ports.get(wanted) == port
    first = int(wanted)
    return first <= port <= int(rule_port.get("endPort") or first)


def _direction(
    policies: list[dict],
    direction: str,
    pod: Pod,
    other: Pod,
    destination: Pod,
    port: int,
    protocol: str,
    namespace_labels: dict[str, dict],
) -> Verdict:
    """`pod`'s side of the connection: its ingress from `other`, or its egress to it."""
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting, allowing = [], None
    for policy in policies:
        meta, spec = policy["metadata"], policy.get("spec") or {}
        if meta.get("namespace") != pod.namespace or direction not in _types(spec):
            continue
        if not selects(spec.get("podSelector"), pod.labels):
            continue
        selecting.append(meta["name"])
        for rule in spec.get(key) or []:
            peers, ports = rule.get(peers_key) or [], rule.get("ports") or []
            peer_ok = not peers or any(_peer_matches(p, pod.namespace, other, namespace_labels) for p in peers)
            port_ok = not ports or any(_port_matches(p, port, protocol, destination) for p in ports)
            if peer_ok and port_ok and allowing is None:
                allowing = meta["name"]
    return Verdict(not selecting or allowing is not None, tuple(selecting), allowing)


def connection(
    policies: list[dict],
    source: Pod,
    destination: Pod,
    port: int,
    namespace_labels: dict[str, dict],
    protocol: str = "TCP",
) -> tuple[Verdict, Verdict]:
    """(the source's egress, the destination's ingress) for a connection to `port`: it is
    allowed when both are."""
    egress = _direction(policies, "Egress", source, destination, destination, port, protocol, namespace_labels)
    ingress = _direction(policies, "Ingress", destination, source, destination, port, protocol, namespace_labels)
    return egress, ingress
