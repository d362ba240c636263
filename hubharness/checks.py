"""The check catalogue: every conformance check, what it guards, where it applies, and
the fault that breaks it.

It is the one list of checks. verify orders and selects by it (`--check`), refuses a
suite check that is not in it, and leaves out checks that do not apply to the target or
to the authenticator the hub says it runs;
`invoke selftest` applies each check's fault and expects verify to fail that check.
A check id is what summary.json records: `<GROUP>.<test name without test_>[param]`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import HarnessError

LOCAL, KUBE, REMOTE = "local", "kube", "remote"
EVERYWHERE = (LOCAL, KUBE)

# The checklist ids, in run order: AUTH uses bob's server before PRX and ADM stop it;
# the stop overlaps the Spark cells that SPK then collects. LOAD comes last: its users'
# spawns would slow every check still running, and its figures should be the hub's
# under the load alone (the scratch work of BAK and RMV is done by then). OPS reads the
# day-2 figures once the rest has run.
GROUPS = {
    "NS": "the namespace exists and its state is isolated",
    "SEC": "the password lives in a Secret, reaches the hub from it, and nowhere else",
    "RDY": "hub and proxy are up, Ready, never restarted, and the chart's JupyterHub",
    "TLS": "a hub reached by its https URL: a certificate for its host, a chain that verifies, "
    "far from expiry; plain http redirects to https",
    "AUTH": "the shared password logs in (HTTP and a browser), nothing else does; non-admins hold no admin power",
    "PRX": "proxy-public serves the hub; routes follow spawns and stops",
    "ADM": "admins list users and sessions and stop servers through the API",
    "SPK": "a spawned server runs PySpark: version, environment, real jobs",
    "RES": "hub, proxy and user servers survive restarts and deaths, as pods do",
    "UPG": "an upgrade from the previous chart keeps users, admins, logins, servers and files",
    "BAK": "backup, purge, deploy, restore gives back every user and byte",
    "RMV": "remove keeps user data; purge leaves nothing",
    "LOAD": "simulated users log in, spawn, run a kernel and stop, within the thresholds",
    "OPS": "day-2 figures: users' homes below the bound of their capacity, memory within the limits",
}
CHECK_ORDER = tuple(GROUPS)
# The order verify runs the groups in: the checklist's, except that the groups which read
# what a scenario saw in the background (their scratch namespaces start with the session)
# come last, so that the foreground work (LOAD's journeys) overlaps those scenarios
# instead of waiting for them to end.
READ_FROM_BACKGROUND = ("RES", "UPG", "BAK", "RMV")
RUN_ORDER = tuple(g for g in CHECK_ORDER if g not in READ_FROM_BACKGROUND) + READ_FROM_BACKGROUND


@dataclass(frozen=True)
class Check:
    id: str
    guards: str
    fault: str  # the name of a fault in hubharness.faults
    targets: tuple[str, ...] = EVERYWHERE
    # Where it applies only to a hub running this authenticator (hubharness.authenticators:
    # "shared-password"): verify leaves it out when the hub says it runs another.
    authenticator: str = ""
    # What the deployment must have for it to apply (SPARK_CLUSTER, SPARK_NATIVE): verify leaves it out of
    # a deployment without, selftest proves it on one deployed with NEEDS_VALUES over the user's.
    needs: str = ""

    @property
    def group(self) -> str:
        return self.id.split(".", 1)[0]

    def applies_to(self, context: str) -> bool:
        kind = target_kind(context)
        if kind == REMOTE:
            return self.id in FROM_OUTSIDE
        return kind in self.targets


def _c(id: str, guards: str, fault: str, targets: tuple[str, ...] = EVERYWHERE, authenticator: str = "") -> Check:
    return Check(id, guards, fault, targets, authenticator)


SHARED_PASSWORD = "shared-password"  # hubharness.authenticators.SHARED
SPARK_CLUSTER = "spark-cluster"
SPARK_NATIVE = "spark-native"
# in values/: what gives a deployment what a check needs
NEEDS_VALUES = {SPARK_CLUSTER: "spark-cluster.yaml", SPARK_NATIVE: "spark-native.yaml"}


def _cluster(id: str, guards: str, fault: str) -> Check:
    """A check of the Spark standalone cluster deployed beside the hub (processes on local,
    pods on kubernetes)."""
    return Check(id, guards, fault, EVERYWHERE, needs=SPARK_CLUSTER)


def _native(id: str, guards: str, fault: str) -> Check:
    """A check of the seed's native mode (values/spark-native.yaml): executors as pods the
    notebook's driver makes through the Kubernetes API, on kubernetes only."""
    return Check(id, guards, fault, (KUBE,), needs=SPARK_NATIVE)


