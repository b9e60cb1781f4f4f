"""A real Redis Cluster for tests: three masters, each with one replica, started on 127.0.0.1
from Debian's redis-server in cluster mode (own ports, own temp folders), stopped afterwards."""

from __future__ import annotations

import contextlib
import random
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis

from tools.ports import port_is_free

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


def lone_redis(folder: Path, *, aof: bool) -> Node:
    """A started standalone redis-server on a free port."""
    node = Node(_ports(1)[0], folder, aof, cluster=False)
    node.start()
    return node


def _ports(count: int) -> list[int]:
    """Ports whose cluster bus port (+10000) is free as well, both below Linux's ephemeral
    range (32768–60999): no client socket of a busy machine takes one between check and bind."""
    found: list[int] = []
    while len(found) < count:
        port = random.randrange(12000, 22000)
        if port not in found and port_is_free(port) and port_is_free(port + 10000):
            found.append(port)
    return found


@dataclass
class Node:
    """One redis-server of the test's own (a cluster node, or with `cluster=False` a lone
    Redis that a test may kill and restart on the same folder)."""

    port: int
    folder: Path
    aof: bool
    process: subprocess.Popen[bytes] | None = None
    cluster: bool = True

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        args = [
            REDIS_SERVER,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.folder),
            "--save", "",
            "--appendonly", "yes" if self.aof else "no",
            "--appendfsync", "always",
            "--logfile", "redis.log",
        ]  # fmt: skip
        if self.cluster:
            args += [
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "3000",
                "--repl-diskless-sync-delay", "0",
                "--cluster-replica-validity-factor", "0",
            ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not self.answers():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server :{self.port} did not start ({self.folder})")
            time.sleep(0.05)

    def answers(self) -> bool:
        with contextlib.suppress(Exception), self.client() as client:
            return bool(client.ping())
        return False

    def client(self) -> Redis:
        return Redis(port=self.port, socket_timeout=2, decode_responses=True)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class RedisCluster:
    folder: Path
    aof: bool = False
    nodes: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    def start(self) -> None:
        self.nodes = [Node(p, self.folder / str(p), self.aof) for p in _ports(6)]
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
        subprocess.run(
            [
                REDIS_CLI,
                "--cluster",
                "create",
                *addresses,
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
        )
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 30.0, *, replicas: bool = True) -> None:
        """Every live node says cluster_state:ok, three masters serve all 16384 slots and (with
        `replicas`) every node's replication link is up."""
        deadline = time.monotonic() + timeout
        while True:
            if self._healthy(replicas):
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the Redis Cluster did not become healthy")
            time.sleep(0.1)

    def _healthy(self, replicas: bool) -> bool:
        for node in self.nodes:
            if node.process is None or node.process.poll() is not None:
                continue
            try:
                with node.client() as client:
                    info = client.execute_command("CLUSTER", "INFO")
                    masters = self.masters_seen_by(client)
                    replication = client.info("replication")
            except Exception:
                return False
            if "cluster_state:ok" not in str(info) or len(masters) != 3:
                return False
            linked = (
                replication.get("connected_slaves", 0) >= 1
                or replication.get("master_link_status") == "up"
            )
            if replicas and not linked:
                return False
        return True

    @staticmethod
    def masters_seen_by(client: Redis) -> list[str]:
        lines = str(client.execute_command("CLUSTER", "NODES")).splitlines()
        return [
            line.split()[1].split("@")[0]
            for line in lines
            if "master" in line.split()[2]
            and "fail" not in line.split()[2]
            and len(line.split()) > 8
        ]

    def master_of(self, slot: int) -> Node:
        with self.nodes[0].client() as client:
            for start, end, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
                if start <= slot <= end:
                    return self._node(int(master[1]))
        raise LookupError(slot)

    def replica_of(self, master: Node) -> Node:
        """The node whose own ROLE names `master` as its master, its link up."""
        for node in self.nodes:
            if node is master or not node.answers():
                continue
            with node.client() as client:
                role = client.execute_command("ROLE")
            if role[0] == "slave" and int(role[2]) == master.port and role[3] == "connected":
                return node
        raise LookupError(f"no replica of :{master.port}")

    def failover(self, master: Node) -> Node:
        """A manual failover: the replica takes over the master's slots (CLUSTER FAILOVER),
        the old master becomes its replica. Redis aborts a manual failover that does not finish
        within 5 s (a loaded machine), so it is asked again, and at last FORCEd. Returns the new
        master."""
        replica = self.replica_of(master)
        for option in ((), (), ("FORCE",)):
            with replica.client() as client:
                client.execute_command("CLUSTER", "FAILOVER", *option)
            deadline = time.monotonic() + 12
            while time.monotonic() < deadline:
                with replica.client() as client:
                    if str(client.execute_command("ROLE")[0]) == "master":
                        self.wait_healthy()
                        return replica
                time.sleep(0.05)
        raise TimeoutError("failover did not happen")

    def _node(self, port: int) -> Node:
        return next(n for n in self.nodes if n.port == port)

    def start_moving(self, slot: int) -> SlotMove:
        """Begin migrating `slot` from its master to another master, the way `redis-cli
        --cluster reshard` does: IMPORTING on the target, MIGRATING on the source."""
        source = self.master_of(slot)
        target = next(
            self.master_of(s) for s in (0, 8000, 16000) if self.master_of(s) is not source
        )
        move = SlotMove(self, slot, source, target)
        move.dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", move.source_id)
        move.src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", move.target_id)
        return move

    def purge(self, prefix: str) -> None:
        for node in self.nodes:
            if not node.answers():
                continue
            with node.client() as client:
                if str(client.execute_command("ROLE")[0]) != "master":
                    continue
                keys = list(client.scan_iter(match=f"{prefix}*", count=500))
                for key in keys:
                    client.delete(key)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


class SlotMove:
    """A slot being migrated: `migrate` moves some of its keys now, `finish` the rest, then
    gives the slot to the target (SETSLOT NODE on both)."""

    def __init__(self, cluster: RedisCluster, slot: int, source: Node, target: Node) -> None:
        self.cluster, self.slot, self.source, self.target = cluster, slot, source, target
        self.src, self.dst = source.client(), target.client()
        self.source_id = self.src.execute_command("CLUSTER", "MYID")
        self.target_id = self.dst.execute_command("CLUSTER", "MYID")

    def migrate(self, keys: list[str]) -> None:
        self.src.execute_command(
            "MIGRATE", "127.0.0.1", self.target.port, "", 0, 5000, "KEYS", *keys
        )

    def finish(self) -> None:
        while keys := self.src.execute_command("CLUSTER", "GETKEYSINSLOT", self.slot, 100):
            self.migrate(keys)
        for client in (self.dst, self.src):
            client.execute_command("CLUSTER", "SETSLOT", self.slot, "NODE", self.target_id)
        self.src.close()
        self.dst.close()
        self.cluster.wait_healthy()
