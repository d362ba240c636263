"""OPS: the day-2 figures an operator watches, judged: no user's home is nearly full and no
component uses more memory than the values allow it. The figures themselves go to the
report (ops.json, the run's summary) whether or not the checks pass."""

import pytest

from fixtures.users import record_json
from hubharness import daytwo
from hubharness.waiting import wait_until

pytestmark = pytest.mark.check("OPS")

METRICS_TIMEOUT = 120  # seconds: metrics-server scrapes every 15-60 s


def test_no_home_is_fuller_than_the_bound(request, deployment, alice, note):
    alice.server()  # at least one home in use: on kubernetes only a running pod's is measured
    homes = deployment.homes()
    bound = daytwo.max_home_percent(deployment.values)
    record_json(request, "ops.json", homes=[h.to_json() for h in homes], max_home_percent=bound)
    assert homes, "no user's home could be measured"
    full = daytwo.too_full(homes, bound)
    assert not full, "; ".join(
        f"{h.user}'s home is {h.percent:.0f}% full ({daytwo.mib(h.used_bytes)} of {daytwo.mib(h.capacity_bytes or 0)}, "
        f"{h.where}), above the bound of {bound:g}% ({daytwo.MAX_HOME_PERCENT_KEY})"
        for h in full
    )
    note(
        ", ".join(
            f"{h.user} {daytwo.mib(h.used_bytes)}" + (f" ({h.percent:.1f}%)" if h.percent is not None else "")
            for h in homes
        )
    )


def test_no_component_uses_more_memory_than_its_limit(request, deployment, alice, note):
    alice.server()  # a user's server among what is measured
    limits = daytwo.memory_limits(deployment.rendered_values)

    # metrics-server reports a pod some seconds after it started (its first scrape)
    def alices_or_why_not():
        usage = deployment.server_usage()
        return usage if isinstance(usage, str) or f"server:{alice.name}" in usage else None

    servers = wait_until(f"{alice.name}'s server in the metrics", alices_or_why_not, METRICS_TIMEOUT)
    hub_and_proxy = deployment.component_usage()
    unread = next((u for u in (hub_and_proxy, servers) if isinstance(u, str)), None)
    usage = unread or {**hub_and_proxy, **servers}
    record_json(request, "ops.json", resources=daytwo.resources_json(usage, limits, deployment.usage_source))
    if unread and any(f"metrics API answered {code}" in unread for code in (404, 503)):
        pytest.skip(f"memory not measured: {unread}")  # a cluster without metrics-server
    assert unread is None, f"memory not measured: {unread}"
    assert any(name.startswith("server:") for name in usage), "no user server's memory could be measured"
    over = daytwo.over_memory_limit(usage, limits)
    assert not over, "; ".join(over)
    note(", ".join(f"{name} {daytwo.mib(u.memory_bytes)}" for name, u in sorted(usage.items())))
