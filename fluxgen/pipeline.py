"""The steps of `render` in order: read the spec, build the Flux objects, package manifests."""

from pathlib import Path

from fluxgen.resources import app_folder, build_resources
from fluxgen.spec import load_spec


def render(spec_file: str) -> dict:
    """Everything `render` produces: {resources: [(folder, object)], packages: {app name: {folder,
    files: {path under the output folder: text}}}, warnings: [text]}."""
    spec = load_spec(spec_file)
    packages, warnings = _packages(spec) if any("package" in app for app in spec["apps"]) else ({}, [])
    return {"resources": build_resources(spec["apps"]), "packages": packages, "warnings": warnings}


def _packages(spec: dict) -> tuple[dict, list]:
    """The chart or overlay of every app with `package:`, and warnings about what went in."""
    from fluxgen.errors import SpecError  # only specs with packages load these
    from fluxgen.manifests import read_manifests
    from fluxgen.package import helm_chart, overlay, secrets_in

    packages, warnings, problems = {}, [], []
    read: dict[Path, list | None] = {}  # apps may package the same folder: read and report it once
    for app in spec["apps"]:
        if "package" not in app:
            continue
        source = Path(spec["base"]) / app["package"]
        if source not in read:
            try:
                read[source] = [item["object"] for item in read_manifests(source, str(source))]
            except SpecError as err:
                problems += err.problems
                read[source] = None
        objects = read[source]
        if objects is None:
            continue
        files = helm_chart(app["name"], app["package"], objects) if "chart" in app else overlay(objects)
        folder = app_folder(app)
        packages[app["name"]] = {"folder": folder, "files": {path if folder == "." else f"{folder}/{path}": text
                                                             for path, text in files.items()}}
        warnings += [f"{source}: {secret} holds data and is packaged as it is; secrets do not belong in "
                     "Git unencrypted (encrypt it with SOPS, or use valuesFrom or an external secret store)"
                     for secret in secrets_in(objects)]
    if problems:
        raise SpecError(problems)
    return packages, warnings
