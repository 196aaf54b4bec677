"""A Spark standalone cluster on loopback for the tests: a master and two workers, each its own JVM
process started with pyspark's own spark-class, every socket bound to 127.0.0.1 (SPARK_LOCAL_IP)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Standalone:
    master: str  # spark://127.0.0.1:PORT
    processes: list[subprocess.Popen]
    ui: int  # the master's web UI port (its JSON says which workers are alive)

    def workers(self) -> list[dict]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui}/json/", timeout=5) as answer:
            return [w for w in json.load(answer)["workers"] if w["state"] == "ALIVE"]

    def listening(self) -> set[str]:
        """The local addresses the cluster's processes (and their children) listen on, from ss."""
        pids = {str(p.pid) for p in self.processes}
        out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
        return {line.split()[3].rsplit(":", 1)[0] for line in out.splitlines()
                if any(f"pid={pid}," in line for pid in pids)}

    def stop(self) -> None:
        for p in self.processes:
            p.terminate()
        for p in self.processes:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def start(spark_home: Path, logs: Path, workers: int = 2, timeout: float = 90) -> Standalone:
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_HOME": str(spark_home), "SPARK_NO_DAEMONIZE": "1"}
    port, ui = _free_port(), _free_port()
    spark_class = str(spark_home / "bin" / "spark-class")
    logs.mkdir(parents=True, exist_ok=True)
    processes = [subprocess.Popen([spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                   "--port", str(port), "--webui-port", str(ui)], env=env,
                                  stdout=open(logs / "master.log", "w"), stderr=subprocess.STDOUT)]
    cluster = Standalone(f"spark://127.0.0.1:{port}", processes, ui)
    try:
        for i in range(workers):
            processes.append(subprocess.Popen(
                [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", "1",
                 "--memory", "2g", "--webui-port", str(_free_port()), "--work-dir", str(logs / f"work-{i}"),
                 cluster.master], env=env, stdout=open(logs / f"worker-{i}.log", "w"), stderr=subprocess.STDOUT))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if len(cluster.workers()) == workers:
                    return cluster
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the standalone cluster did not come up in {timeout} s: see {logs}")
    except BaseException:
        cluster.stop()
        raise
