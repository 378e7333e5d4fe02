"""Repositories: the queries each feature asks, named for the question they answer."""
