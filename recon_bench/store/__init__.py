"""The bench tooling's own data access (floors, plans, copies, server statistics, the export
baselines); it uses the product's Database and, where it measures it, the product's SQL."""
