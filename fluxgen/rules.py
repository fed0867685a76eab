"""The rules of fluxgen.yaml that span fields, checked on the apps after defaults are merged.

cerberus (schema.py) checks each field; these check how fields go together: one kind of app per
option, exactly one Git ref, dependsOn targets and cycles, package folders, explicit source names.
Pure but for checking that package folders exist.
"""

from pathlib import Path

from fluxgen import catalogue, files
from fluxgen.errors import Problem
from fluxgen.fastcheck import validated
from fluxgen.flux_schema import CHART_SPEC, ELSEWHERE
from fluxgen.problems import Where, article, did_you_mean, messages
from fluxgen.resources import app_folder, dependency
from fluxgen.schema import APP, DEFAULTS, GIT_REFS, ONLY_FOR, SOURCE_OPTIONS
from fluxgen.source_plan import name_conflicts
from fluxgen.sources import OCI_DIGEST, Source, chart_source_kind, in_git, kind_of, reads_path, reference_of

_APP_KINDS = {"HelmRelease": "chart", "Kustomization": "kustomize"}


def check(defaults: dict, own: list[dict], apps: list[dict], declared: list[Source], base: Path,
          where: Where) -> list[Problem]:
    """Every problem with the apps: `own` as written, `apps` with defaults merged, `declared` the
    `sources:` entries."""
    problems = []
    for index, (written, app) in enumerate(zip(own, apps, strict=True)):
        problems += _options(written, app, index, where) + _merged(defaults, written, app, index, where)
        problems += _reference(written, app, declared, index, where) or _app(app, index, where)
    problems += _names(apps, where) + _dependencies(apps, where) + _packages(apps, base, where)
    problems += _layers(apps, declared, where)
    if not problems:
        problems += [where(("apps", i) + field, message, ("defaults",) + field[-2:])
                     for i, field, message in name_conflicts(apps, declared)]
    return problems


def _reference(own: dict, app: dict, declared: list[Source], index: int, where: Where) -> list[Problem]:
    """The source an app references exists and fits, and the app names no other source besides."""
    reference = reference_of(app)
    if reference is None:
        return []
    field, value = reference
    at = ("apps", index) + field
    inline = [key for key in ("git",) if "url" in own.get("git", {})] + \
        [f"chart.{key}" for key in ("repository", "source", "repositoryName") if key in own.get("chart", {})]
    if inline:
        return [where(at, f"names the source, so {inline[0]} cannot be given too; give one or the other",
                      ("defaults",) + field)]
    chart = app.get("chart", {})
    inherited = "" if _written(own, field) else f" (from defaults.{'.'.join(field)})"
    if field == ("chart", "sourceRef") and "name" not in chart and "path" not in chart:
        return [where(("apps", index, "chart"), "give the chart's name (in a HelmRepository) or its path (in Git)")]
    found = catalogue.resolve(value, field, app["namespace"], declared, catalogue.allowed_kinds(app, field))
    if isinstance(found, str):
        return [where(at, found + inherited, ("defaults",) + field)]
    return []


def _written(own: dict, field: tuple) -> bool:
    for part in field:
        if not isinstance(own, dict) or part not in own:
            return False
        own = own[part]
    return True


