"""``python -m integrations.slack.standin``: the Slack stand-in as a service (see :mod:`.cli`)."""

import sys

from integrations.slack.standin.cli import run_standin_cli

sys.exit(run_standin_cli())
