"""The cerberus Validator fluxgen checks with, and one cached instance per schema.

Three changes to cerberus' own rules, where they let wrong values through or crash: a pattern
must match the whole value (cerberus' `$` also matches before a final newline, so "web\\n"
passed), an integer is never a boolean (Python's True is an int), and a `null` cerberus has
already refused is not handed to the field's own checks.
"""

import re

import cerberus
import cerberus.schema
from cerberus import errors


class Validator(cerberus.Validator):
    types_mapping = cerberus.Validator.types_mapping | {
        "integer": cerberus.TypeDefinition("integer", (int,), (bool,))}

    def _validate_regex(self, pattern, field, value):
        """{'type': 'string'}"""
        if isinstance(value, str) and not re.fullmatch(pattern, value):
            self._error(field, errors.REGEX_MISMATCH)

    def _validate_check_with(self, checks, field, value):
        """{'oneof': [{'type': 'callable'}, {'type': 'list', 'schema': {'oneof': [{'type': 'callable'},
        {'type': 'string'}]}}, {'type': 'string'}]}"""
        if value is not None:
            super()._validate_check_with(checks, field, value)


class _TrustedSchema(cerberus.schema.DefinitionSchema):
    """A schema as it is, without cerberus' check of the schema itself: that check costs more than
    reading a typical spec, at every start. tests/test_schema.py runs it instead."""

    def validate(self, schema=None):
        pass


_CACHE: dict[str, Validator] = {}


def validator_for(key: str, schema: dict) -> Validator:
    """The validator of `schema`, built once per process under `key`."""
    if key not in _CACHE:
        validator = _CACHE[key] = Validator()
        validator.schema = _TrustedSchema(validator, schema)
    return _CACHE[key]
