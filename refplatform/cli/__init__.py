"""The reference platform's commands (demo, api, worker, traffic, simulate, sge-queues), named in
sge_recon.cli.COMMANDS and imported only when run."""
