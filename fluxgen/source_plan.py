"""plan_sources: every app's source, shared where the apps allow it and named. Pure.

See sources.py for the order in which an app's source is found.
"""

import re
from dataclasses import replace
from urllib.parse import urlsplit

from fluxgen.catalogue import allowed_kinds, resolve
from fluxgen.sources import (
    HELM_LAYER_SELECTOR,
    ClusterSource,
    Source,
    SourcePlan,
    identity,
    normalize_url,
    reference_of,
    same_ref,
    source_request,
)

_GENERIC = {"charts", "chart", "helm", "helm-charts", "helmcharts", "stable", "repo", "repos", "repository",
            "git", "gitops", "oci", "www", "registry", "io", "com", "org", "net", "dev", "cloud", "github",
            "gitlab", "pages", "bitbucket", "azurecr", "pkg"}  # say nothing about what a repository holds


def plan_sources(apps: list[dict], catalogue: list[Source] = [],  # noqa: B006 (never changed)
                 existing: list[ClusterSource] = []) -> SourcePlan:  # noqa: B006
    """The sources of `apps`, given the `sources:` entries (`catalogue`) and what the cluster has
    (`existing`). Call name_conflicts and the reference checks first: names are used as given."""
    declared = {(s.kind, s.namespace, s.name): s for s in catalogue}
    entries = _index([_as_existing(s) for s in catalogue])
    used: list[Source | tuple] = []
    requests: list[tuple[tuple, Source]] = []
    for app in apps:
        reference = reference_of(app)
        if reference is not None:
            found = resolve(reference[1], reference[0], app["namespace"], catalogue, allowed_kinds(app, reference[0]))
            if not isinstance(found, Source):  # rules.py reports these before any plan is made
                raise ValueError(f"unresolved reference: {found}")
            used.append(found)
            continue
        request = source_request(app)
        match = declared.get((request.kind, request.namespace, request.name)) if request.existing else \
            find_existing(request, entries, options=False)
        if isinstance(match, ClusterSource):
            match = declared[(match.kind, match.namespace, match.name)]
        if match is not None:
            used.append(match)
            continue
        requests.append((identity(request), request))
        used.append(requests[-1])
    named: dict[tuple, str] = {}  # an unnamed app joins the source its group names, wherever it stands
    for key, request in requests:
        if request.name:
            named.setdefault(key, request.name)
    derived: dict[tuple, dict[str | None, Source]] = {}
    slots = {id(item): (item[0], item[1].name or named.get(item[0])) for item in requests}
    for item in used:
        if isinstance(item, tuple):
            key, name = slots[id(item)]
            group = derived.setdefault(key, {})
            if name not in group or (item[1].name == name and group[name].name != name):
                group[name] = item[1]  # the app that names the source says what it is (existing or not)
    used = [slots[id(item)] if isinstance(item, tuple) else item for item in used]
    return _named(used, derived, catalogue, existing)


def _as_existing(source: Source) -> ClusterSource:
    """A `sources:` entry in the form inline URLs are matched against."""
    return ClusterSource(source.kind, source.namespace, str(source.name), source.spec(),
                         any_ref=source.existing and not source.ref)


def _named(used: list, derived: dict, catalogue: list[Source], existing: list[ClusterSource]) -> SourcePlan:
    """Reuse what the cluster has, name the rest, and put every app's source in place."""
    index = _index(existing)
    in_cluster = {(e.kind, e.namespace, e.name): e for e in existing}
    skipped: dict[tuple, list] = {}
    final: dict[tuple, Source] = {}
    for key, group in derived.items():
        for name, source in group.items():
            match = None if source.existing else find_existing(source, index)
            if match is not None:
                source = replace(source, name=match.name, namespace=match.namespace, existing=True, reused=True)
            else:
                skipped[(key, name)] = _not_reused(source, index)
                if source.name and not source.existing:  # applying would replace what the cluster has
                    source = replace(source, clash=(source.kind, source.namespace, source.name) in in_cluster)
            final[(key, name)] = source
    external = [s for s in used if isinstance(s, Source) and not s.declared]  # referenced, managed elsewhere
    taken = {(s.kind, s.namespace, s.name) for s in [*final.values(), *catalogue, *external] if s.name}
    taken |= set(in_cluster)
    for slot, source in final.items():
        if source.name is None:
            name = free_name(source, derive_name(str(source.url), source.kind), taken)
            final[slot] = replace(source, name=name)
            taken.add((source.kind, source.namespace, name))
    swap = {id(s): replace(s, clash=True) for s in catalogue if not s.existing and _replaces(s, in_cluster)}
    apps_sources = [swap.get(id(item), item) if isinstance(item, Source) else final[item] for item in used]
    ordered = list({id(s): s for s in apps_sources}.values())
    ordered += [swap.get(id(s), s) for s in catalogue if all(s is not other for other in used)]
    reasons = [(final[slot], theirs, reason) for slot, found in skipped.items() for theirs, reason in found]
    return SourcePlan(ordered, apps_sources, reasons)


def _replaces(entry: Source, in_cluster: dict[tuple, ClusterSource]) -> bool:
    """Whether applying a `sources:` entry would replace a different source the cluster has."""
    theirs = in_cluster.get((entry.kind, entry.namespace, entry.name))
    url = theirs.spec.get("url") if theirs else None
    return theirs is not None and (not isinstance(url, str) or
                                   normalize_url(url, entry.kind) != normalize_url(str(entry.url), entry.kind))