def _options(app: dict, merged: dict, index: int, where: Where) -> list[Problem]:
    """Options written on the app that belong to another kind of app or source (which kind of
    source, the merged app says: chart.source.type may come from defaults)."""
    at = ("apps", index)
    kind = kind_of(app)
    problems = []
    for key in app:
        if ONLY_FOR.get(key, kind) != kind:
            instead = ELSEWHERE.get((kind, key))
            owner = ONLY_FOR[key]
            problems.append(where(at + (key,), f"applies to {_APP_KINDS[owner]} apps (a {owner} field), and this is "
                                               f"a {_APP_KINDS[kind]} app" + (f"; use {instead}" if instead else "")))
    source_kind = chart_source_kind(merged) or ""
    for key in app.get("chart", {}).get("source", {}) if source_kind else ():
        if key not in SOURCE_OPTIONS[source_kind] and key != "existing":
            other = "OCIRepository" if source_kind == "HelmRepository" else "HelmRepository"
            problems.append(where(at + ("chart", "source", key), f"is not {article(source_kind)} field (only "
                                                                  f"{article(other)} has it), and chart.repository "
                                                                  f"makes this source {article(source_kind)}"))
    for key in app.get("chart", {}) if source_kind == "OCIRepository" else ():
        if key in CHART_SPEC:
            problems.append(where(at + ("chart", key), "applies to charts read through chart.spec; an oci:// chart is "
                                                        "read through chartRef (set chart.source.type: oci to keep a "
                                                        "HelmRepository)"))
    if "prune" in app and "prune" in app.get("kustomize", {}):
        problems.append(where(at + ("prune",), "is also set as kustomize.prune; give it once"))
    return problems


def _merged(defaults: dict, own: dict, app: dict, index: int, where: Where) -> list[Problem]:
    """Mappings written both in `defaults:` and on the app (`own`) are merged into `app`; Flux's
    rules that span fields (one kubeConfig reference, retryInterval only with RetryOnFailure, ...)
    must hold for the merged result too."""
    shared = [key for key in own if isinstance(defaults.get(key), dict) and key in app and key != "chart"]
    if "source" in defaults.get("chart", {}) and "source" in own.get("chart", {}):
        shared.append("chart")
    if not shared:
        return []
    fields = {key: DEFAULTS[key] if key == "chart" else APP[key] for key in shared}
    value = {key: app[key] if key != "chart" else {"source": app["chart"]["source"]} for key in shared}
    checked, errors = validated("merged:" + ",".join(shared), fields, value)
    if checked is not None:
        return []
    return [where(("apps", index) + path, f"{message} (after merging defaults)", ("defaults",) + path)
            for path, message in messages(errors, fields)]


def _app(app: dict, index: int, where: Where) -> list[Problem]:
    at = ("apps", index)
    problems = []
    chart = app.get("chart")
    if chart is not None and not ({"repository", "name"} <= chart.keys() or "path" in chart or "sourceRef" in chart):
        problems.append(where(at + ("chart",), "needs repository and name (a chart from a repository), path (a chart "
                                               "kept in Git), or sourceRef (a source in sources:)"))
    version = str(chart.get("version", "")) if chart else ""
    if OCI_DIGEST.match(version) and chart_source_kind(app) != "OCIRepository":
        problems.append(where(at + ("chart", "version"), "a digest pins an OCI artifact; a Helm repository chart "
                                                         "takes a version or a semver range"))
    if in_git(app) and app["git"].get("existing") and not app["git"].get("name"):
        problems.append(where(at + ("git", "existing"), "an existing GitRepository is referenced by name: give "
                                                        "git.name", ("defaults", "git", "existing")))
    if chart_source_kind(app) and app["chart"].get("source", {}).get("existing") \
            and not app["chart"].get("repositoryName"):
        problems.append(where(at + ("chart", "source", "existing"), "an existing source is referenced by name: give "
                                                                    "chart.repositoryName"))
    if in_git(app) and not app["git"].get("url") and not app["git"].get("existing"):
        problems.append(where(at, "is kept in Git but has no git.url (set it here or in defaults.git)"))
    field = ("git", "ref") if "ref" in app["git"] else ("git",)
    refs = [ref for ref in GIT_REFS + ("name",) * (field == ("git", "ref")) if ref in app["git"].get("ref", app["git"])]
    if in_git(app) and len(refs) > 1 and refs != ["branch", "commit"]:  # Flux would silently ignore all but one
        at_ref = at + (field + (refs[1],) if field == ("git",) else field)
        problems.append(where(at_ref, f"give one Git ref (branch, tag, semver or commit; commit may join a branch), "
                                      f"not {' and '.join(refs)}", ("defaults",) + at_ref[2:]))
    for owner, fields in ((("git",), app["git"]), (("chart", "source"), (chart or {}).get("source", {}))):
        spec_fields = sorted(set(fields) - {"existing", "url", "name", "ref", "type", *GIT_REFS})
        if fields.get("existing") and spec_fields:
            problems.append(where(at + owner + (spec_fields[0],), "an existing source is referenced, never generated: "
                                                                  "its spec fields are not fluxgen's to set"))
    source = app.get("chart", {}).get("source", {})
    if source.get("type") == "oci" and not app["chart"].get("repository", "").startswith("oci://"):
        problems.append(where(at + ("chart", "source", "type"), "oci needs an oci:// chart.repository",
                              ("defaults", "chart", "source", "type")))
    for key in ("provider", "insecure") if chart_source_kind(app) == "HelmRepository" else ():
        if key in source and source.get("type") != "oci":
            problems.append(where(at + ("chart", "source", key), "applies to OCI Helm repositories only "
                                                                  "(chart.source.type: oci)",
                                  ("defaults", "chart", "source", key)))
    if "package" in app and not reads_path(app):
        problems.append(where(at + ("package",), "builds a chart kept in Git; give chart.path (where the chart goes "
                                                 "in the Git repository) instead of chart.repository"))
    if "kustomize" not in app and "releaseName" not in app and len(app["name"]) > 53:
        problems.append(where(at + ("name",), "is longer than the 53 characters Helm allows for a release name; set "
                                              "releaseName"))
    return problems


