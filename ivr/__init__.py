"""ivr: IVR flows (menus, digit collection, self-service), a pure engine the switchboard runs.

Empty in this release; the IVR issue fills it. Like ``acd/`` it may import only the standard
library (and pydantic for the flow schema), never I/O.
"""
