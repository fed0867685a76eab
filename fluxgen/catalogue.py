"""The `sources:` catalogue: entries declared once by name, and the references apps make to them.

Pure. An entry is checked against the fields of its own kind (schema.SOURCE_ENTRIES); a
reference is NAME or NAMESPACE/NAME of an entry, or Flux's mapping, which may also name an
object managed elsewhere (taken as is).
"""

import re

from fluxgen.errors import Problem
from fluxgen.fastcheck import validated
from fluxgen.problems import Where, article, did_you_mean, messages
from fluxgen.schema import SOURCE_ENTRIES
from fluxgen.sources import Source

ALLOWED = {  # the kinds Flux allows at each reference, and where to look for the others
    ("sourceRef",): ("GitRepository", "OCIRepository", "Bucket", "ExternalArtifact"),
    ("chart", "sourceRef"): ("HelmRepository", "GitRepository", "Bucket"),
    ("chartRef",): ("OCIRepository", "HelmChart", "ExternalArtifact"),
}
INSTEAD = {"OCIRepository": "chartRef", "HelmRepository": "chart.sourceRef", "GitRepository": "chart.sourceRef"}
_NOT_SPEC = ("kind", "name", "namespace", "existing", "url", "ref", "layer")  # every other key is a spec field


def declared_sources(entries: list[dict], namespace: str) -> list[Source]:
    """The Source of each entry (as check() returned it), in the order written. A Git entry that
    is generated without a ref gets `branch: main`, as inline Git sources do; an existing one
    without a ref matches any ref."""
    return [Source(entry["kind"], entry.get("namespace", namespace), entry.get("url"),
                   dict(entry.get("ref") or ({"branch": "main"} if entry["kind"] == "GitRepository" and not
                                             entry.get("existing") else {})),
                   {key: value for key, value in entry.items() if key not in _NOT_SPEC}, entry["name"],
                   existing=bool(entry.get("existing")), declared=True, layer=entry.get("layer"), entry=index)
            for index, entry in enumerate(entries)]


def check(entries: list[dict], default_namespace: str, where: Where) -> tuple[list[dict], list[Problem]]:
    """The entries as read (numbers in text fields back to the text written), and every problem:
    fields of another kind, a missing or wrong URL, spec fields on an existing entry, more than
    one Git ref, two entries for one object."""
    problems: list[Problem] = []
    checked: list[dict] = []
    seen: dict[tuple, int] = {}
    for index, raw in enumerate(entries):
        at = ("sources", index)
        fields = SOURCE_ENTRIES[raw["kind"]]
        entry, errors = validated(f"source:{raw['kind']}", fields, raw)
        if entry is None:
            problems += [where(at + path, message) for path, message in messages(errors, fields)]
            continue
        checked.append(entry)
        problems += _url(entry, at, where)
        spec = sorted(set(entry) - set(_NOT_SPEC))
        if entry.get("existing") and spec:
            problems.append(where(at + (spec[0],), "an existing source is referenced, never generated: give only "
                                                   "kind, name, namespace and, for matching, url and ref"))
        if not entry.get("existing") and "url" not in entry:
            problems.append(where(at, f"{article(entry['kind'])} needs a url (or existing: true for one made "
                                      "elsewhere)"))
        refs = sorted(entry.get("ref", {}))
        if entry["kind"] == "GitRepository" and len(refs) > 1 and refs != ["branch", "commit"]:
            problems.append(where(at + ("ref",), f"give one Git ref (commit may join a branch), not "
                                                 f"{' and '.join(refs)}"))
        key = (entry["kind"], entry.get("namespace", default_namespace), entry["name"])
        if key in seen:
            problems.append(where(at + ("name",), f"sources[{seen[key]}] is already the {entry['kind']} "
                                                  f"{entry['name']!r} of this namespace"))
        seen.setdefault(key, index)
    return checked, problems


