"""Reports an office sends on (the quarterly engagement report)."""
