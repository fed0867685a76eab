"""fluxgen: turn one short fluxgen.yaml into the Flux objects a GitOps repository needs."""

__version__ = "0.3.0"
