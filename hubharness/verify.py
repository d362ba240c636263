"""`invoke verify`: run the conformance suites against a deployment into a report dir."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import authenticators, report_page, sparkcluster, sparknative
from . import checks as catalogue
from .errors import HarnessError
from .paths import PROJECT_ROOT, SUITES_DIR
from .report_dir import new_report_dir, record_scrub, redact
from .session import DEPLOYMENT_KEY, MUTANT_ENV
from .targets import target_class, target_for
from .targets.base import Deployment

# pytest plugins installed for the project's own tests that the suites never use: loading
# them costs every verify a sixth of a second
UNUSED_PLUGINS = ("xdist", "xdist.looponfail", "anyio", "pytest-kind", "platformdirs")


@dataclass
class VerifyResult:
    exit_code: int
    report_dir: Path


def running_authenticator(deployment: Deployment) -> str | None:
    """The authenticator class the hub says it runs, which decides the checks that apply
    to one authenticator only; None when it cannot say (they run, and fail saying why)."""
    try:
        return authenticators.running_class(deployment.public_url, deployment.service_token())
    except HarnessError as e:
        print(f"verify: {e}; the checks for one authenticator run, and need the hub's answer")
        return None


class _Handover:
    """Hands verify's deployment under test to its pytest run (a plugin object): in the
    stash, where the suites' `deployment` fixture and the report plugin find it. One
    object for the whole run: what reaching the hub took before the checks (a remote
    hub's admin token, a port-forward) serves the checks too. verify built it, and
    verify closes it when pytest is done."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[DEPLOYMENT_KEY] = self.deployment


def run(
    context: str,
    namespace: str,
    keyword: str | None = None,
    checks: str | None = None,
    extra: list[str] | None = None,
    skip: str | None = None,
    options: dict[str, str] | None = None,
) -> VerifyResult:
    """`options`: the target's own (remote: url, http_url)."""
    target = target_class(context)
    catalogue.select(checks, target, context)  # unknown ids: one clear line before anything runs
    if skip:
        catalogue.select(skip, target, context)
    options = {k: v for k, v in (options or {}).items() if v}
    deployment = target_for(context, namespace, options).deployment()  # nothing deployed → one clear line
    try:
        for line in deployment.check_access():  # a credential the hub refuses: said before the checks
            print(f"verify: {line}")
        secrets = [str(s) for s in deployment.secrets()]
        authenticator = running_authenticator(deployment)
        # from the values: a cluster they turn on that is not there fails its checks, by name
        has = [catalogue.SPARK_CLUSTER] if sparkcluster.settings(deployment.values) is not None else []
        if sparknative.settings(deployment.values) is not None:
            has.append(catalogue.SPARK_NATIVE)
        has += sorted(deployment.offers or ())  # what the credentials for a hub reached by its URL allow
        report_dir = new_report_dir(context)
        args = [
            str(SUITES_DIR),
            f"--rootdir={PROJECT_ROOT}",
            "-p",
            "hubharness.report",
            f"--report-dir={report_dir}",
            f"--context={context}",
            f"--namespace={namespace}",
            *(f"--{name.replace('_', '-')}={value}" for name, value in options.items()),
            f"--junitxml={report_dir / 'junit.xml'}",
            "-o",
            "junit_family=xunit2",
            f"--html={report_dir / report_page.PYTEST_PAGE}",
            "--self-contained-html",
            "-p",
            "no:cacheprovider",
            *(arg for name in UNUSED_PLUGINS for arg in ("-p", f"no:{name}")),
            "-q",
            "-rfE",
        ]
        if checks:
            args += [f"--checks={checks}"]
        if skip:
            args += [f"--skip={skip}"]
        if authenticator:
            args += [f"--authenticator={authenticator}"]
        args += [f"--deployment-has={','.join(has)}"]
        if os.environ.get(MUTANT_ENV):
            args += ["-p", "hubharness.mutants"]
        if keyword:
            args += ["-k", keyword]
        args += extra or []
        cwd = os.getcwd()
        os.chdir(PROJECT_ROOT)
        try:
            code = int(pytest.main(args, plugins=[_Handover(deployment)]))
        finally:
            os.chdir(cwd)
        try:
            secrets += [str(s) for s in deployment.secrets()]  # and the tokens asked for during the run
        except Exception as e:  # noqa: BLE001 — the report is still scrubbed of what was known before the run
            print(
                f"verify: the deployment's secrets could not be read again after the run ({e}); the report is "
                "scrubbed of those read before it"
            )
    finally:
        # once, when pytest is done (its fixtures swept the hub with it): a remote hub's
        # admin token revoked, a port-forward stopped
        deployment.close()
    record_scrub(report_dir, secrets, redact(report_dir, secrets))  # the pages are drawn from what is left
    if (report_dir / "summary.json").is_file():
        report_page.write_report(report_dir)
    index = report_page.write_index(report_dir.parent)
    redact(report_dir, secrets, also=(index,))  # and the pages scrubbed once more
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        runs = (
            f"; the hub runs {authenticator}, and checks for another authenticator are left out"
            if authenticator
            else ""
        )
        if not has:
            runs += "; checks that need a Spark cluster or native Spark are left out of a deployment without them"
        if deployment.offers is not None:
            runs += "; checks the credentials given do not allow are left out (see the report)"
        raise HarnessError(f"no check matched (-k {keyword!r}, --check {checks!r}){runs}: see the names in suites/")
    return VerifyResult(code, report_dir)
