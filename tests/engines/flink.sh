#!/bin/sh
# Usage: sh tests/engines/flink.sh [PYTHON, default .venv/bin/python]
# Assembles Beam's Flink job server for the tests (tests/engines/test_flink.py) from Maven
# Central, at the release of the installed Beam SDK, into the engines cache:
#   ${CURATE_ENGINES_DIR:-.engines}/flink/beam-runners-flink-1.19-job-server-<beam>.jar + lib/
# Maven Central serves no job-server jar of any recent release, so tests/engines/flink/pom.xml
# takes the runner and its dependencies and writes a jar whose manifest names them (see there and
# docs/runners.md). A complete job server already there is kept. Bounded in time:
# CURATE_ENGINE_SETUP_TIMEOUT_S (default 1200 s). Maven's local repository is ~/.m2 unless
# CURATE_MAVEN_REPO names another. Without it the Flink tests fail in CI and are skipped elsewhere.
set -eu
cd "$(dirname "$0")/../.."
PY=${1:-.venv/bin/python}  # the interpreter of the environment the tests run in
BEAM=$("$PY" -c 'from importlib.metadata import version; print(version("apache-beam"))')
POM=tests/engines/flink/pom.xml
if ! grep -q "<beam.version>$BEAM</beam.version>" "$POM"; then
  echo "flink.sh: $POM does not build Beam $BEAM, the installed SDK" >&2
  exit 1
fi
DIR=${CURATE_ENGINES_DIR:-$(pwd)/.engines}/flink
JAR=$DIR/beam-runners-flink-1.19-job-server-$BEAM.jar
if [ -f "$JAR" ]; then
  echo "flink.sh: $JAR"
  exit 0
fi
for tool in java mvn; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "flink.sh: no $tool on PATH: cannot assemble the Flink job server" >&2
    exit 1
  fi
done
TMP=$DIR.tmp.$$
rm -rf "$TMP"
start=$(date +%s)
mkdir -p "$(dirname "$DIR")"
LOG=$DIR.mvn.log  # what Maven said, kept beside the engine
timeout "${CURATE_ENGINE_SETUP_TIMEOUT_S:-1200}" mvn -B -f "$POM" package \
  -Dengines.dir="$TMP" ${CURATE_MAVEN_REPO:+-Dmaven.repo.local="$CURATE_MAVEN_REPO"} \
  > "$LOG" 2>&1 || {
  rm -rf "$TMP"
  grep -E "ERROR|Could not" "$LOG" | head -5 >&2
  echo "flink.sh: mvn could not assemble the Flink job server from Maven Central (see $LOG)" >&2
  exit 1
}
rm -rf "$TMP/target" "$DIR"
mv "$TMP" "$DIR"  # the jar appears with its lib/, never without
if [ ! -f "$JAR" ]; then
  echo "flink.sh: $POM did not write $JAR" >&2
  exit 1
fi
echo "flink.sh: assembled $JAR ($(ls "$DIR/lib" | wc -l) jars) in $(( $(date +%s) - start )) s"
