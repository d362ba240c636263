"""`invoke lint`: each known pitfall of values is named, with why and the fix; values
without it are left alone."""

from __future__ import annotations

import copy

import pytest

from hubharness import lint, values

from .helpers import PROJECT_ROOT

SEED = PROJECT_ROOT / "tests" / "data" / "seed-values.yaml"
CLEAN = values.load(values.values_files("local"))


def with_(dotted: str, value) -> dict:
    """The shipped local values with one key set (None deletes it)."""
    out = copy.deepcopy(CLEAN)
    *parents, last = dotted.split(".")
    node = out
    for key in parents:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value
    return out


def hook(command: str) -> dict:
    return {"exec": {"command": ["bash", "-c", command]}}


# rule: (values that trigger it, similar values that must not)
CASES = {
    "fallback-password": (
        with_("hub.extraConfig", {"a": "c.DummyAuthenticator.password = os.environ.get('P', 'fallback-password')"}),
        with_("hub.extraConfig", {"a": "c.DummyAuthenticator.password = os.environ.get('P', '')"}),
    ),
    "deprecated-image": (
        with_("singleuser.image.name", "jupyter/pyspark-notebook"),
        with_("singleuser.image.name", "quay.io/jupyter/pyspark-notebook"),
    ),
    "unpinned-image": (with_("singleuser.image.tag", "latest"), with_("singleuser.image.tag", "spark-3.5.3")),
    "installs-at-start": (
        with_("singleuser.lifecycleHooks.postStart", hook("pip install --user plotly")),
        with_("singleuser.lifecycleHooks.postStart", hook("echo ready > /tmp/ready")),
    ),
    "pyspark-mismatch": (
        with_("singleuser.lifecycleHooks.postStart", hook("pip install pyspark==3.5.0")),
        with_("singleuser.lifecycleHooks.postStart", hook("pip install pyspark==3.5.3")),
    ),
    "no-admin": (with_("hub.config.Authenticator.admin_users", None), CLEAN),
    "shared-password-public": (
        with_("ingress", {"enabled": True, "hosts": ["hub.example.org"]}),
        with_("ingress", {"enabled": True, "hosts": ["jupyterhub.localhost"]}),
    ),
    "no-culling": (with_("cull.enabled", False), with_("cull.enabled", True)),
    "database-in-memory": (with_("hub.db.type", "sqlite-memory"), with_("hub.db.type", "sqlite-pvc")),
}


def test_every_rule_has_its_case():
    found = {f.rule for bad, _ in CASES.values() for f in lint.check(bad)}
    assert found == set(CASES)


@pytest.mark.parametrize("rule", CASES)
def test_the_rule_names_its_pitfall_and_leaves_the_fixed_values_alone(rule):
    bad, good = CASES[rule]
    found = [f for f in lint.check(bad) if f.rule == rule]
    assert len(found) == 1, found
    assert found[0].why and found[0].fix
    assert [f for f in lint.check(good) if f.rule == rule] == []


@pytest.mark.parametrize("target", ["local", "kind"])
def test_the_shipped_values_have_no_known_pitfall(target):
    assert lint.check(values.load(values.values_files(target))) == []


def test_shared_password_values_have_no_pitfall_and_its_passwords_written_in_are_named():
    shared = values.load([*values.values_files("local"), PROJECT_ROOT / "values" / "shared-password.yaml"])
    assert lint.check(shared) == []
    literal = 'c.SharedPasswordAuthenticator.admin_password = "written-in-the-values-0123456789"'
    in_config = copy.deepcopy(shared)
    in_config["hub"]["extraConfig"]["99-admin"] = literal
    in_values = copy.deepcopy(shared)
    in_values["hub"]["config"]["SharedPasswordAuthenticator"] = {"user_password": "written-in-the-values"}
    assert [(f.rule, f.where) for f in lint.check(in_config)] == [("fallback-password", "hub.extraConfig.99-admin")]
    assert [(f.rule, f.where) for f in lint.check(in_values)] == [
        ("fallback-password", "hub.config.SharedPasswordAuthenticator.user_password")
    ]


def test_the_seeds_values_are_named_for_each_pitfall_they_carry():
    rules = [f.rule for f in lint.check(values.load([SEED]))]
    assert rules == ["fallback-password", "deprecated-image", "installs-at-start", "no-admin"]


def test_cli_lint_strict_fails_on_the_seed_and_deploy_warns(harness):
    ran = harness.invoke("lint", "--values", str(SEED), "--strict")
    assert ran.code == 1, ran.out + ran.err
    assert "fallback-password: hub.extraConfig.dummy-auth-config:" in ran.out
    assert "use quay.io/jupyter/pyspark-notebook" in ran.out
    assert harness.invoke("lint").code == 0
    # deploy warns before anything else, and goes on (here to a refusal that costs nothing)
    ran = harness.deploy("seed", "--values", str(SEED), "--chart-version", "9.9.9")
    warnings = [line for line in ran.err_lines if line.startswith("warning: ")]
    assert [w.split(":")[1].strip() for w in warnings] == ["fallback-password", "deprecated-image", "installs-at-start"]
    assert ran.code != 0 and "9.9.9" in ran.err_lines[-1]
    assert not (harness.home / "seed" / "state.json").exists()
