"""read_manifests: a folder of plain Kubernetes manifests -> the objects in it, checked.

Reads every .yaml, .yml and .json file below the folder (in sorted path order, so the result
never depends on the file system), every document of a YAML stream, and the items of a
`kind: List`. Each object must have apiVersion, kind and metadata.name, and no two objects may
share a kind and name. Problems name the file and line.
"""

import json
from pathlib import Path

from fluxgen import document
from fluxgen.errors import SpecError

SUFFIXES = (".yaml", ".yml", ".json")


def read_manifests(folder: Path, shown: str) -> list[dict]:
    """[{file, line, object}] for every object under `folder` (called `shown` in messages)."""
    if not folder.is_dir():
        raise SpecError([f"{shown}: no such folder"])
    files = sorted(p for p in folder.rglob("*") if p.suffix in SUFFIXES and p.is_file())
    found, problems = [], []
    for path in files:
        name = f"{shown}/{path.relative_to(folder).as_posix()}"
        try:
            documents = _documents(path, name)
        except SpecError as err:
            problems += err.problems
            continue
        for line, data in documents:
            for item in _items(data):
                problem = _missing_fields(item)
                if problem:
                    problems.append(f"{name}:{line}: {problem}")
                else:
                    found.append({"file": name, "line": line, "object": item})
    if not found and not problems:
        problems.append(f"{shown}: holds no Kubernetes manifests ({', '.join(SUFFIXES)} files)")
    problems += _duplicates(found)
    if problems:
        raise SpecError(problems)
    return found


def _documents(path: Path, name: str) -> list[tuple[int, object]]:
    try:
        text = document.decode(path.read_bytes(), name)
    except OSError as err:
        raise SpecError([f"{name}: cannot read: {err.strerror}"]) from err
    if path.suffix == ".json":
        try:
            return [(1, json.loads(text, object_pairs_hook=_no_duplicate_keys(name)))]
        except json.JSONDecodeError as err:
            raise SpecError([f"{name}:{err.lineno}: not valid JSON: {err.msg}"]) from err
    return document.load_all(text, name)


def _no_duplicate_keys(name: str):
    def build(pairs):
        result = {}
        for key, value in pairs:
            if key in result:
                raise SpecError([f"{name}: duplicate key {key!r} in one JSON object"])
            result[key] = value
        return result
    return build


def _items(data) -> list:
    """The objects in one document: itself, or the items of a List."""
    if isinstance(data, dict) and data.get("kind") == "List" and isinstance(data.get("items"), list):
        return data["items"]
    return [data]


def _missing_fields(obj) -> str | None:
    if not isinstance(obj, dict):
        return "is not a Kubernetes object (a mapping with apiVersion, kind and metadata)"
    missing = [field for field in ("apiVersion", "kind") if not isinstance(obj.get(field), str) or not obj[field]]
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str) or not metadata["name"]:
        missing.append("metadata.name")
    if missing:
        what = f"{obj.get('kind')} object" if isinstance(obj.get("kind"), str) else "object"
        return f"this {what} has no {' or '.join(missing)}"
    return None


def _duplicates(found: list[dict]) -> list[str]:
    first: dict[tuple, dict] = {}
    problems = []
    for item in found:
        obj = item["object"]
        key = (obj["kind"], obj["metadata"]["name"])
        if key in first:
            other = first[key]
            problems.append(f"{item['file']}:{item['line']}: {obj['kind']} {obj['metadata']['name']!r} is also "
                            f"defined in {other['file']}:{other['line']} (one object per kind and name)")
        first.setdefault(key, item)
    return problems