def _url(entry: dict, at: tuple, where: Where) -> list[Problem]:
    """The URL schemes Flux takes for each kind (the CRD patterns, and type: oci for OCI Helm repositories)."""
    url, kind = str(entry.get("url", "")), entry["kind"]
    if not url:
        return []
    if kind == "OCIRepository" and not url.startswith("oci://"):
        return [where(at + ("url",), "an OCIRepository reads oci:// URLs")]
    if kind == "OCIRepository" and re.search(r"(:[^/]*|@sha256.*)$", url[6:].split("/", 1)[-1]):
        return [where(at + ("url",), "must not carry a tag or digest; put it in ref.tag or ref.digest")]
    if kind == "HelmRepository" and url.startswith("oci://") != (entry.get("type") == "oci"):
        return [where(at + ("url",), "an oci:// HelmRepository needs type: oci, and type: oci needs an oci:// URL")]
    return []


def allowed_kinds(app: dict, field: tuple) -> tuple[str, ...]:
    """The source kinds a reference may name: a chart by name comes from a HelmRepository (or a
    Bucket), a chart by path from Git (or a Bucket)."""
    if field == ("chart", "sourceRef"):
        return ("GitRepository", "Bucket") if "path" in app.get("chart", {}) else ("HelmRepository", "Bucket")
    return ALLOWED[field]


def resolve(value: object, field: tuple, namespace: str, catalogue: list[Source],
            allowed: tuple[str, ...] | None = None) -> Source | str:
    """The source a reference names, or why it names none. `namespace` is the app's, which Flux
    assumes when the reference gives none."""
    allowed = allowed or ALLOWED[field]
    if isinstance(value, dict):
        name, wanted_namespace, kind = value["name"], value.get("namespace", namespace), value.get("kind")
    else:
        wanted_namespace, _, name = str(value).rpartition("/")
        wanted_namespace, kind = wanted_namespace or None, None
    if kind is not None and kind not in allowed:
        return f"{kind} cannot be used here; {_field(field)} takes {' or '.join(allowed)}"
    named = [s for s in catalogue if s.name == name and (kind is None or s.kind == kind)]
    candidates = [s for s in named if wanted_namespace in (None, s.namespace)]
    fitting = [s for s in candidates if s.kind in allowed]
    if len(fitting) > 1:
        fitting = [s for s in fitting if s.namespace == namespace] or fitting
    if len(fitting) == 1:
        return fitting[0]
    if fitting:
        where = ", ".join(f"{s.kind} {s.namespace}/{s.name}" for s in fitting)
        how = "{kind: ..., name: ..., namespace: ...}" if len({s.kind for s in fitting}) > 1 else "NAMESPACE/NAME"
        return f"more than one sources: entry is named {name!r} ({where}); write {how}"
    if kind is not None:  # an object managed elsewhere, taken as Flux would read it
        return Source(kind, wanted_namespace or namespace, None, {}, {}, name, existing=True)
    if candidates:
        other = candidates[0].kind
        instead = f" (use {INSTEAD[other]})" if INSTEAD.get(other, _field(field)) != _field(field) and \
            field != ("sourceRef",) else ""
        if field == ("chart", "sourceRef") and other in ("GitRepository", "HelmRepository"):
            instead = " (a chart is given by its path in Git, by its name in a HelmRepository)"
        return f"{name!r} is {article(other)}; {_field(field)} takes {' or '.join(allowed)}{instead}"
    if named:  # the name exists, in another namespace
        elsewhere = ", ".join(f"{s.namespace}/{s.name}" for s in named)
        return (f"sources: has {elsewhere}, not in namespace {wanted_namespace or namespace}; write "
                f"{named[0].namespace}/{name} (a reference without a namespace means the app's)")
    return f"no sources: entry is named {name!r}" + did_you_mean(name, {s.name for s in catalogue if s.name})


def _field(field: tuple) -> str:
    return ".".join(field)
