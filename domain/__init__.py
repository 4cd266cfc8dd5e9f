"""The rules of Order No. 583 as aggregates, events and invariants; pure Python."""
