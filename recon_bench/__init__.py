"""Scale and performance (issue 8): the plan guard for hot queries and ``sge-recon bench``."""
