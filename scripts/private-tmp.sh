#!/usr/bin/env bash
# Sourced by test/run-all.sh and bench/run.sh: every temp file of the run (cdk8s Testing outdirs,
# jest's cache, certificates, test data) goes into one fresh directory, removed on exit, pass or fail.
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/redis-ha-run.XXXXXX")
export TMPDIR
trap 'rm -rf -- "$TMPDIR"' EXIT
