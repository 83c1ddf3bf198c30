# Records every handstamp function the main thread enters, with the crate
# frames under it, for tests/debugging.rs: it counts the files a login
# walks through, and the returns into a file already left.
#   rust-gdb -q -batch -x tests/gdb/walk.py --args target/debug/handstamp ...
# Each stop appends one line to $HANDSTAMP_WALK_OUT:
#   function|file;function|file;...   (outermost crate frame first)
import os
import re

import gdb

OUT = os.environ["HANDSTAMP_WALK_OUT"]
gdb.execute("set pagination off")
gdb.execute("set confirm off")


class Entered(gdb.Breakpoint):
    def stop(self):
        if gdb.selected_thread().num != 1:
            return False  # the log and sweeper threads are not the walk
        frames = []
        frame = gdb.newest_frame()
        while frame is not None:
            name = frame.name() or ""
            symtab = frame.find_sal().symtab
            if name.startswith("handstamp::") and symtab is not None:
                filename = symtab.filename
                if "/src/" in filename:
                    filename = "src/" + filename.split("/src/", 1)[1]
                frames.append(name + "|" + filename)
            frame = frame.older()
        with open(OUT, "a") as out:
            out.write(";".join(reversed(frames)) + "\n")
        return False


functions = gdb.execute("info functions ^handstamp::", to_string=True)
seen = set()
for line in functions.splitlines():
    match = re.match(r"^\d+:\s+(?:static )?fn (handstamp::[^(<]+)", line.strip())
    if match is None:
        continue
    name = match.group(1)
    if "{closure" in name or name in seen or name == "handstamp::main":
        continue
    seen.add(name)
    Entered(name, internal=True)
gdb.execute("run")
