"""YAML output: every value comes back as the same value, and tricky strings are quoted."""

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fluxgen import output

TRICKY = ["yes", "y", "N", "on", "0755", "1e3", "1.0e3", "0o17", "0x1F", "1_000", "+1", ".inf", "~", "null", "",
          "=", "<<", "{{ x }}", "- a", "a: b", "#x", "multi\nline\n", "  lead\nx", " trail \n", "Grüße 世界 🚀",
          "\t", "12:30:00", "2001-12-14", "a\r\nb", "\x00", "\u2028", "\x85", ".5", "5.", "-0", "a" * 300]

# Text of the characters names, versions and URLs are made of, where readers differ most.
WORDS = st.text(alphabet="-._/:@aeflnoxyNTY0123789", max_size=10)
scalars = st.one_of(st.text(), st.sampled_from(TRICKY), WORDS, st.integers(), st.floats(allow_nan=False),
                    st.booleans(), st.none())
documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                         | st.dictionaries(st.one_of(st.text(), st.sampled_from(TRICKY)), inner, max_size=4),
                         max_leaves=20)


def test_tricky_strings_are_quoted_where_another_reader_would_change_them():
    out = output.dump_all([{"values": TRICKY}])
    assert yaml.safe_load(out) == {"values": TRICKY}
    for text in ("'y'", "'N'", "'1e3'", "'1.0e3'", "'0o17'", "'0755'", "'on'"):
        assert f"- {text}\n" in out
    assert "- Grüße 世界 🚀\n" in out  # unicode stays readable


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.text(), documents, max_size=4), min_size=1, max_size=3))
def test_any_data_reads_back_unchanged(docs):
    assert list(yaml.safe_load_all(output.dump_all(docs))) == docs


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.one_of(st.text(), st.sampled_from(TRICKY), WORDS), documents, min_size=1, max_size=5),
       st.booleans())
def test_the_fast_writer_gives_pyyamls_bytes_or_steps_aside(doc, sort_keys):
    fast = output._fast(doc, sort_keys)
    assert fast is None or fast == output._pyyaml(doc, sort_keys)


def test_the_fast_writer_takes_ordinary_flux_objects():
    release = {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
               "metadata": {"name": "web", "namespace": "flux-system"},
               "spec": {"chart": {"spec": {"chart": "web", "version": ">=1.0.0", "sourceRef": {"kind": "HelmRepository",
                                                                                             "name": "web"}}},
                        "interval": "5m", "install": {"createNamespace": True}, "dependsOn": [{"name": "db"}],
                        "values": {"replicas": 2, "env": [["a", "b"], []], "empty": {}, "on": "y", "note": None}}}
    assert output._fast(release, True) == output._pyyaml(release, True)
