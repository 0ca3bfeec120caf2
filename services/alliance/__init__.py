"""Alliance gateway: the node's one client of the alliance's Kafka cluster. It lists the node's public catalogue for
the other members, and takes in theirs, checked against the alliance registry, for the node's catalogue."""
