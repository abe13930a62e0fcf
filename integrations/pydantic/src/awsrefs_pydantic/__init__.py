"""awsrefs integration (work in progress)."""
