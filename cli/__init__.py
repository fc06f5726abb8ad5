"""The `socpipe` command line: the top layer, the only one that may import every stage."""
