"""The released Avro schemas of the ledger's messages, one folder per full name: `<full name>/v<N>.avsc`.

A package only so that the files ship with the wheel; the schema registry (ledger.contracts.codec) finds them
with importlib.resources, wherever the package is installed. Released files never change: a new version is a
new file."""
