"""The catalogue seen from outside: which checks a hub reached only by its URL allows,
what each needs of the credentials, why the others need the machine or the cluster, and
the faults selftest does instead where a check's own hides from outside."""

from __future__ import annotations

from ...checks import ADMIN, ADMIN_PASSWORD, CATALOGUE, PASSWORD, PUBLISHED, USERS

__all__ = ["ADMIN", "ADMIN_PASSWORD", "CREDENTIALS", "FROM_OUTSIDE", "INSTEAD", "NOT_FROM_OUTSIDE", "PASSWORD", "USERS"]

# A hub reached only by its URL (context remote): the credentials each check needs beyond
# HTTP(S) to the hub and its users' servers. verify's users log in with the password, or are
# made with their tokens by the admin credential where there is none. Every other check needs
# the machine or the cluster the hub runs on (NOT_FROM_OUTSIDE says why).
CREDENTIALS = {
    USERS: "HUBHARNESS_PASSWORD or an admin credential (verify's users log in or are made)",
    PASSWORD: "HUBHARNESS_PASSWORD",
    ADMIN: "HUBHARNESS_API_TOKEN (a token with admin scopes), or an admin's password",
    ADMIN_PASSWORD: "HUBHARNESS_ADMIN_USER and HUBHARNESS_ADMIN_PASSWORD",
}
_NONE: frozenset[str] = frozenset()
FROM_OUTSIDE: dict[str, frozenset[str]] = {
    "RDY.hub_health_answers_through_the_proxy": _NONE,
    **{c.id: _NONE for c in CATALOGUE if c.group == "TLS"},
    **dict.fromkeys(
        (
            "AUTH.right_password_logs_in",
            "AUTH.wrong_password_is_refused[wrong]",
            "AUTH.wrong_password_is_refused[empty]",
            "AUTH.login_without_xsrf_is_refused",
            "AUTH.non_admin_is_kept_from_admin_page",
            "AUTH.browser_with_wrong_password_stays_out",
            "AUTH.browser_logs_in_to_jupyterlab",
            "PRX.login_page_is_served",
            "SEC.password_is_not_a_published_one",
            *(f"SEC.no_fallback_password_logs_in[{p}]" for p in PUBLISHED),
        ),
        frozenset({PASSWORD}),
    ),
    "AUTH.admin_reaches_admin_page": frozenset({ADMIN_PASSWORD}),
    "AUTH.admin_password_is_refused_for_a_non_admin": frozenset({ADMIN_PASSWORD}),
    "AUTH.user_password_does_not_make_an_admin": frozenset({PASSWORD, ADMIN_PASSWORD}),
    "AUTH.user_cannot_reach_another_users_server": frozenset({USERS}),
    **{c.id: frozenset({PASSWORD, ADMIN}) for c in CATALOGUE if c.id.startswith("AUTH.non_admin_cannot")},
    "AUTH.non_admin_holds_only_its_own_scopes": frozenset({PASSWORD, ADMIN}),
    "PRX.root_redirects_into_the_hub": _NONE,
    "PRX.user_route_appears_after_spawn": frozenset({ADMIN}),
    "PRX.user_route_goes_after_stop": frozenset({ADMIN}),
    **{c.id: frozenset({ADMIN}) for c in CATALOGUE if c.group == "ADM"},
    **dict.fromkeys(
        (
            "SPK.server_spawns_through_the_hub",
            "SPK.kernel_runs_code_over_the_proxy",
            "SPK.spark_job_gives_the_known_answer",
            "SPK.csv_aggregate_to_pandas",
            "SPK.ml_pipeline_trains_with_a_good_auc",
            "SPK.json_aggregate_written_as_csv",
        ),
        frozenset({USERS}),
    ),
}
# Why the rest cannot be observed from outside, by group (a check's own id first).
NOT_FROM_OUTSIDE = {
    "NS": "a namespace and its state are the cluster's or the machine's, not visible through the hub's URL",
    "SEC": "the Secret, the hub's configuration, logs and processes, and users' environments and homes are "
    "on the machine or cluster the hub runs on",
    "RDY.component_is_ready[hub]": "processes and pods, their readiness and restarts, are not visible from outside",
    "RDY.component_is_ready[proxy]": "processes and pods, their readiness and restarts, are not visible from outside",
    "RDY.image_puller_has_the_notebook_image_on_every_node": "nodes and DaemonSets are the cluster's",
    "RDY.hub_runs_the_charts_jupyterhub": "the chart a hub was deployed with is not known from outside (its "
    "JupyterHub version is in the report)",
    "PRX.ingress_routes_its_host_to_proxy_public": "the Ingress object is the cluster's",
    "PRX.route_table_holds_the_hub_route": "the hub's internal address is not known from outside",
    "SPK": "it compares the servers with the deployment's values or reads a server's processes, which a hub "
    "reached by its URL does not give",
    "RES": "it restarts the hub, the proxy or a user's server, which only whoever runs the hub may do",
    "UPG": "it upgrades the deployment, which only whoever deployed it may do",
    "BAK": "it backs up, purges and restores the deployment, which only whoever runs it may do",
    "RMV": "it removes the deployment, which only whoever runs it may do",
    "LOAD": "a load is not run against somebody's production hub by a verify (invoke load is a command of its own)",
    "OPS": "homes and the components' memory are read on the machine or the cluster",
}


# Where a check's own fault hides from a hub reached by its URL, the fault `invoke selftest
# --context remote` does instead: a server left running behind a removed route is not seen
# from outside, one still routed is; the admin credential is an admin's, not the harness's
# role that the own fault narrows.
INSTEAD = {
    "ADM.server_stops_through_the_api": "stopped-server-still-answers",
    "ADM.users_are_listed": "user-list-hides-users",
    "ADM.active_sessions_are_listed": "user-list-hides-users",
}
