"""The reference platform (DESIGN §6): the admin API, the settlement worker, the webhook dispatcher
and live traffic, against the platform schema of §4. The real SGE service is not available here;
this is a faithful stand-in that the console, the demo and the fault tests talk to.
"""
