"""Tools for working on payerkb, shared by the tests and the benchmarks (which must not import
each other): start a server process, write a synthetic knowledge base, put a server under load.
Nothing that serves or builds the knowledge base imports this package."""
