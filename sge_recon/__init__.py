"""sge-recon library."""
