"""The cerberus schema itself: fluxgen skips cerberus' check of it at start-up, so it runs here."""

import cerberus

from fluxgen.schema import SCHEMA
from fluxgen.validator import validator_for


def test_cerberus_accepts_the_schema_as_written():
    checked = cerberus.Validator(SCHEMA)  # raises SchemaError for an unknown rule or a bad constraint
    assert checked.schema.schema == validator_for("spec", SCHEMA).schema.schema  # and needs no expansion at run time