PUBLISHED = ("fallback-password", "SecretPassword2", "password", "admin", "jupyter")

CATALOGUE: tuple[Check, ...] = (
    # NS
    _c(
        "NS.namespace_exists",
        "the namespace is there and Active (local: the state folder is the namespace, "
        "which verify needs to start at all)",
        "namespace-terminating",
        (KUBE,),
    ),
    _c(
        "NS.state_is_isolated",
        "state private (0700), no port or process shared with another namespace",
        "state-world-readable",
    ),
    # SEC
    _c("SEC.secret_holds_the_password", "the Secret has the JUPYTERHUB_AUTH_PASSWORD key", "secret-without-key"),
    _c(
        "SEC.secret_is_private",
        "only its owner (local: mode 0600) or the hub (kubernetes) reads the Secret",
        "secret-world-readable",
    ),
    _c("SEC.hub_reads_password_from_secret", "the running hub's password is the Secret's", "secret-rotated-behind-hub"),
    _c(
        "SEC.hub_reads_admin_password_from_secret",
        "the running hub's admin password is the Secret's (SharedPasswordAuthenticator)",
        "admin-password-rotated-behind-hub",
        authenticator=SHARED_PASSWORD,
    ),
    _c(
        "SEC.password_is_not_a_published_one",
        "the Secret does not hold a password published in docs",
        "published-password",
    ),
    *(
        _c(
            f"SEC.no_fallback_password_logs_in[{p}]",
            f"the published password {p!r} does not open the hub",
            "backdoor-passwords",
        )
        for p in PUBLISHED
    ),
    _c(
        "SEC.secrets_appear_nowhere_else",
        "no secret value in values, config, logs or command lines",
        "password-in-hub-log",
    ),
    _c(
        "SEC.user_servers_do_not_inherit_hub_secrets",
        "no hub secret, by name or value, in a user's server",
        "user-servers-inherit-secret",
    ),
    _c("SEC.user_homes_hold_no_hub_secret", "no hub secret in any file of a user's home", "credentials-file-in-homes"),
    # RDY
    _c(
        "RDY.component_is_ready[hub]",
        "the hub runs, answers its health check and never restarted (local: its supervisor counts restarts)",
        "hub-crashed-and-restarted",
    ),
    _c("RDY.component_is_ready[proxy]", "the proxy runs and answers its health check", "proxy-killed"),
    _c(
        "RDY.image_puller_has_the_notebook_image_on_every_node",
        "with prePuller.continuous.enabled, the continuous-image-puller pod is Ready on every node user pods "
        "may land on and the node has the notebook image; a pull back-off is named with its image",
        "image-puller-pull-backoff",
        (KUBE,),
    ),
    _c("RDY.hub_health_answers_through_the_proxy", "/hub/health answers 200 through proxy-public", "hub-hangs"),
    _c(
        "RDY.hub_runs_the_charts_jupyterhub", "the hub is the JupyterHub the deployed chart ships", "hub-not-the-charts"
    ),
    # TLS
    _c(
        "TLS.certificate_chain_verifies",
        "the hub's certificate chain verifies against the trusted CAs (the system's, or HUBHARNESS_CA_BUNDLE)",
        "tls-untrusted-chain",
        (REMOTE,),
    ),
    _c("TLS.certificate_names_the_host", "the certificate's names include the URL's host", "tls-wrong-host", (REMOTE,)),
    _c(
        "TLS.certificate_is_far_from_expiry",
        "the certificate is valid for at least HUBHARNESS_TLS_MIN_DAYS more days (14); its days left are reported",
        "tls-expired",
        (REMOTE,),
    ),
    _c(
        "TLS.plain_http_redirects_to_https",
        "a plain-http request for the hub is redirected to its https URL, never served in clear",
        "tls-http-served-in-clear",
        (REMOTE,),
    ),
    # AUTH
    _c("AUTH.right_password_logs_in", "the Secret's password logs in through the form", "secret-rotated-behind-hub"),
    _c("AUTH.wrong_password_is_refused[wrong]", "a wrong password gets the hub's 403", "any-password-logs-in"),
    _c("AUTH.wrong_password_is_refused[empty]", "an empty password gets the hub's 403", "any-password-logs-in"),
    _c("AUTH.login_without_xsrf_is_refused", "a login form without its _xsrf token gets 403", "xsrf-not-enforced"),
    _c("AUTH.admin_reaches_admin_page", "an admin user exists and reaches /hub/admin", "no-admin-user"),
    _c("AUTH.non_admin_is_kept_from_admin_page", "a non-admin gets 403 on /hub/admin", "everyone-admin"),
    _c(
        "AUTH.user_password_does_not_make_an_admin",
        "the admin user with the user password gets the hub's 403; a user who logs in with it is no admin",
        "user-password-logs-admins-in",
        authenticator=SHARED_PASSWORD,
    ),
    _c(
        "AUTH.admin_password_is_refused_for_a_non_admin",
        "a non-admin user with the admin password gets the hub's 403",
        "admin-password-opens-a-group",
        authenticator=SHARED_PASSWORD,
    ),
    _c(
        "AUTH.user_cannot_reach_another_users_server",
        "alice gets 403 on bob's server, bob gets in",
        "servers-open-to-all-users",
    ),
    _c(
        "AUTH.non_admin_holds_only_its_own_scopes",
        "the scopes a non-admin's token and session hold are each filtered to the user (reported)",
        "users-may-read-every-user",
    ),
    _c(
        "AUTH.non_admin_cannot_list_users",
        "a non-admin's token gets 403 on GET /hub/api/users",
        "users-may-administer-users",
    ),
    _c(
        "AUTH.non_admin_cannot_create_a_user",
        "a non-admin's token gets 403 on POST /hub/api/users/<new>",
        "users-may-administer-users",
    ),
    _c(
        "AUTH.non_admin_cannot_start_another_users_server",
        "a non-admin's token gets the hub's 404 on POST /hub/api/users/<other>/server",
        "users-may-administer-servers",
    ),
    _c(
        "AUTH.non_admin_cannot_stop_another_users_server",
        "a non-admin's token gets the hub's 404 on DELETE /hub/api/users/<other>/server",
        "users-may-administer-servers",
    ),
    _c(
        "AUTH.non_admin_cannot_read_another_users_tokens",
        "a non-admin's token gets the hub's 404 on GET /hub/api/users/<other>/tokens",
        "users-may-manage-every-token",
    ),
    _c(
        "AUTH.non_admin_cannot_shut_the_hub_down",
        "a non-admin's token holds no shutdown scope and gets 403 on POST /hub/api/shutdown",
        "users-may-shut-the-hub-down",
    ),
    _c(
        "AUTH.browser_with_wrong_password_stays_out",
        "a real browser with a wrong password stays on the login page",
        "any-password-logs-in",
    ),
    _c(
        "AUTH.browser_logs_in_to_jupyterlab",
        "a real browser logs in and JupyterLab renders",
        "jupyterlab-cannot-render",
    ),
    # PRX
    _c("PRX.root_redirects_into_the_hub", "/ on proxy-public redirects into /hub/", "hub-route-hijacked"),
    _c("PRX.login_page_is_served", "/hub/login on proxy-public serves the login form", "hub-route-hijacked"),
    _c(
        "PRX.ingress_routes_its_host_to_proxy_public",
        "a request for the ingress host reaches proxy-public",
        "ingress-points-elsewhere",
        (KUBE,),
    ),
    _c("PRX.route_table_holds_the_hub_route", "the proxy routes / to the hub's address", "hub-route-hijacked"),
    _c("PRX.user_route_appears_after_spawn", "a spawned server gets its route", "proxy-forgets-user-routes"),
    _c(
        "PRX.user_route_goes_after_stop",
        "a stopped server's route goes and its URL no longer reaches it",
        "proxy-keeps-stopped-routes",
    ),
    # ADM
    _c("ADM.users_are_listed", "/hub/api/users lists verify's users", "users-hidden-from-harness"),
    _c(
        "ADM.active_sessions_are_listed",
        "a user with a running server is listed as active",
        "users-hidden-from-harness",
    ),
    _c(
        "ADM.server_stops_through_the_api",
        "DELETE …/server stops the server, and its process goes",
        "spawner-leaves-servers-running",
    ),
    # SPK
    _c("SPK.server_spawns_through_the_hub", "a user server spawns and becomes ready", "spawn-fails"),
    _c("SPK.kernel_runs_code_over_the_proxy", "a kernel runs code over the proxy's websocket", "kernel-broken"),
    _c("SPK.pyspark_is_the_expected_version", "the notebook's pyspark is the image tag's Spark", "wrong-pyspark"),
    _c(
        "SPK.spark_python_is_set_and_is_the_kernels[PYSPARK_PYTHON]",
        "PYSPARK_PYTHON set, runnable, the kernel's",
        "image-python-paths",
    ),
    _c(
        "SPK.spark_python_is_set_and_is_the_kernels[PYSPARK_DRIVER_PYTHON]",
        "PYSPARK_DRIVER_PYTHON set, runnable, the kernel's",
        "image-python-paths",
    ),
    _c(
        "SPK.servers_pyspark_python_imports_the_expected_pyspark",
        "in the server's environment $PYSPARK_PYTHON imports that pyspark and Java runs",
        "wrong-pyspark",
    ),
    _c(
        "SPK.spark_job_gives_the_known_answer",
        "a Spark job with Python workers gives 500500 and 328350",
        "image-python-paths",
    ),
    _c("SPK.csv_aggregate_to_pandas", "the seed's CSV → aggregate → pandas workload", "numpy-broken"),
    _c("SPK.ml_pipeline_trains_with_a_good_auc", "the seed's Spark ML pipeline reaches AUC > 0.9", "numpy-broken"),
    _c("SPK.json_aggregate_written_as_csv", "the seed's JSON aggregate is written as one CSV", "spark-splits-output"),
    _cluster(
        "SPK.spark_cluster_has_every_worker",
        "the Spark master is ALIVE with every worker registered, with the cores and memory the values give",
        "spark-worker-down",
    ),
    _cluster(
        "SPK.spark_job_runs_on_executors_of_two_workers",
        "a notebook's job runs its tasks on executors of at least two workers (Spark's own account) "
        "and gives the known answer",
        "spark-worker-down",
    ),
    _cluster(
        "SPK.executors_run_the_notebooks_python",
        "the executors' Python is the notebook's and imports the same pyspark",
        "image-python-paths",
    ),
    _cluster(
        "SPK.two_users_run_spark_at_once",
        "a second user's application gets executors while the first holds its own, and finishes in time",
        "spark-apps-take-every-core",
    ),
    _cluster(
        "SPK.no_executor_is_left_after_stop",
        "after spark.stop() and after the user's server stops, no executor of theirs runs",
        "spark-stop-does-nothing",
    ),
    _native(
        "SPK.native_driver_may_manage_executor_pods",
        "the API server lets the user pods' service account create, list and delete pods in the namespace "
        "(a SubjectAccessReview)",
        "spark-driver-role-missing",
    ),
    _native(
        "SPK.native_executors_may_reach_the_driver",
        "the namespace's NetworkPolicies let an executor pod reach a user's pod on the driver's and block "
        "manager's ports",
        "driver-ports-closed",
    ),
    _native(
        "SPK.native_job_runs_on_two_executor_pods",
        "a notebook's job runs its tasks on at least two executor pods (Spark's account, the pods' addresses) "
        "and gives the known answer",
        "one-executor-pod",
    ),
    _native(
        "SPK.native_executor_pods_are_owned_by_the_driver",
        "every executor pod has the user's server pod as its owner (it goes with it)",
        "executors-without-owner",
    ),
    _native(
        "SPK.native_no_executor_pod_left_after_stop",
        "after spark.stop() and after the user's server stops, no executor pod of theirs is left",
        "executor-pods-kept",
    ),
    # RES
    _c(
        "RES.servers_survive_a_hub_restart",
        "the hub, stopped as a pod deletion stops it, comes back by itself and keeps users' servers",
        "hub-stops-servers-when-it-stops",
    ),
    _c(
        "RES.kernels_keep_their_state_across_a_hub_restart",
        "a variable set in a kernel is still there after the hub's restart",
        "hub-stops-servers-when-it-stops",
    ),
    _c(
        "RES.users_stay_logged_in_across_a_hub_restart",
        "a user's login session still opens the hub after its restart",
        "cookie-secret-changes-on-restart",
    ),
    _c(
        "RES.routes_come_back_after_a_proxy_restart",
        "after the proxy's restart the hub puts users' routes back within its check interval",
        "hub-never-checks-routes",
    ),
    _c(
        "RES.a_dead_server_is_noticed_and_starts_again_with_its_home",
        "the hub notices a server killed behind its back; it starts again with the user's files",
        "hub-never-polls-servers",
    ),
    _c(
        "RES.a_rotated_password_is_the_only_one_that_logs_in",
        "after rotate-password the login form refuses the old password and lets the new one in",
        "rotation-restarts-nothing",
    ),
    _c(
        "RES.a_password_rotation_keeps_users_servers",
        "a user's server runs on through rotate-password, the same one",
        "rotation-stops-servers",
    ),
    # UPG
    _c(
        "UPG.users_and_admin_flags_survive_an_upgrade",
        "after an upgrade from the previous chart the hub has the same users and admins, on a whole database",
        "database-in-memory",
    ),
    _c(
        "UPG.users_stay_logged_in_across_an_upgrade",
        "a user's login session still opens the hub after the upgrade",
        "cookie-secret-changes-on-restart",
    ),
    _c(
        "UPG.a_running_server_survives_an_upgrade_or_starts_again_with_its_files",
        "a user's server is kept with its kernel's state, or starts again cleanly; their file is byte for byte",
        "database-in-memory",
    ),
    # BAK
    _c(
        "BAK.archive_manifest_has_checksums_and_versions",
        "every archived file matches its manifest checksum; versions recorded; its database is whole",
        "backup-lies-about-checksums",
    ),
    _c("BAK.archive_holds_no_secret", "no secret value in any archived file", "password-written-in-values"),
    _c("BAK.user_records_come_back", "users and their records are back after purge and restore", "database-in-memory"),
    _c(
        "BAK.restored_database_passes_integrity_check",
        "the restored hub's database passes integrity_check, read from outside restore",
        "restore-corrupts-database",
    ),
    _c("BAK.files_come_back_byte_for_byte", "users' files are back byte for byte", "backup-tears-files"),
    _c(
        "BAK.file_written_during_backup_comes_back_whole",
        "a file being saved is archived as one whole version",
        "backup-tears-files",
    ),
    _c(
        "BAK.corrupted_archive_is_refused_untouched",
        "a corrupted archive is refused and nothing changes",
        "restore-skips-archive-check",
    ),
    # RMV
    _c(
        "RMV.remove_keeps_user_data",
        "remove keeps homes and database and leaves nothing running",
        "remove-deletes-homes",
    ),
    _c("RMV.remove_twice_is_harmless", "a second remove succeeds and still keeps the data", "remove-twice-fails"),
    _c("RMV.purge_leaves_nothing", "purge leaves no state, process or listener", "purge-keeps-state"),
    _c(
        "RMV.removing_what_is_not_deployed_says_so",
        "removing nothing says 'nothing deployed'",
        "remove-quiet-when-nothing-deployed",
    ),
    # LOAD
    _c(
        "LOAD.users_complete_the_journey",
        "every simulated user logs in, spawns, gets a kernel's known answer and stops (--max-failures)",
        "spawner-fails-every-third-spawn",
    ),
    _c(
        "LOAD.p95_spawn_within_bound",
        "the 95th percentile spawn of the simulated users is within its bound (--max-p95-spawn)",
        "spawns-slower-than-the-bound",
    ),
    # OPS
    _c(
        "OPS.no_home_is_fuller_than_the_bound",
        "no user's home holds more than custom.hubharness.storage.maxPercent (90%) of its capacity "
        "(singleuser.storage.capacity; the claim's on kubernetes)",
        "homes-filled-past-capacity",
    ),
    _c(
        "OPS.no_component_uses_more_memory_than_its_limit",
        "hub, proxy and users' servers use less memory than the values' limits (processes on local, "
        "the metrics API on kubernetes)",
        "server-memory-limit-below-use",
    ),
)