def _packages(apps: list[dict], base: Path, where: Where) -> list[Problem]:
    """Each package folder exists, and no package is written into another's folder."""
    folders: dict[str, int] = {}
    problems = []
    for index, app in enumerate(apps):
        if "package" not in app or not reads_path(app):  # _app reports packages of other apps
            continue
        at = ("apps", index, "package")
        if files.inside(base, app["package"]) is None:
            problems.append(where(at, f"{base / app['package']} leads out of the spec's folder (through a symbolic "
                                      "link); package folders must be inside it"))
        elif not (base / app["package"]).is_dir():
            problems.append(where(at, f"{base / app['package']} is not a folder of manifests"))
        folder = app_folder(app)
        for other, other_index in folders.items():
            if folder == other or folder.startswith(other + "/") or other.startswith(folder + "/") or "." in (
                    folder, other):
                problems.append(where(at, f"apps[{other_index}] packages into {other} already, and this app's "
                                          f"{folder} would overlap it; give this app another path"))
                break
        folders.setdefault(folder, index)
    return problems


def _layers(apps: list[dict], declared: list[Source], where: Where) -> list[Problem]:
    """`layer:` names one kustomize app whose folder fluxgen writes; layers do not loop."""
    kustomize: dict[str, list[dict]] = {}
    for app in apps:
        if "kustomize" in app:
            kustomize.setdefault(app["name"], []).append(app)
    problems = []
    for source in declared:
        index = source.entry
        found = kustomize.get(source.layer or "", [])
        if len(found) == 1 and found[0].get("targetNamespace") not in (None, source.namespace):
            problems.append(where(("sources", index, "layer"), f"the layer {source.layer} has targetNamespace "
                                  f"{found[0]['targetNamespace']}, so Flux would move {source.name} out of namespace "
                                  f"{source.namespace}; give {source.layer} targetNamespace: null"))
        if source.layer is not None and len(found) != 1:
            problems.append(where(("sources", index, "layer"), (
                f"{source.layer!r} is the name of kustomize apps in several namespaces; a layer needs a name of its "
                "own") if found else f"no kustomize app is named {source.layer!r}" +
                did_you_mean(source.layer, kustomize)))
    for index, app in enumerate(apps):
        name, at = app.get("layer"), ("apps", index, "layer")
        if name is None:
            continue
        found = kustomize.get(name, [])
        if not found:
            problems.append(where(at, f"no kustomize app is named {name!r}" + did_you_mean(name, kustomize)))
        elif len(found) > 1:
            problems.append(where(at, f"{name!r} is the name of kustomize apps in several namespaces; a layer needs "
                                      "a name of its own"))
        elif found[0] is app or _loops(app, kustomize):
            problems.append(where(at, f"layers loop: {app['name']} would be written into its own folder"))
        elif "package" in found[0]:
            problems.append(where(at, f"{name!r} builds its folder from package:, so fluxgen cannot place apps in it"))
        elif found[0].get("targetNamespace") is not None and \
                {app["namespace"], app.get("sourceNamespace", app["namespace"])} != {found[0]["targetNamespace"]}:
            target = found[0]["targetNamespace"]
            what, namespace = (app["name"], app["namespace"]) if app["namespace"] != target else \
                (f"the source of {app['name']}", app["sourceNamespace"])
            problems.append(where(at, f"the layer {name} has targetNamespace {target}, so Flux would move "
                                      f"{what} out of namespace {namespace} into {target}; give "
                                      f"{name} targetNamespace: null, or {app['name']} namespace: {target}"))
    return problems


