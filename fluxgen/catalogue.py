"""The `sources:` catalogue: entries declared once by name, and the references apps make to them.

Pure. An entry is checked against the fields of its own kind (schema.SOURCE_ENTRIES); a
reference is NAME or NAMESPACE/NAME of an entry, or Flux's mapping, which may also name an
object managed elsewhere (taken as is).
"""

from fluxgen.errors import Problem
from fluxgen.problems import Where, article, did_you_mean, messages
from fluxgen.schema import SOURCE_ENTRIES
from fluxgen.sources import Source
from fluxgen.validator import validator_for

ALLOWED = {  # the kinds Flux allows at each reference, and where to look for the others
    ("sourceRef",): ("GitRepository", "OCIRepository", "Bucket", "ExternalArtifact"),
    ("chart", "sourceRef"): ("HelmRepository", "GitRepository", "Bucket"),
    ("chartRef",): ("OCIRepository", "HelmChart", "ExternalArtifact"),
}
INSTEAD = {"OCIRepository": "chartRef", "HelmRepository": "chart.sourceRef", "GitRepository": "chart.sourceRef"}
_SHAPE = ("kind", "name", "namespace", "existing", "url", "ref")


def declared_sources(entries: list[dict], defaults: dict) -> list[Source]:
    """The Source of each entry (checked first), in the order written."""
    namespace = defaults.get("sourceNamespace", defaults.get("namespace", "flux-system"))
    return [Source(entry["kind"], entry.get("namespace", namespace), entry.get("url"), dict(entry.get("ref", {})),
                   {key: value for key, value in entry.items() if key not in _SHAPE}, entry["name"],
                   existing=bool(entry.get("existing")), declared=True)
            for entry in entries]


def check(entries: list[dict], default_namespace: str, where: Where) -> list[Problem]:
    """Every problem with the entries: fields of another kind, a missing URL, spec fields on an
    existing entry, more than one Git ref, two entries for one object."""
    problems: list[Problem] = []
    seen: dict[tuple, int] = {}
    for index, entry in enumerate(entries):
        at = ("sources", index)
        fields = SOURCE_ENTRIES[entry["kind"]]
        validator = validator_for(f"source:{entry['kind']}", fields)
        if not validator.validate(entry):
            problems += [where(at + path, message) for path, message in messages(validator._errors, fields)]
            continue
        spec = sorted(set(entry) - set(_SHAPE))
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
    return problems


def resolve(value: object, field: tuple, namespace: str, catalogue: list[Source]) -> Source | str:
    """The source a reference names, or why it names none. `namespace` is the app's, which Flux
    assumes when the reference gives none."""
    allowed = ALLOWED[field]
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
        where = ", ".join(f"{s.namespace}/{s.name}" for s in fitting)
        return f"more than one sources: entry is named {name!r} ({where}); write NAMESPACE/NAME"
    if kind is not None:  # an object managed elsewhere, taken as Flux would read it
        return Source(kind, wanted_namespace or namespace, None, {}, {}, name, existing=True)
    if candidates:
        other = candidates[0].kind
        instead = f" (use {INSTEAD[other]})" if other in INSTEAD else ""
        return f"{name!r} is {article(other)}; {_field(field)} takes {' or '.join(allowed[:2])}{instead}"
    return f"no sources: entry is named {name!r}" + did_you_mean(name, {s.name for s in catalogue if s.name})


def _field(field: tuple) -> str:
    return ".".join(field)