BY_ID = {check.id: check for check in CATALOGUE}

# A hub reached only by its URL (context remote): the credentials each check needs beyond
# HTTP(S) to the hub and its users' servers. verify's users log in with the password, or are
# made with their tokens by the admin credential where there is none. Every other check needs
# the machine or the cluster the hub runs on (NOT_FROM_OUTSIDE says why).
PASSWORD = "password"  # HUBHARNESS_PASSWORD: the hub has a login form, and users' password
ADMIN = "admin"  # an API token with admin scopes (given, or an admin's after logging in)
ADMIN_PASSWORD = "admin-password"  # HUBHARNESS_ADMIN_USER and HUBHARNESS_ADMIN_PASSWORD: an admin logs in
USERS = "users"  # verify's own users: with the password, or made by the admin credential
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

# `invoke verify --smoke`: can a user log in, reach their server and run Spark, and is the
# secret safe. The rest of the catalogue stays for the full verify (CI and the nightly).
SMOKE = (
    "SEC.secret_holds_the_password",
    "SEC.secret_is_private",
    "SEC.hub_reads_password_from_secret",
    "SEC.secrets_appear_nowhere_else",
    "RDY.hub_health_answers_through_the_proxy",
    "AUTH.right_password_logs_in",
    "AUTH.wrong_password_is_refused[wrong]",
    "SPK.server_spawns_through_the_hub",
    "SPK.kernel_runs_code_over_the_proxy",
    "SPK.spark_job_gives_the_known_answer",
)

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


