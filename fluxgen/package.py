"""Plain manifests -> a Helm chart or a Kustomize overlay that gives them back exactly.

Pure: takes the objects read by manifests.py, returns {relative path: text}. The knobs users
change between environments (each container's image, each workload's replicas and each
container's resources) become values.yaml entries or kustomization.yaml `images`/`replicas`;
everything else is copied as it is. In Helm templates every `{{` of the input is escaped, so
alerting rules and log formats survive templating.
"""

import hashlib
import json
import re

from fluxgen.output import FILE_NAMES, dump, dump_all

CHART_VERSION = "0.1.0"
CRD = "CustomResourceDefinition"
# Where each kind keeps its pod template.
POD_SPEC = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_MAIN_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "ReplicaSet", "ReplicationController",
               "Pod")  # where to look first for the image that names the appVersion
SCALABLE = ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController")  # kustomize's `replicas`
FLUX_FILES = tuple(FILE_NAMES.values())  # written beside a chart, not part of it


def parse_image(reference: object) -> dict | None:
    """`registry:5000/app:1.2@sha256:...` -> {repository, tag, digest}; None when the parts would
    not give back exactly the same text."""
    if not isinstance(reference, str) or not reference:
        return None
    rest, _, digest = reference.partition("@")
    colon = rest.rfind(":")
    repository, tag = (rest[:colon], rest[colon + 1:]) if colon > rest.rfind("/") else (rest, "")
    parts = {"repository": repository, "tag": tag, "digest": digest}
    return parts if repository and join_image(parts) == reference else None


def join_image(parts: dict) -> str:
    return parts["repository"] + (f":{parts['tag']}" if parts["tag"] else "") + \
        (f"@{parts['digest']}" if parts["digest"] else "")


def _dig(value, path: tuple):
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def containers_of(obj: dict) -> list[dict]:
    """The containers (init containers first) of a workload's pod template; [] for other objects."""
    pod = _dig(obj, POD_SPEC.get(obj["kind"], ("-",)))
    if not isinstance(pod, dict):
        return []
    found = []
    for key in ("initContainers", "containers"):
        items = pod.get(key)
        if isinstance(items, list):
            found += [c for c in items if isinstance(c, dict) and isinstance(c.get("name"), str)]
    return found


def secrets_in(objects: list[dict]) -> list[str]:
    """`Secret name` for each Secret that carries data (it should not sit in Git unencrypted)."""
    return [f"Secret {o['metadata']['name']}" for o in objects
            if o["kind"] == "Secret" and o.get("apiVersion") == "v1" and (o.get("data") or o.get("stringData"))]


def _file_name(obj: dict, used: set) -> str:
    stem = re.sub(r"[^a-z0-9.-]+", "-", f"{obj['kind']}-{obj['metadata']['name']}".lower()).strip("-.")
    name, n = f"{stem}.yaml", 2
    while name in used:
        name, n = f"{stem}-{n}.yaml", n + 1
    used.add(name)
    return name


# ---- Helm chart -----------------------------------------------------------------------------------

def helm_chart(name: str, source: str, objects: list[dict]) -> dict[str, str]:
    """Chart.yaml, values.yaml, templates/ and crds/ for `objects` (read from `source`)."""
    values, kinds, knobs = _values(objects)
    files = {"Chart.yaml": _chart_yaml(name, source, objects), ".helmignore": _HELMIGNORE,
             "templates/_helpers.tpl": _HELPERS.replace("CHART", name)}
    files["values.yaml"] = _values_yaml(name, source, values, kinds)
    used: set = set()
    for obj, obj_knobs in zip(objects, knobs, strict=True):
        if obj["kind"] == CRD:  # Helm installs crds/ as they are, before the templates
            files[f"crds/{_file_name(obj, used)}"] = dump_all([obj], sort_keys=False)
        else:
            files[f"templates/{_file_name(obj, used)}"] = _template(obj, obj_knobs, name)
    return files


def _chart_yaml(name: str, source: str, objects: list[dict]) -> str:
    workloads = sorted((o for o in objects if containers_of(o)), key=lambda o: _MAIN_KINDS.index(o["kind"]))
    images = [parse_image(c.get("image")) for o in workloads
              for c in _dig(o, POD_SPEC[o["kind"]]).get("containers") or [] if isinstance(c, dict)]
    tags = [image["tag"] for image in images if image and image["tag"]]
    chart = {"apiVersion": "v2", "name": name, "description": f"{name}, packaged by fluxgen from {source}",
             "type": "application", "version": CHART_VERSION}
    if tags:
        chart["appVersion"] = tags[0]
    return dump(chart)


