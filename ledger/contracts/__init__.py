"""Avro contracts of the ledger: the schema registry and codec, outbound ledger events, the inbound charge message."""

from ledger.contracts.codec import HEADER_SIZE, MAGIC, SCHEMA_DIR, SchemaRegistry, SchemaVersion, canonical_fingerprint
from ledger.contracts.errors import ContractError, InvalidSchemaFile, UndecodableMessage, UnencodableRecord, UnknownSchema
from ledger.contracts.ledger_events import account_position, event_id, event_type, schema_name, to_record
from ledger.contracts.rating import CHARGE_SCHEMA, charge_command_input, charge_record

__all__ = [
    "CHARGE_SCHEMA", "HEADER_SIZE", "MAGIC", "SCHEMA_DIR", "ContractError", "InvalidSchemaFile", "SchemaRegistry",
    "SchemaVersion", "UndecodableMessage", "UnencodableRecord", "UnknownSchema", "account_position",
    "canonical_fingerprint", "charge_command_input", "charge_record", "event_id", "event_type", "schema_name", "to_record",
]
