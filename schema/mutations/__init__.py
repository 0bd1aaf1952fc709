"""Mutations, grouped by what they change; each takes one `input` and returns a payload with `errors`."""
