"""The check catalogue: every conformance check, what it guards, what it reads beyond a
hub and its deployment, and the fault that breaks it (each target says which apply to it).

It is the one list of checks. verify orders and selects by it (`--check`), refuses a
suite check that is not in it, and leaves out checks that do not apply to the target or
to the authenticator the hub says it runs;
`invoke selftest` applies each check's fault and expects verify to fail that check.
A check id is what summary.json records: `<GROUP>.<test name without test_>[param]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from .errors import HarnessError

# The kinds of target (each target class says which it is, hubharness.targets): the names
# by which a fault gives one its own way to be done (Fault.ways).
LOCAL, KUBE, REMOTE = "local", "kube", "remote"

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
    # What it reads beyond a hub and its deployment (CLUSTER_OBJECTS, HTTPS_URL): a target
    # that has no such thing says why it does not apply there (Target.LACKS).
    reads: str = ""
    # Where it applies only to a hub running this authenticator (hubharness.authenticators:
    # "shared-password"): verify leaves it out when the hub says it runs another.
    authenticator: str = ""
    # What the deployment must have for it to apply (SPARK_CLUSTER, SPARK_NATIVE): verify leaves it out of
    # a deployment without, selftest proves it on one deployed with NEEDS_VALUES over the user's.
    needs: str = ""

    @property
    def group(self) -> str:
        return self.id.split(".", 1)[0]


def _c(id: str, guards: str, fault: str, reads: str = "", authenticator: str = "") -> Check:
    return Check(id, guards, fault, reads, authenticator)


# What credentials a deployment offers verify (Deployment.offers; None: all it needs, as a
# deployment of the harness's own does) and a check may need (Target.credentials_for).
PASSWORD = "password"  # HUBHARNESS_PASSWORD: the hub has a login form, and users' password
ADMIN = "admin"  # an API token with admin scopes (given, or an admin's after logging in)
ADMIN_PASSWORD = "admin-password"  # HUBHARNESS_ADMIN_USER and HUBHARNESS_ADMIN_PASSWORD: an admin logs in
USERS = "users"  # verify's own users: with the password, or made by the admin credential

CLUSTER_OBJECTS = "cluster-objects"  # a Namespace, a DaemonSet, an Ingress: a cluster's objects
HTTPS_URL = "https-url"  # the TLS front of a hub reached by its https URL


SHARED_PASSWORD = "shared-password"  # hubharness.authenticators.SHARED
SPARK_CLUSTER = "spark-cluster"
SPARK_NATIVE = "spark-native"
# in values/: what gives a deployment what a check needs
NEEDS_VALUES = {SPARK_CLUSTER: "spark-cluster.yaml", SPARK_NATIVE: "spark-native.yaml"}
# What a check may read or need beyond a hub, in words: a target has each only where it
# says so (Target.HAS), so that a new target takes no check it cannot serve.
SURFACES = {
    CLUSTER_OBJECTS: "a Kubernetes cluster's objects (a Namespace, a DaemonSet, an Ingress)",
    HTTPS_URL: "the TLS front of a hub reached by its https URL (context remote)",
    SPARK_CLUSTER: "a Spark standalone cluster beside the hub",
    SPARK_NATIVE: "Spark's executors as pods (native mode)",
}


def _cluster(id: str, guards: str, fault: str) -> Check:
    """A check of the Spark standalone cluster deployed beside the hub (processes on local,
    pods on kubernetes)."""
    return Check(id, guards, fault, needs=SPARK_CLUSTER)


def _native(id: str, guards: str, fault: str) -> Check:
    """A check of the seed's native mode (values/spark-native.yaml): executors as pods the
    notebook's driver makes through the Kubernetes API, on kubernetes only."""
    return Check(id, guards, fault, needs=SPARK_NATIVE)


PUBLISHED = ("fallback-password", "SecretPassword2", "password", "admin", "jupyter")