def _values(objects: list[dict]) -> tuple[dict, dict, list[list[tuple]]]:
    """values.yaml content, the kind of each entry, and for each object its knobs:
    (field in the object, path in the values, what it is)."""
    values: dict = {}
    kinds: dict = {}
    knobs: list[list[tuple]] = []
    keys = iter(_values_keys([obj for obj in objects if containers_of(obj)]))
    for obj in objects:
        containers = containers_of(obj)
        mine: list[tuple] = []
        knobs.append(mine)
        if not containers:
            continue
        key = next(keys)
        entry: dict = {}
        replicas = _dig(obj, ("spec", "replicas"))
        if obj["kind"] in SCALABLE and isinstance(replicas, int) and not isinstance(replicas, bool):
            entry["replicas"] = replicas
            mine.append((("spec", "replicas"), (key, "replicas"), "replicas"))
        entry["containers"] = {}
        for container in containers:
            name, knob = container["name"], {}
            image = parse_image(container.get("image"))
            if image:
                knob["image"] = {k: v for k, v in image.items() if v or k == "repository"}
                mine.append(((id(container), "image"), (key, "containers", name, "image"), "image"))
            resources = container.get("resources", {})
            if isinstance(resources, dict) and (resources or "resources" not in container):
                knob["resources"] = resources  # {} renders nothing: a field that was not there stays away
                mine.append(((id(container), "resources"), (key, "containers", name, "resources"), "resources"))
            entry["containers"][name] = knob
        values[key], kinds[key] = entry, obj["kind"]
    return values, kinds, knobs


def _values_keys(workloads: list[dict]) -> list[str]:
    """One values.yaml key per workload: its name, or `name-kind` where two workloads share a name
    (with a number added where even that is taken)."""
    names = [obj["metadata"]["name"] for obj in workloads]
    unique = {name for name in names if names.count(name) == 1}
    used = set(unique)
    keys = []
    for obj, name in zip(workloads, names, strict=True):
        key = name
        if name not in unique:
            key = base = f"{name}-{obj['kind'].lower()}"
            number = 2
            while key in used:
                key, number = f"{base}-{number}", number + 1
            used.add(key)
        keys.append(key)
    return keys


def _values_yaml(name: str, source: str, values: dict, kinds: dict) -> str:
    head = (f"# Values of the {name} chart, packaged by fluxgen from {source}.\n"
            "# One entry per workload: replicas, and each container's image and resources.\n"
            "# The defaults render the manifests exactly as they were written.\n")
    if not values:
        return head + "{}\n"
    return head + "".join(f"\n# {kinds[key]} {key}\n" + dump({key: entry}) for key, entry in values.items())


def _template(obj: dict, knobs: list[tuple], chart: str) -> str:
    """The object as a Helm template: its own text with `{{` escaped and the knobs in place."""
    token = hashlib.sha256(repr(obj).encode()).hexdigest()[:16]
    text = dump_all([_with_markers(obj, knobs, token)], sort_keys=False)
    while text.count(f"knob-{token}-") != len(knobs):  # the input itself holds the marker: pick another
        token = hashlib.sha256(token.encode()).hexdigest()[:16]
        text = dump_all([_with_markers(obj, knobs, token)], sort_keys=False)
    text = text.replace("{{", '{{ "{{" }}')

    def action(match) -> str:
        _, values_path, kind = knobs[int(match[4])]
        lookup = "(index .Values " + " ".join(json.dumps(part) for part in values_path) + ")"
        return _action(match, kind, lookup, chart)

    return re.sub(rf"^( *)(- )?(\S+): knob-{token}-(\d+)$", action, text, flags=re.M)


def _with_markers(obj: dict, knobs: list[tuple], token: str) -> dict:
    """A copy of `obj` with each knob's field replaced by a plain marker string."""
    originals = {id(c) for c in containers_of(obj)}
    copies: dict[int, dict] = {}  # id of an original container -> its copy

    def copy(value):
        if isinstance(value, list):
            return [copy(item) for item in value]
        if not isinstance(value, dict):
            return value
        result = {key: copy(item) for key, item in value.items()}
        if id(value) in originals:  # the name first, so a marked field never starts a list item
            result = {"name": result["name"], **result}
            copies[id(value)] = result
        return result

    marked = copy(obj)
    for number, (field, _, _) in enumerate(knobs):
        marker = f"knob-{token}-{number}"
        if isinstance(field[0], int):  # (id of a container, key)
            copies[field[0]][field[1]] = marker
        else:
            _dig(marked, field[:-1])[field[-1]] = marker
    return marked


