"""Benchmarks of the leaderboard engine (contract section 8); see bench/README.md."""
