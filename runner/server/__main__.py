"""`python -m runner.server [OPTIONS]` is `ftrun serve [OPTIONS]`: the built-in server, without the console script."""

import sys

from runner.cli import main

main(["serve", *sys.argv[1:]])
