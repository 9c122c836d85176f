"""The HTTP API: the ledger as a TM Forum Open API service (TMF666, TMF678, TMF676 v4) beside the CLI.

`app.create_app(parts)` builds the FastAPI app from the parts bootstrap wires (`ledger.bootstrap.api_parts`);
`server.app` is the factory `ledger serve` gives uvicorn. One router module per resource.
"""
