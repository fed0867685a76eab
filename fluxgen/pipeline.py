"""The steps of `render` in order: read the spec, build the Flux objects, package manifests."""

from pathlib import Path

from fluxgen.resources import app_folder, build
from fluxgen.spec import load_spec


def render(spec_file: str, cluster: dict | None = None) -> dict:
    """Everything `render` produces: {resources: [(folder, object)], packages: {app name: {folder,
    files: {path under the output folder: text}}}, warnings: [text], notes: [text]}.

    With `cluster` ({context, kubeconfig, request_timeout}), sources the cluster already has
    are reused instead of generated."""
    spec = load_spec(spec_file)
    packages, warnings = _packages(spec) if any("package" in app for app in spec["apps"]) else ({}, [])
    warnings = spec["warnings"] + warnings
    existing: list[dict] = []
    if cluster is not None:
        from fluxgen.cluster import existing_sources

        existing, found_warnings = existing_sources(**cluster)
        warnings += found_warnings
    built = build(spec["apps"], existing=existing)
    if built["clashes"]:
        from fluxgen.errors import ClusterError

        raise ClusterError("\n".join(_clash(source, names) for source, names in built["clashes"]))
    notes = [_reuse_note(source, names, spec["apps"]) for source, names in built["reused"]]
    return {"resources": built["resources"], "packages": packages, "warnings": warnings, "notes": notes}


def _clash(source: dict, names: list[str]) -> str:
    field = "git.name" if source["kind"] == "GitRepository" else "chart.repositoryName"
    return (f"the cluster already has a different {source['kind']} {source['namespace']}/{source['name']} "
            f"(another URL, ref or options), and rendering it would replace that one: give {', '.join(names)} "
            f"another {field}, or match that source to reuse it")


def _reuse_note(source: dict, names: list[str], apps: list[dict]) -> str:
    note = f"reused {source['kind']} {source['namespace']}/{source['name']} for {', '.join(names)}"
    elsewhere = sorted({app["namespace"] for app in apps if app["name"] in names} - {source["namespace"]})
    if elsewhere:
        note += (f" (from namespace {', '.join(elsewhere)}: sourceRef.namespace is set; clusters that forbid "
                 "cross-namespace references will refuse it)")
    return note


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
