"""The cerberus schema itself: fluxgen skips cerberus' check of it at start-up, so it runs here."""

import cerberus

from fluxgen.schema import SCHEMA
from fluxgen.spec import _validator


def test_cerberus_accepts_the_schema_as_written():
    checked = cerberus.Validator(SCHEMA)  # raises SchemaError for an unknown rule or a bad constraint
    assert checked.schema.schema == _validator().schema.schema  # and needs no expansion at run time
