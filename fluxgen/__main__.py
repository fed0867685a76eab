"""`python -m fluxgen`: the same program as `kubectl fluxgen`."""

from fluxgen.cli import main

main()
