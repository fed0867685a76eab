"""Helm values: read valuesFiles into each app, refuse numbers Kubernetes cannot store, and warn
about credentials written into values (they would land in Git).

Reads only files inside the spec's folder, never through a link that leads out of it.
"""

import re
from pathlib import Path

from fluxgen import document, files
from fluxgen.errors import Problem, SpecError
from fluxgen.problems import Where


def read_values(apps: list[dict], base: Path, where: Where) -> list[Problem]:
    """Merge each app's valuesFiles (in order, `values` on top) into app["values"]; return problems."""
    from fluxgen.spec import deep_merge

    read: dict[Path, object] = {}  # apps often share a values file: read and parse it once
    problems: list[Problem] = []
    for index, app in enumerate(apps):
        merged: dict = {}
        for i, relative in enumerate(app.get("valuesFiles", [])):
            data = _values_file(base, relative, ("apps", index, "valuesFiles", i), where, read, problems)
            if isinstance(data, dict):
                merged = deep_merge(merged, data)
        if "valuesFiles" in app and not problems:
            app["values"] = deep_merge(merged, app.get("values", {}))
        problems += [where(path, f"{value} does not fit in 64 bits, so Kubernetes would store another number; quote "
                                 "it to keep it as text")
                     for path, value in _huge_integers(app.get("values"), ("apps", index, "values"))]
    return problems


def _values_file(base: Path, relative: str, at: tuple, where: Where, read: dict, problems: list) -> object:
    path = base / relative
    real = files.inside(base, relative)
    if real is None:
        problems.append(where(at, f"{path} leads out of the spec's folder (through a symbolic link); values files "
                                  "must be inside it"))
        return None
    if real not in read:
        try:
            read[real] = document.load(document.decode(files.read_bytes(real), str(path)), str(path))[0]
        except files.Unreadable as err:
            said = f"{path} does not exist" if str(err) == "No such file or directory" else f"cannot read {path}: {err}"
            problems.append(where(at, said))
            read[real] = None
        except SpecError as err:
            problems += err.problems
            read[real] = None
    data = read[real]
    if data is not None and not isinstance(data, dict):
        problems.append(where(at, f"{path} must hold a mapping of Helm values"))
    return data


def _huge_integers(value, path: tuple):
    """Integers the API server's JSON decoder (int64) cannot hold: (path, value) for each."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _huge_integers(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _huge_integers(item, path + (i,))
    elif isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**63:
        yield path, value


# A key that names a credential...
_CREDENTIAL = re.compile(r"(?i)(password|passwd|passphrase|token|secret|credential|api[-_]?key|access[-_]?key"
                         r"|private[-_]?key|client[-_]?key)")
# ...unless it names where a credential is kept (existingSecret, passwordKey, secretName, ...) or
# something about it (tokenTTL, secret-namespace); annotations and labels are never credentials.
_REFERENCE = re.compile(r"(?i)(existing|(name|names|namespace|ref|refs|enabled|create|file|path|paths|mount|mountpath"
                        r"|dir|kind|type|provider|store|class|selector|annotations?|labels?|length|ttl|expiry"
                        r"|expiration|format|template|prefix|suffix|policy|mode|rotation|duration|seconds|interval)$"
                        r"|(password|passwd|token|secret)[-_]?key$|keyref)")
_NOT_CREDENTIALS = re.compile(r"(?i)(annotations|labels)$")
_PEM_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_SUBSTITUTED = re.compile(r"\$\{[^}]+\}|\{\{.*\}\}")  # Flux postBuild variables, Helm templates


def credential_warnings(apps: list[dict], where: Where) -> list[Problem]:
    """Credentials written into values: they would land in Git; say how to keep them out."""
    origin = {True: "", False: " (from valuesFiles)"}
    return sorted(where(path, f"looks like a credential{origin[path in where.lines]}; keep it out of Git: put it in "
                              f"a Secret and use valuesFrom: [{{kind: Secret, name: ..., valuesKey: ..., "
                              f"targetPath: {target_path(path[3:])}}}]")
            for index, app in enumerate(apps) for path in _credentials(app.get("values"), ("apps", index, "values")))


def target_path(path: tuple) -> str:
    """A values path as Helm's --set (and valuesFrom.targetPath) writes it: a.b[0].c, dots escaped."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else ("." if text else "") + str(part).replace(".", "\\.")
    return text


def _credentials(value, path: tuple):
    """Paths of values whose key names a credential and that hold one (not a reference to a Secret),
    and of private keys wherever they are."""
    if isinstance(value, dict):
        for key, item in value.items():
            if _NOT_CREDENTIALS.search(key) or "/" in key:  # annotations, labels, qualified names
                continue
            if isinstance(item, (dict, list)):
                yield from _credentials(item, path + (key,))
            elif isinstance(item, str) and _PEM_KEY.search(item):
                yield path + (key,)
            elif _CREDENTIAL.search(key) and not _REFERENCE.search(key) and item not in (None, "", False, True) \
                    and not (isinstance(item, str) and _SUBSTITUTED.search(item)):
                yield path + (key,)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _credentials(item, path + (i,))
