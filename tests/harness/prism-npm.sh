#!/bin/sh
# prism-npm.sh: installs tests/harness/prism (@stoplight/prism-cli, the
# OpenAPI mock that validates every request against a provider's official
# description); exit 77 when node or npm is missing (npm-ci.sh).
exec "$(dirname "$0")/npm-ci.sh" prism