# Where a check's own fault is done to local files or processes, the fault `invoke selftest
# --context <kube context>` does on a cluster instead (hubharness.faults, through the API).
FAULT_ON_KUBE = {
    "NS.state_is_isolated": "foreign-pod-in-namespace",
    "SEC.secret_is_private": "user-pod-mounts-the-secret",
    "SEC.secrets_appear_nowhere_else": "password-in-an-event",
    "RDY.component_is_ready[hub]": "hub-container-restarted",
    "RDY.component_is_ready[proxy]": "proxy-container-restarted",
    "RDY.hub_runs_the_charts_jupyterhub": "release-records-another-chart",
}


# Where a check's own fault hides from a hub reached by its URL, the fault `invoke selftest
# --context remote` does instead: a server left running behind a removed route is not seen
# from outside, one still routed is; the admin credential is an admin's, not the harness's
# role that the own fault narrows.
FAULT_ON_REMOTE = {
    "ADM.server_stops_through_the_api": "stopped-server-still-answers",
    "ADM.users_are_listed": "user-list-hides-users",
    "ADM.active_sessions_are_listed": "user-list-hides-users",
}


def fault_of(check: Check, context: str) -> str:
    """The name of the fault selftest does to break this check on this context."""
    other = {KUBE: FAULT_ON_KUBE, REMOTE: FAULT_ON_REMOTE}.get(target_kind(context), {})
    return other.get(check.id, check.fault)


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
    if LOCAL not in check.targets:
        return f"verify and `invoke selftest --context kind` on kind nightly; not on the emulated cluster: {why}"
    return f"`invoke selftest` on local, verify on kind nightly; not on the emulated cluster: {why}"


