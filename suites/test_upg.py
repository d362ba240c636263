"""UPG: an upgrade from the previous chart keeps what users have. Tried on the scratch
namespace `<namespace>-upg` (fixtures/upgrade.py); what was seen is in upg.json."""

import pytest

from fixtures.upgrade import EVE, EVE_FILE, FAY, KERNEL_VALUE
from hubharness import chart

pytestmark = pytest.mark.check("UPG")


def _upgraded(seen) -> None:
    """The check reads an upgraded hub, or fails saying why there is none."""
    step = next(iter(seen.errors.items()), None)
    assert seen.from_chart and seen.hub_version_after, "no upgrade was tried" + (f": {step[1]}" if step else "")
    assert (seen.hub_version_before, seen.hub_version_after) == (
        chart.hub_version(seen.from_chart),
        chart.hub_version(seen.to_chart),
    ), (
        f"chart {seen.from_chart} → {seen.to_chart} should run JupyterHub {chart.hub_version(seen.from_chart)} → "
        f"{chart.hub_version(seen.to_chart)}; the hub answered {seen.hub_version_before} → {seen.hub_version_after}"
    )


def _could_not(seen) -> str:
    return "".join(f"; {step} failed: {why}" for step, why in seen.errors.items())


def test_users_and_admin_flags_survive_an_upgrade(upgrade):
    _upgraded(upgrade)
    expected = {EVE: True, FAY: False}
    assert upgrade.users_before == expected, f"before the upgrade the hub listed {upgrade.users_before}"
    assert upgrade.users_after == expected, (
        f"after the upgrade ({upgrade.deploy_said}) the hub lists {upgrade.users_after or 'neither user'}, "
        f"not {expected} (name → admin)"
    )
    assert upgrade.integrity_ok, f"the upgraded hub's database: {upgrade.integrity}"


def test_users_stay_logged_in_across_an_upgrade(upgrade):
    _upgraded(upgrade)
    assert upgrade.home_page_ok, (
        f"{EVE}'s login session after the upgrade: /hub/home gave {upgrade.home_page or 'nothing'}"
        + _could_not(upgrade)
    )


def test_a_running_server_survives_an_upgrade_or_starts_again_with_its_files(upgrade):
    _upgraded(upgrade)
    seen = upgrade
    if seen.server_kept:
        assert seen.kernel_value == KERNEL_VALUE, (
            f"{EVE}'s server was kept, but x in her kernel reads {seen.kernel_value!r}, set to {KERNEL_VALUE} before"
        )
    else:
        assert seen.restarted, (
            f"{EVE}'s server was not kept ({seen.server_after or 'the hub no longer knows it'}) "
            f"and did not start again" + _could_not(seen)
        )
    assert seen.file_after == EVE_FILE[1], f"{EVE}'s {EVE_FILE[0]} after the upgrade: " + (
        "unreadable" + _could_not(seen) if seen.file_after is None else f"{len(seen.file_after)} other bytes"
    )
