"""How each check is proven able to fail on kubernetes: the bookkeeping of the project's
emulated cluster (tests/kube_emulator.py), which only the tests need. The product's own
knowledge of a cluster (which faults it does, and how) is hubharness.targets.kube's."""

from __future__ import annotations

from hubharness.checks import CATALOGUE, PUBLISHED, SPARK_CLUSTER, Check
from hubharness.targets.local import LocalTarget

# On kubernetes every check is proven able to fail in one of three ways. Where its fault can
# be done on a cluster, the project's tests run `invoke selftest --context emulated` for it
# (tests/test_kube_selftest.py): the fault is done by the product, as on a real cluster.
#
# The checks the API server alone can prove; the project's tests also break an emulated API
# server in the way named here (and others), and see `invoke verify` fail each by name
# (tests/test_kube_faults.py).
KUBE_FAULTS = {
    "NS.namespace_exists": "namespace-terminating",
    "NS.state_is_isolated": "foreign-pod-in-namespace",
    "SEC.secret_holds_the_password": "secret-without-key",
    "SEC.secret_is_private": "user-pod-mounts-the-secret",
    "SEC.hub_reads_password_from_secret": "secret-rotated-behind-hub",
    "SEC.password_is_not_a_published_one": "published-password",
    "SEC.secrets_appear_nowhere_else": "password-in-hub-log",
    "RDY.component_is_ready[hub]": "hub-in-crash-loop",
    "RDY.component_is_ready[proxy]": "proxy-not-ready",
    "RDY.image_puller_has_the_notebook_image_on_every_node": "image-puller-pull-backoff",
    "PRX.ingress_routes_its_host_to_proxy_public": "ingress-points-elsewhere",
    "SPK.native_driver_may_manage_executor_pods": "spark-driver-role-missing",
    "SPK.native_executors_may_reach_the_driver": "driver-ports-closed",
}

# The checks that need a hub to answer: a real JupyterHub (the local target's, on 127.0.0.1)
# serves each emulated namespace, its Secrets are the cluster's, its server processes are the
# cluster's user pods. A fault that cannot be done on a cluster (to local processes or files)
# is done to that hub as on local (tests/test_kube_hub_faults.py).
KUBE_HUB_CHECKS = (
    "SEC.hub_reads_admin_password_from_secret",
    *(f"SEC.no_fallback_password_logs_in[{p}]" for p in PUBLISHED),
    "SEC.user_servers_do_not_inherit_hub_secrets",
    "SEC.user_homes_hold_no_hub_secret",
    "RDY.hub_health_answers_through_the_proxy",
    "RDY.hub_runs_the_charts_jupyterhub",
    "AUTH.right_password_logs_in",
    "AUTH.wrong_password_is_refused[wrong]",
    "AUTH.wrong_password_is_refused[empty]",
    "AUTH.login_without_xsrf_is_refused",
    "AUTH.admin_reaches_admin_page",
    "AUTH.non_admin_is_kept_from_admin_page",
    "AUTH.user_password_does_not_make_an_admin",
    "AUTH.admin_password_is_refused_for_a_non_admin",
    "AUTH.user_cannot_reach_another_users_server",
    "AUTH.non_admin_holds_only_its_own_scopes",
    "AUTH.non_admin_cannot_list_users",
    "AUTH.non_admin_cannot_create_a_user",
    "AUTH.non_admin_cannot_start_another_users_server",
    "AUTH.non_admin_cannot_stop_another_users_server",
    "AUTH.non_admin_cannot_read_another_users_tokens",
    "AUTH.non_admin_cannot_shut_the_hub_down",
    "AUTH.browser_with_wrong_password_stays_out",
    "AUTH.browser_logs_in_to_jupyterlab",
    "PRX.root_redirects_into_the_hub",
    "PRX.login_page_is_served",
    "PRX.user_route_appears_after_spawn",
    "PRX.user_route_goes_after_stop",
    "ADM.users_are_listed",
    "ADM.active_sessions_are_listed",
    "ADM.server_stops_through_the_api",
    "SPK.server_spawns_through_the_hub",
    "SPK.kernel_runs_code_over_the_proxy",
    "SPK.pyspark_is_the_expected_version",
    "SPK.servers_pyspark_python_imports_the_expected_pyspark",
    "SPK.spark_job_gives_the_known_answer",
    "SPK.csv_aggregate_to_pandas",
    "SPK.ml_pipeline_trains_with_a_good_auc",
    "SPK.json_aggregate_written_as_csv",
    "RES.servers_survive_a_hub_restart",
    "RES.kernels_keep_their_state_across_a_hub_restart",
    "RES.users_stay_logged_in_across_a_hub_restart",
    "RES.routes_come_back_after_a_proxy_restart",
    "RES.a_dead_server_is_noticed_and_starts_again_with_its_home",
    "RES.a_rotated_password_is_the_only_one_that_logs_in",
    "RES.a_password_rotation_keeps_users_servers",
    "UPG.users_and_admin_flags_survive_an_upgrade",
    "UPG.users_stay_logged_in_across_an_upgrade",
    "UPG.a_running_server_survives_an_upgrade_or_starts_again_with_its_files",
    "LOAD.users_complete_the_journey",
    "LOAD.p95_spawn_within_bound",
    "OPS.no_home_is_fuller_than_the_bound",
    "OPS.no_component_uses_more_memory_than_its_limit",
    *(c.id for c in CATALOGUE if c.group in ("BAK", "RMV")),
    *(c.id for c in CATALOGUE if c.needs == SPARK_CLUSTER),  # KUBE_SPARK_CLUSTER below
)

