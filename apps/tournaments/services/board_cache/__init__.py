"""The board cache in Redis: `keys` (layout, versions, TTL), `store` (reads, version-checked
writes, the compute lock, deletion by board or scope, the page read that shares the rate limit's
round trip) and `invalidation` (the receiver of "results changed": recorded in the writer's
transaction, applied after its commit, drained later when Redis was away)."""
