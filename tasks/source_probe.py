"""Look at one source folder and print what was found as JSON: run in a child process, so a hung mount
(a Samba server that stopped answering) blocks only the child, which the parent abandons after its timeout.

Only the standard library is used: the parent runs this file with `python -I`.
"""

import json
import os
import sys


def probe(path: str) -> dict:
    try:
        if not os.path.lexists(path):
            return {"state": "missing"}
        if not os.path.isdir(path):
            return {"state": "not_a_folder"}
        with os.scandir(path) as entries:
            has_entries = next(entries, None) is not None
    except OSError as error:
        return {"state": "unreadable", "error": error.strerror or str(error)}
    if not has_entries:
        return {"state": "empty", "mount_point": os.path.ismount(path)}
    return {"state": "ok", "mount_point": os.path.ismount(path)}


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1])))
