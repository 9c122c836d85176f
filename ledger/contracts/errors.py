"""Errors of the Avro contracts: messages that cannot be decoded, records that cannot be encoded, bad schema files."""

from __future__ import annotations

from ledger.errors import LedgerError


class ContractError(LedgerError):
    """Root of the contract errors (schemas, encoding, decoding)."""

    code = "contract_error"


class UndecodableMessage(ContractError):
    """A message is not a valid Avro single-object message of a known schema (bad magic, truncated, bad body)."""

    code = "undecodable_message"


class UnknownSchema(UndecodableMessage):
    """A message names a writer schema (by fingerprint) that this registry does not hold; `context['fingerprint']` is its hex."""

    code = "unknown_schema"


class UnencodableRecord(ContractError):
    """A record does not fit its schema, or no schema has that name."""

    code = "unencodable_record"


class InvalidSchemaFile(ContractError):
    """A schema file under schemas/ is not a valid, consistently named and versioned Avro schema."""

    code = "invalid_schema_file"
