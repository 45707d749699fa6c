"""Started by Python in every rig child (this directory is on their PYTHONPATH): when
``PUSHDEPLOY_RIG_LEDGER`` names a file, every botocore call the process makes is appended to it.

Why here: the ledger must see the product's own calls without a patch of the product, so the recorder is an
event hook that every botocore Session registers (localrig/ledger/recorder.py). It is loaded by file path so
that a child's ``import localrig`` (or its absence) is never changed by it; without the variable nothing is
imported at all.
"""

import os

if os.environ.get("PUSHDEPLOY_RIG_LEDGER"):
    import importlib.util as _util

    _path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "recorder.py")
    _spec = _util.spec_from_file_location("pushdeploy_rig_ledger_recorder", _path)
    if _spec is not None and _spec.loader is not None:
        _module = _util.module_from_spec(_spec)
        _spec.loader.exec_module(_module)
        _module.install(os.environ["PUSHDEPLOY_RIG_LEDGER"])