def _loops(app: dict, kustomize: dict) -> bool:
    seen, current = set(), app
    while current.get("layer") in kustomize and len(kustomize[current["layer"]]) == 1:
        if id(current) in seen:
            return True
        seen.add(id(current))
        current = kustomize[current["layer"]][0]
    return False


def _names(apps: list[dict], where: Where) -> list[Problem]:
    """One object per kind, namespace and name (a HelmRelease and a Kustomization may share a name)."""
    first: dict[tuple, int] = {}
    problems = []
    for index, app in enumerate(apps):
        key = (kind_of(app), app["namespace"], app["name"])
        if key in first:
            problems.append(where(("apps", index, "name"), f"apps[{first[key]}] is already the {key[0]} "
                                                           f"{app['name']!r} of namespace {app['namespace']}"))
        first.setdefault(key, index)
    return problems


def _dependencies(apps: list[dict], where: Where) -> list[Problem]:
    problems = []
    for index, app in enumerate(apps):
        for i, dep in enumerate(app.get("dependsOn", [])):
            target = dependency(app, dep, apps) if isinstance(dep, str) else _in_spec(app, dep, apps)
            if isinstance(target, str):
                problems.append(where(("apps", index, "dependsOn", i), target))
            elif target is app:
                problems.append(where(("apps", index, "dependsOn", i), "an app cannot depend on itself"))
    if not problems:
        problems += _cycles(apps, where)
    return problems


def _in_spec(app: dict, dep: dict, apps: list[dict]) -> dict | None:
    """The app of the spec that Flux's {name, namespace} form names, if any (else an object elsewhere)."""
    namespace = dep.get("namespace", app["namespace"])
    return next((other for other in apps if (other["name"], other["namespace"], kind_of(other)) ==
                 (dep["name"], namespace, kind_of(app))), None)


def _targets(app: dict, apps: list[dict], position: dict[int, int]) -> list[int]:
    """Indexes of the apps of the spec that `app` depends on (`position`: index by id of each app)."""
    found = [dependency(app, dep, apps) if isinstance(dep, str) else _in_spec(app, dep, apps)
             for dep in app.get("dependsOn", [])]
    return [position[id(target)] for target in found if isinstance(target, dict)]


def _cycles(apps: list[dict], where: Where) -> list[Problem]:
    position = {id(app): i for i, app in enumerate(apps)}
    graph = {i: _targets(app, apps, position) for i, app in enumerate(apps)}
    state: dict[int, str] = {}
    for start in graph:
        if start in state:
            continue
        stack, path = [(start, iter(graph[start]))], [start]
        state[start] = "open"
        while stack:
            node, deps = stack[-1]
            dep = next(deps, None)
            if dep is None:
                state[node] = "done"
                stack.pop()
                path.pop()
            elif state.get(dep) == "open":
                cycle = [apps[step]["name"] for step in path[path.index(dep):] + [dep]]
                return [where(("apps", node, "dependsOn"), f"dependency cycle: {' -> '.join(cycle)}")]
            elif dep not in state:
                state[dep] = "open"
                stack.append((dep, iter(graph[dep])))
                path.append(dep)
    return []
