"""Day-2 figures judged without a deployment: capacities and limits as the chart reads
them, a home's bytes as du counts them, and the bad settings refused in one line."""

import os

import pytest

from hubharness import daytwo
from hubharness.daytwo import Home
from hubharness.errors import HarnessError
from hubharness.load.figures import Usage


def test_a_homes_capacity_is_the_charts_quantity_and_storage_none_has_none():
    assert daytwo.home_capacity({}) == 10 * 2**30  # the chart's default, 10Gi
    assert daytwo.home_capacity({"singleuser": {"storage": {"capacity": "1Mi"}}}) == 2**20
    assert daytwo.home_capacity({"singleuser": {"storage": {"type": "none", "capacity": "1Mi"}}}) is None


def test_a_capacity_that_is_no_quantity_is_refused_naming_the_key():
    with pytest.raises(HarnessError, match=r"singleuser.storage.capacity is 'ten gigs': give a Kubernetes quantity"):
        daytwo.home_capacity({"singleuser": {"storage": {"capacity": "ten gigs"}}})


@pytest.mark.parametrize("given", ["abc", 0, -5, 101, "nan"])
def test_a_bound_that_is_no_percentage_is_refused_in_one_line(given):
    values = {"custom": {"hubharness": {"storage": {"maxPercent": given}}}}
    with pytest.raises(HarnessError, match=r"^custom.hubharness.storage.maxPercent is .*: give a percentage"):
        daytwo.max_home_percent(values)


def test_the_bound_is_ninety_percent_unless_the_values_say():
    assert daytwo.max_home_percent({}) == 90
    assert daytwo.max_home_percent({"custom": {"hubharness": {"storage": {"maxPercent": "75"}}}}) == 75


def test_only_homes_past_the_bound_are_too_full_and_an_unbounded_one_never():
    homes = [Home("ann", 95, 100, "a"), Home("ben", 90, 100, "b"), Home("cat", 10**12, None, "c")]
    assert [h.user for h in daytwo.too_full(homes, 90)] == ["ann"]
    assert Home("cat", 5, None, "c").to_json()["percent"] is None


def test_a_folders_bytes_are_its_blocks_so_a_sparse_file_counts_what_it_holds(tmp_path):
    (tmp_path / "full").write_bytes(b"x" * 200_000)
    with open(tmp_path / "sparse", "wb") as f:
        f.truncate(50 * 2**20)
    os.link(tmp_path / "full", tmp_path / "hardlink")  # one inode, counted once
    used = daytwo.folder_bytes(tmp_path)
    assert 200_000 <= used < 200_000 + 64 * 1024, used


def test_a_component_over_its_memory_limit_is_named_with_both_figures():
    limits = daytwo.memory_limits(
        {"hub": {"resources": {"limits": {"memory": "1Gi"}}}, "singleuser": {"memory": {"limit": "16M"}}}
    )
    assert limits == {"hub": 2**30, "proxy": None, "server": 16 * 2**20}  # the spawner's M is 1024²
    usage = {"hub": Usage(2**29), "proxy": Usage(2**40), "server:ann": Usage(32 * 2**20), "server:ben": Usage(2**20)}
    assert daytwo.over_memory_limit(usage, limits) == ["server:ann uses 32.0 MiB over its limit of 16.0 MiB"]


def test_the_servers_limit_is_read_as_jupyterhub_reads_it():
    from jupyterhub.traitlets import ByteSpecification
    from traitlets import HasTraits

    class Spawner(HasTraits):
        mem_limit = ByteSpecification(None, allow_none=True)

    for given in ("2G", "1.5G", "512M", "64K", "3T", 1073741824, "1Gi"):
        limits = daytwo.memory_limits({"singleuser": {"memory": {"limit": given}}})
        if given == "1Gi":  # not a byte specification: a quantity, as a pod's limit reads it
            assert limits["server"] == 2**30
            continue
        assert limits["server"] == Spawner(mem_limit=given).mem_limit, given


@pytest.mark.parametrize(
    "given", ["10Gi", "1Mi", "512M", "16M", "1.5Gi", "100m", "2k", "1e3", 1e9, 1024, "0.5Ki", "3Ti"]
)
def test_a_quantity_is_read_as_the_kubernetes_client_reads_it(given):
    from kubernetes.utils import parse_quantity

    assert daytwo.quantity_bytes(given, "k") == int(parse_quantity(given))