CATALOGUE: tuple[Check, ...] = (
    # NS
    _c(
        "NS.namespace_exists",
        "the namespace is there and Active (local: the state folder is the namespace, "
        "which verify needs to start at all)",
        "namespace-terminating",
        CLUSTER_OBJECTS,
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
        CLUSTER_OBJECTS,
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
        HTTPS_URL,
    ),
    _c("TLS.certificate_names_the_host", "the certificate's names include the URL's host", "tls-wrong-host", HTTPS_URL),
    _c(
        "TLS.certificate_is_far_from_expiry",
        "the certificate is valid for at least HUBHARNESS_TLS_MIN_DAYS more days (14); its days left are reported",
        "tls-expired",
        HTTPS_URL,
    ),
    _c(
        "TLS.plain_http_redirects_to_https",
        "a plain-http request for the hub is redirected to its https URL, never served in clear",
        "tls-http-served-in-clear",
        HTTPS_URL,
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
        CLUSTER_OBJECTS,
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


@dataclass(frozen=True)
class Fault:
    """A way to break a deployment for `invoke selftest` (hubharness.faults lists them and
    says what each field does); which targets can do it is theirs to say."""

    name: str
    breaks: str  # what it does, in words
    overlay: str = ""
    files: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    # a kind of target (LOCAL, KUBE, REMOTE) -> the name of that target's own way to do it
    ways: Mapping[str, str] = field(default_factory=dict)
    redeploy: bool = False
    mutant: str = ""
    # a kind of target -> why the fault's values do not break a deployment there as they do here
    not_by_values_on: Mapping[str, str] = field(default_factory=dict)

    @property
    def by_values(self) -> bool:
        """Whether its chart values (and environment) do it, on any target that reads them."""
        return bool(self.overlay or self.env)


class Applicability(Protocol):
    """What the catalogue asks of a target's class (hubharness.targets.base.Target)."""

    def why_not_applicable(self, check: Check) -> str: ...

    def credentials_for(self, check: Check) -> frozenset[str]: ...

    def fault_for(self, check: Check) -> str: ...

    def why_missing(self, credentials: list[str]) -> str: ...


def for_credentials(checks: list[Check], target: Applicability, held: set[str] | None) -> list[Check]:
    """The checks the credentials at hand allow (a hub reached by its URL asks for some);
    all of them when it is not known (None)."""
    if held is None:
        return checks
    return [c for c in checks if target.credentials_for(c) <= held]


def not_applicable(target: Applicability, held: set[str] | None = None) -> list[dict[str, str]]:
    """Every check of the catalogue that does not apply on this target, with why: for the
    report, which lists them as not applicable (neither skipped nor passed). With `held`,
    also those the credentials at hand do not allow."""
    out = []
    for check in CATALOGUE:
        why = target.why_not_applicable(check)
        if not why and held is not None:
            missing = sorted(target.credentials_for(check) - held)
            why = f"it needs {target.why_missing(missing)}" if missing else ""
        if why:
            out.append({"id": check.id, "why": why})
    return out


def for_authenticator(checks: list[Check], running: str | None) -> list[Check]:
    """The checks for a hub running this authenticator; all of them when it is not known
    (None: the hub could not say), so that those needing it fail saying why."""
    return [c for c in checks if running is None or not c.authenticator or c.authenticator == running]


def for_deployment(checks: list[Check], has: set[str] | None) -> list[Check]:
    """The checks for a deployment that has these (SPARK_CLUSTER); all of them when it is
    not known (None)."""
    return [c for c in checks if has is None or not c.needs or c.needs in has]


def for_target(target: Applicability) -> list[Check]:
    return [check for check in CATALOGUE if not target.why_not_applicable(check)]


def select(spec: str | None, target: Applicability, context: str = "") -> list[Check]:
    """The checks a `--check` value names, for this target: checklist ids (NS,SEC) or whole
    check ids (SEC.secret_is_private); None or empty means every check that applies."""
    applicable = for_target(target)
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
        raise HarnessError(f"--check {spec}: none of these checks applies to context {context or target}")
    return chosen
