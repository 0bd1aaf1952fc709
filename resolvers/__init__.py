"""Thin resolvers: authorize, load through the viewer's scope, call the domain, map errors. Plus DataLoaders."""
