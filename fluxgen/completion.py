"""Shell completion in the protocol kubectl and flux speak (Cobra's `__complete`).

kubectl 1.26+ runs `kubectl_complete-fluxgen <args...> <word>` for `kubectl fluxgen <TAB>`;
flux 2.9+ runs `flux-fluxgen __complete <args...> <word>`. Both read one candidate per line
(`value<TAB>description`), then `:<directive>`: 4 means "no file names", 0 "complete file
names", 16 "complete folder names". The candidates come from click, so they follow the
commands and flags as they are.
"""

import sys

NO_FILES, FILES, FOLDERS = 4, 0, 16


def completions(args: list[str], incomplete: str) -> list[str]:
    """The lines to print for `args` already typed and the `incomplete` word."""
    from click.shell_completion import ShellComplete

    from fluxgen.cli import cli

    items = ShellComplete(cli, {}, "kubectl fluxgen", "_FLUXGEN_COMPLETE").get_completions(args, incomplete)
    kinds = {item.type for item in items}
    if "dir" in kinds:
        return [f":{FOLDERS}"]
    if "file" in kinds:
        return [f":{FILES}"]
    return [f"{item.value}\t{item.help}" if item.help else item.value for item in items] + [f":{NO_FILES}"]


def kubectl_complete() -> None:
    """Entry point of kubectl_complete-fluxgen: the last argument is the word being completed."""
    words = sys.argv[1:] or [""]
    print("\n".join(completions(words[:-1], words[-1])))
