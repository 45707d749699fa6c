"""Ctrl-C in the demo: the rig is still stopped completely, even if the user presses it again."""

import os
import signal

from localrig.demo import stop_shielded


class _RigInterruptedWhileStopping:
    """Stands in for LocalRig: a second Ctrl-C arrives (a real SIGINT) while it is stopping."""

    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        self.stopped = True


def test_a_second_ctrl_c_does_not_cut_the_rig_s_stop_short():
    rig = _RigInterruptedWhileStopping()
    before = signal.getsignal(signal.SIGINT)

    stop_shielded(rig)

    assert rig.stopped
    assert signal.getsignal(signal.SIGINT) is before, "Ctrl-C works again once the rig is stopped"
