"""sim: traffic models, the virtual-time runner that drives the production switchboard, and
queueing theory to check it against.
"""
