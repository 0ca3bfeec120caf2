"""Scripts that install, start and demonstrate a node; `deploy.journey` drives a node as its users would."""
