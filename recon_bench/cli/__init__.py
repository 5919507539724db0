"""The benchmark commands (bench, check-bench, console-bench, profile-bench, replica-bench), named
in sge_recon.cli.COMMANDS and imported only when run."""
