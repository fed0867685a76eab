"""The steps of `render` in order: read the spec, then build the objects."""

from fluxgen.resources import build_resources
from fluxgen.spec import load_spec


def resources_for(spec_file: str) -> list[tuple[str, dict]]:
    """(folder, object) pairs for every Flux object the spec at `spec_file` asks for."""
    spec = load_spec(spec_file)
    return build_resources(spec["apps"])