def not_on_local(check: Check) -> str:
    """Why a kubernetes-only check is not proven by `invoke selftest` on local; "" for one that
    applies there, or one that only means something on a cluster (a namespace object)."""
    if LOCAL in check.targets or check.needs != SPARK_NATIVE:
        return ""
    return (
        "it applies to kubernetes only: native mode runs Spark's executors as pods, and the local target "
        "refuses it (pip's pyspark ships no Kubernetes resource manager); " + kube_proof(check)
    )


def target_kind(context: str) -> str:
    return {"local": LOCAL, "remote": REMOTE}.get(context, KUBE)


def for_credentials(checks: list[Check], context: str, held: set[str] | None) -> list[Check]:
    """On a hub reached by its URL, the checks the credentials at hand allow; all of them
    elsewhere, or when it is not known (None)."""
    if target_kind(context) != REMOTE or held is None:
        return checks
    return [c for c in checks if FROM_OUTSIDE[c.id] <= held]


def not_applicable(context: str, held: set[str] | None = None) -> list[dict[str, str]]:
    """Every check of the catalogue that does not apply here, with why: for the report,
    which lists them as not applicable (neither skipped nor passed)."""
    kind = target_kind(context)
    out = []
    for check in CATALOGUE:
        if kind == REMOTE and check.id in FROM_OUTSIDE:
            missing = sorted(FROM_OUTSIDE[check.id] - held) if held is not None else []
            if missing:
                out.append({"id": check.id, "why": "it needs " + " and ".join(CREDENTIALS[m] for m in missing)})
        elif kind == REMOTE:
            out.append({"id": check.id, "why": NOT_FROM_OUTSIDE.get(check.id) or NOT_FROM_OUTSIDE[check.group]})
        elif kind not in check.targets:
            where = " and ".join(check.targets)
            out.append({"id": check.id, "why": f"it applies on {where} only"})
    return out