def _index(existing: list[ClusterSource]) -> dict[tuple, list[ClusterSource]]:
    """Sources by (kind, normalized URL), each list in a fixed order."""
    index: dict[tuple, list[ClusterSource]] = {}
    for source in existing:
        url = source.spec.get("url")
        if not isinstance(url, str):  # no URL: nothing to match
            continue
        try:
            key = (source.kind, normalize_url(url, source.kind))
        except ValueError:  # a URL nobody can read
            continue
        index.setdefault(key, []).append(source)
    for candidates in index.values():
        candidates.sort(key=lambda s: (s.namespace, s.name))
    return index


def _candidates(source: Source, index: dict[tuple, list[ClusterSource]]) -> list[ClusterSource]:
    return index.get((source.kind, normalize_url(str(source.url), source.kind)), [])


def find_existing(source: Source, index: dict[tuple, list[ClusterSource]], options: bool = True,
                  ) -> ClusterSource | None:
    """The existing source to use for `source`: same URL, same ref (Git, OCI), same type (Helm),
    with `options`, every option the app asked for already set; with an explicit name, that name;
    in the source's own namespace if there is one, else the first by namespace."""
    matches = [c for c in _candidates(source, index) if _why_not(source, c, options) is None]
    matches.sort(key=lambda c: c.namespace != source.namespace)  # stable: keeps the fixed order otherwise
    return matches[0] if matches else None


def _why_not(source: Source, candidate: ClusterSource, options: bool = True) -> str | None:
    """Why `candidate` (same kind and URL) is not the source asked for, or None when it is."""
    spec = candidate.spec
    if not isinstance(spec.get("url"), str) or normalize_url(spec["url"], source.kind) != \
            normalize_url(str(source.url), source.kind):
        return f"its URL is {spec.get('url')}"
    if source.name and candidate.name != source.name:
        return f"the app asks for the name {source.name!r}"
    if source.kind == "HelmRepository" and spec.get("type", "default") != source.options.get("type", "default"):
        return f"its type is {spec.get('type', 'default')!r}"
    if source.kind != "HelmRepository" and not candidate.any_ref and not same_ref(source.ref, spec.get("ref")):
        return f"its ref is {_ref_text(spec.get('ref'))}, not {_ref_text(source.ref)}"
    if not options:
        return None
    wanted = dict(source.options) | ({"layerSelector": HELM_LAYER_SELECTOR} if source.kind == "OCIRepository" else {})
    differing = sorted(key for key, value in wanted.items() if spec.get(key) != value)
    return f"its {', '.join(differing)} differ" if differing else None


def _ref_text(ref: object) -> str:
    return ", ".join(f"{key} {value}" for key, value in ref.items()) if isinstance(ref, dict) and ref else "unset"


def _not_reused(source: Source, index: dict) -> list[tuple[ClusterSource, str]]:
    return [(c, reason) for c in _candidates(source, index) for reason in [_why_not(source, c)] if reason]


def name_conflicts(apps: list[dict], catalogue: list[Source]) -> list[tuple[int, tuple, str]]:
    """Explicit source names that would name two different sources: (app index, field, message)."""
    declared = {(s.kind, s.namespace, s.name): s for s in catalogue}
    external = {(ref["kind"], ref.get("namespace", app["namespace"]), ref["name"])
                for app in apps for field, ref in [reference_of(app) or ((), None)]
                if isinstance(ref, dict) and "kind" in ref} - set(declared)
    owner: dict[tuple, tuple] = {}
    conflicts = []
    for index, app in enumerate(apps):
        if reference_of(app) is not None:
            continue
        request = source_request(app)
        if not request.name:
            continue
        key = (request.kind, request.namespace, request.name)
        field = ("git", "name") if request.kind == "GitRepository" else ("chart", "repositoryName")
        entry = declared.get(key)
        if key in external and not request.existing:
            conflicts.append((index, field, f"{request.name!r} names the {request.kind} an app references as "
                                            "managed elsewhere; generating it would replace that one"))
        elif entry is not None:
            if _why_not(request, _as_existing(entry), options=False):
                conflicts.append((index, field, f"{request.name!r} names a different {request.kind} in sources:; "
                                                "give this one another name, or use that entry"))
        elif key in owner and owner[key][0] != identity(request) and not request.existing:
            conflicts.append((index, field, f"{request.name!r} already names a different {request.kind} "
                                            f"(apps[{owner[key][1]}]); give this one another name"))
        owner.setdefault(key, (identity(request), index))
    return conflicts


def free_name(source: Source, name: str, taken: set) -> str:
    """`name`, or when it is taken, `name-HASH` from a hash of the source (hashed again until free)."""
    if (source.kind, source.namespace, name) not in taken:
        return name
    import hashlib  # loading OpenSSL costs start-up time; most specs never need a suffix

    key = identity(source)
    seed = repr(key if key[-1] else key[:-1])  # sources without options keep the names of fluxgen 0.1
    while True:
        seed = hashlib.sha256(seed.encode()).hexdigest()
        candidate = f"{name[:56].rstrip('-')}-{seed[:6]}"
        if (source.kind, source.namespace, candidate) not in taken:
            return candidate


def derive_name(url: str, kind: str) -> str:
    """A readable DNS label for a source URL: its last meaningful path segment, else its host."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if segments and kind == "GitRepository" and segments[-1].endswith(".git"):
        segments[-1] = segments[-1][:-4]
    for segment in reversed(segments):
        name = _slug(segment)
        if name and name not in _GENERIC:
            return name
    labels = [_slug(label) for label in (parts.hostname or "").split(".")]
    useful = [label for label in labels[:-1] if label and label not in _GENERIC]
    return useful[-1] if useful else (_slug(parts.hostname or "") or "source")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:63].rstrip("-")
