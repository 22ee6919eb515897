"""cti-server: a CTI server with a pluggable ACD routing core.

``cti.core`` is the sans-IO switchboard; the rest of ``cti`` holds the shells around it
(configuration, command line, and in later releases the runtime, bus, store and metrics).
"""

__version__ = "0.1.0"
