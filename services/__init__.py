"""The five services of a node. Each is shaped the same way and none imports another: they share only events."""