def _action(match, kind: str, lookup: str, chart: str) -> str:
    indent, dash, key = match[1], match[2] or "", match[3]
    if kind == "image":
        return f'{indent}{dash}{key}: {{{{ include "{chart}.image" {lookup} }}}}'
    if kind == "replicas":
        return f"{indent}{dash}{key}: {{{{ {lookup} }}}}"
    inner = indent + " " * len(dash)
    return (f"{indent}{dash}{{{{- with {lookup} }}}}\n{inner}{key}:\n"
            f"{inner}  {{{{- toYaml . | nindent {len(inner) + 2} }}}}\n{inner}{{{{- end }}}}")


_HELPERS = """{{/* An image reference from its parts: repository[:tag][@digest], as one quoted string. */}}
{{- define "CHART.image" -}}
{{- $ref := toString .repository -}}
{{- with .tag }}{{ $ref = printf "%s:%s" $ref (toString .) }}{{ end -}}
{{- with .digest }}{{ $ref = printf "%s@%s" $ref (toString .) }}{{ end -}}
{{- $ref | toJson -}}
{{- end -}}
"""

_HELMIGNORE = "# The Flux objects fluxgen writes beside this chart are not part of it.\n" + \
    "".join(f"{name}\n" for name in FLUX_FILES) + ".fluxgen.sum\n"


# ---- Kustomize overlay ----------------------------------------------------------------------------

def overlay(objects: list[dict]) -> dict[str, str]:
    """kustomization.yaml (images and replicas adjustable) over base/ holding the objects."""
    files: dict[str, str] = {}
    used: set[str] = set()
    for obj in objects:
        files[f"base/{_file_name(obj, used)}"] = dump_all([obj], sort_keys=False)
    resources = [path[len("base/"):] for path in files]
    files["base/kustomization.yaml"] = dump({"apiVersion": "kustomize.config.k8s.io/v1beta1",
                                             "kind": "Kustomization", "resources": resources})
    top: dict[str, object] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                              "resources": ["base"]}
    images, replicas = _kustomize_images(objects), _kustomize_replicas(objects)
    if images:
        top["images"] = images
    if replicas:
        top["replicas"] = replicas
    files["kustomization.yaml"] = dump(top)
    return files


def _all_containers(value) -> list[dict]:
    """Containers anywhere in an object: kustomize's image transformer looks everywhere."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("containers", "initContainers") and isinstance(item, list):
                found += [c for c in item if isinstance(c, dict)]
            found += _all_containers(item)
    elif isinstance(value, list):
        for item in value:
            found += _all_containers(item)
    return found


def _kustomize_images(objects: list[dict]) -> list[dict]:
    """One `images` entry per repository whose every use has the same tag (or digest), so that
    setting it changes nothing until a user edits it."""
    uses: dict[str, set] = {}
    for obj in objects:
        for container in _all_containers(obj):
            image = parse_image(container.get("image"))
            if image is None:
                if isinstance(container.get("image"), str):
                    uses.setdefault(container["image"].split("@")[0].rsplit(":", 1)[0], set()).add(None)
                continue
            uses.setdefault(image["repository"], set()).add((image["tag"], image["digest"]))
    entries = []
    references = {container["image"] for obj in objects for container in _all_containers(obj)
                  if isinstance(container.get("image"), str)}
    for repository, seen in uses.items():
        if len(seen) != 1 or None in seen:
            continue
        tag, digest = next(iter(seen))
        if tag and digest or not (tag or digest):  # kustomize would drop the tag, or has nothing to set
            continue
        entries.append({"name": _image_name(repository, references),
                        **({"newTag": tag} if tag else {"digest": digest})})
    return entries


def _image_name(repository: str, references: set[str]) -> str:
    """The `images[].name` that matches exactly this repository. kustomize reads the name as a
    regular expression (`^NAME(@sha256)?(:tag)?$`), so `registry.local/app` would also match
    `registry-local/app`: where another image would match, the name is escaped."""
    def matches(name: str) -> set[str]:
        return {ref for ref in references if re.fullmatch(f"{name}(@sha256)?(:[a-zA-Z0-9_.{{}}-]*)?", ref)}

    own = {ref for ref in references if (parse_image(ref) or {}).get("repository") == repository}
    try:
        if matches(repository) <= own:
            return repository
    except re.error:  # not a valid expression at all: escape it
        pass
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", repository)


def _kustomize_replicas(objects: list[dict]) -> list[dict]:
    """One `replicas` entry per name whose every scalable object states the same count (kustomize
    sets the count on every Deployment, StatefulSet, ... of that name, creating it if missing)."""
    counts: dict[str, set] = {}
    for obj in objects:
        if obj["kind"] in SCALABLE:
            replicas = _dig(obj, ("spec", "replicas"))
            counts.setdefault(obj["metadata"]["name"], set()).add(
                replicas if isinstance(replicas, int) and not isinstance(replicas, bool) else None)
    return [{"name": name, "count": int(next(iter(seen)))} for name, seen in counts.items()
            if len(seen) == 1 and None not in seen]
