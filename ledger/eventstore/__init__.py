"""The event store: the eventsourcing application, its recorders, pool, transcoder and fast read paths."""
