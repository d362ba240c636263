"""Moving a deployment from one chart version to another: which way is allowed.

JupyterHub upgrades its database schema forward and cannot run on a newer one, so a
move to an older chart is refused unless the user forces it (after a backup).
"""

from __future__ import annotations

from . import chart
from .errors import HarnessError


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("-")[0].split("."))


def move(namespace: str, running: str | None, wanted: str, force: bool) -> str:
    """'' (nothing to move: first deploy, or the same chart), 'upgrade' or 'downgrade';
    a downgrade without force is refused with the way out."""
    if not running or running == wanted:
        return ""
    if version_key(wanted) > version_key(running):
        return "upgrade"
    if not force:
        raise HarnessError(
            f"namespace {namespace} runs chart {running} (JupyterHub {chart.hub_version(running)}); "
            f"chart {wanted} ships the older JupyterHub {chart.hub_version(wanted)}, which cannot run on a "
            f"database a newer one upgraded: deploy --chart-version {running}, or `invoke backup` and pass --force"
        )
    return "downgrade"


# Where UPG upgrades from unless told (HUBHARNESS_UPGRADE_FROM): the upgrade most users
# make to the newest chart; a chart no newer than it upgrades from the one before it.
DEFAULT_FROM = "4.2.0"


def upgrade_from(chart_version: str, given: str | None = None) -> str | None:
    """The chart an upgrade to chart_version is proven from; None: nothing is older."""
    if given:
        chart.hub_version(given)  # a known chart, or the error that lists them
        if version_key(given) >= version_key(chart_version):
            raise HarnessError(
                f"HUBHARNESS_UPGRADE_FROM={given} is not older than chart {chart_version}: name an older chart"
            )
        return given
    if version_key(DEFAULT_FROM) < version_key(chart_version):
        return DEFAULT_FROM
    older = [v for v in chart.HUB_VERSION_OF_CHART if version_key(v) < version_key(chart_version)]
    return max(older, key=version_key) if older else None
