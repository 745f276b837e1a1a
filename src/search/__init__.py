"""The search, on the root rank only: ask -> evaluate -> tell -> report -> checkpoint."""
