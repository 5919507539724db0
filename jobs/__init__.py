"""The scheduler entrypoint (DESIGN §2), thin: ``python -m jobs`` is ``sge-recon scheduler``.

The jobs themselves — what runs when — are declared in :mod:`jobs.definitions`; what each job does
lives in the library (``sge_recon.scheduling.jobs``), so the CLI, the demo and this entrypoint all
run exactly the same schedule.
"""
