"""Training: contrastive losses, mesh and sharding, train state and the jitted (GradCache) step."""
