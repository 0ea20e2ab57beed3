"""Demo/synthetic data generators and dataset clients (the only package besides ``io`` that
touches files or the network)."""
