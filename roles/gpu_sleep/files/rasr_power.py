"""rasr-power: the forced command of the edge's key on a GPU worker (gpu_sleep's ssh backend).

The edge's rasr-gpu-sleep may ask three things over SSH, nothing else:
  status  {"service": <systemctl is-active>, "held": <hold file exists>, "streams": <open connections>}
  stop    stop the WhisperLive service, unless a client is connected to it
  start   start it, unless the operator holds it stopped (playbook 210 wrote the hold file)
Answers are one line of JSON; a refusal is {"refused": "<why>"}. The two
systemctl calls run through sudo rules that allow exactly them.
"""

import argparse
import json
import os
import subprocess
import sys


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def streams(port):
    """Established TCP connections on the service's port (ss from iproute2)."""
    proc = run(["ss", "-H", "-t", "-n", "state", "established", "( sport = :%d )" % port])
    return len([line for line in proc.stdout.splitlines() if line.strip()])


def status(args):
    service = run(["systemctl", "is-active", args.service]).stdout.strip() or "unknown"
    return {"service": service, "held": os.path.exists(args.hold_file), "streams": streams(args.port)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hold-file", required=True)
    args = parser.parse_args(argv)
    verb = os.environ.get("SSH_ORIGINAL_COMMAND", "").strip()
    if verb == "status":
        answer = status(args)
    elif verb == "stop":
        now = status(args)
        if now["streams"]:
            answer = {"refused": "%d client(s) connected to port %d" % (now["streams"], args.port)}
        else:
            proc = run(["sudo", "-n", "/usr/bin/systemctl", "stop", args.service])
            answer = {"refused": proc.stderr.strip()} if proc.returncode else status(args)
    elif verb == "start":
        if os.path.exists(args.hold_file):
            answer = {"refused": "held by the operator (playbook 210); playbook 220 releases it"}
        else:
            proc = run(["sudo", "-n", "/usr/bin/systemctl", "start", "--no-block", args.service])
            answer = {"refused": proc.stderr.strip()} if proc.returncode else status(args)
    else:
        print(json.dumps({"refused": "unknown request %r: status, stop or start" % verb}))
        return 2
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
