# Prints "HIT NAME" each time the main thread enters one of the functions
# named in $HANDSTAMP_WALK (one per line, without the `handstamp::`), for
# tests/debugging.rs, which checks lib.rs's login walk against it. A
# Python breakpoint that never stops: gdb's `commands ... continue` can
# miss a breakpoint hit right after another one's.
import os

import gdb

gdb.execute("set pagination off")
gdb.execute("set confirm off")


class Announce(gdb.Breakpoint):
    def __init__(self, name):
        super().__init__("handstamp::" + name, internal=True)
        self.name = name

    def stop(self):
        if gdb.selected_thread().num == 1:
            print("HIT " + self.name, flush=True)
        return False


for name in os.environ["HANDSTAMP_WALK"].split("\n"):
    if name:
        Announce(name)
gdb.execute("run")
