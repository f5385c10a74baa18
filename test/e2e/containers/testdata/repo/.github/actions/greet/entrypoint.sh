#!/bin/sh
# Runs in the action's container: the workspace is /github/workspace, file commands work as on the host.
set -eu
echo "greeting $1 from $(hostname) in $(pwd)"
echo "greeting=hello $1" >> "$GITHUB_OUTPUT"
echo "hello $1" > /github/workspace/greeting.txt
