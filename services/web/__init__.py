"""The web front end: the pages learners, employers and (later) staff use, server-rendered, signing people in at the
university's OpenID Connect provider and calling the node's services with their tokens."""
