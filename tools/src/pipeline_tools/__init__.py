"""Orchestration library behind the nox sessions of the pipelines monorepo."""
