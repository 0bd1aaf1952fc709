"""Background work: the Dramatiq broker and thin actors that call the domain."""