# The Spark standalone cluster's checks: besides the hub, real Spark master and workers (local
# processes from pyspark's jars, started by the local deploy behind the emulated namespace)
# answer for its spark-master and spark-worker pods; the kube target reads them through the
# emulated API server's proxy and exec, as on a cluster.
KUBE_SPARK_CLUSTER = tuple(c.id for c in CATALOGUE if c.needs == SPARK_CLUSTER)

# The rest are not proven on the emulated cluster, each for the reason given: they are proven
# able to fail on local (`invoke selftest`) where they apply there, and run for real on kind
# by the nightly workflow (`invoke selftest --context kind` too, where a cluster fault exists:
# it is the only proof of native Spark's checks of executor pods).
KUBE_NOT_EMULATED = {
    "PRX.route_table_holds_the_hub_route": "it needs the hub behind its Service (the proxy's / goes to "
    "http://hub:8081)",
    **{
        f"SPK.spark_python_is_set_and_is_the_kernels[{name}]": "it needs the notebook image's own paths "
        "(/opt/conda/bin/python) in a user pod; a hub on this machine runs its servers' python from the "
        "harness's virtualenv"
        for name in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")
    },
    **{
        check: "it needs Spark on Kubernetes for real: executor pods started from the notebook image by a driver "
        "in a user pod; pip's pyspark ships no Kubernetes resource manager and this machine runs no containers, "
        "so neither local nor the emulated cluster can make an executor pod (verify and `invoke selftest "
        "--context kind` run it on kind in the nightly, with the real image)"
        for check in (
            "SPK.native_job_runs_on_two_executor_pods",
            "SPK.native_executor_pods_are_owned_by_the_driver",
            "SPK.native_no_executor_pod_left_after_stop",
        )
    },
}


def kube_proof(check: Check) -> str:
    """How the check is proven able to fail on kubernetes (see above)."""
    if check.id in KUBE_FAULTS:
        return (
            "`invoke selftest --context emulated`, and an emulated API server broken as a cluster breaks "
            "(tests/test_kube_selftest.py, tests/test_kube_faults.py)"
        )
    if check.id in KUBE_SPARK_CLUSTER:
        return (
            "a real hub and real Spark master and workers serving an emulated cluster: `invoke selftest "
            "--context emulated` (tests/test_kube_selftest.py); the cluster's pods, on kind nightly"
        )
    if check.id in KUBE_HUB_CHECKS:
        return (
            "a real hub serving an emulated cluster: `invoke selftest --context emulated` where its fault can "
            "be done on a cluster, else that fault done to the hub (tests/test_kube_selftest.py, "
            "tests/test_kube_hub_faults.py)"
        )
    why = KUBE_NOT_EMULATED.get(check.id) or KUBE_NOT_EMULATED[check.group]
    if LocalTarget.why_not_applicable(check):
        return f"verify and `invoke selftest --context kind` on kind nightly; not on the emulated cluster: {why}"
    return f"`invoke selftest` on local, verify on kind nightly; not on the emulated cluster: {why}"