def for_authenticator(checks: list[Check], running: str | None) -> list[Check]:
    """The checks for a hub running this authenticator; all of them when it is not known
    (None: the hub could not say), so that those needing it fail saying why."""
    return [c for c in checks if running is None or not c.authenticator or c.authenticator == running]


def for_deployment(checks: list[Check], has: set[str] | None) -> list[Check]:
    """The checks for a deployment that has these (SPARK_CLUSTER); all of them when it is
    not known (None)."""
    return [c for c in checks if has is None or not c.needs or c.needs in has]


def for_context(context: str) -> list[Check]:
    return [check for check in CATALOGUE if check.applies_to(context)]


def select(spec: str | None, context: str) -> list[Check]:
    """The checks a `--check` value names, for this context: checklist ids (NS,SEC) or whole
    check ids (SEC.secret_is_private); None or empty means every check that applies."""
    applicable = for_context(context)
    if not spec:
        return applicable
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [w for w in wanted if w.upper() not in GROUPS and w not in BY_ID]
    if unknown:
        raise HarnessError(
            f"unknown check(s) {', '.join(unknown)}: use checklist ids ({', '.join(CHECK_ORDER)}) "
            "or check ids as in summary.json (e.g. SEC.secret_is_private)"
        )
    chosen = [c for c in applicable if c.group in {w.upper() for w in wanted} or c.id in wanted]
    if not chosen:
        raise HarnessError(f"--check {spec}: none of these checks applies to context {context}")
    return chosen
