"""Datasets: published Patch-seq tables (and, later, demo data and remote clients)."""
