"""Real Apache Kafka for the test suite.

Owns getting a broker: the one named by ``LEDGER_TEST_KAFKA_BOOTSTRAP``, else a
throw-away single-node KRaft broker (combined broker + controller) started here
from Kafka's jars, which Maven downloads once into a cache directory
(``$XDG_CACHE_HOME`` or ``~/.cache``, then ``ledger-test/kafka-<version>/libs``).
Needs Java 17+, and Maven the first time only. The started broker can be stopped
and started again on the same ports and data, so tests can cut it off mid-stream.

Broker settings worth knowing: ``auto.create.topics.enable=false`` (topics are
created explicitly with :func:`create_topic`, so a misspelt topic fails instead of
silently becoming a new 3-partition topic), ``num.partitions=3``, replication
factor 1 everywhere, ``group.initial.rebalance.delay.ms=0``.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import hashlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError

from tests.support.processes import free_ports, run_tool

BOOTSTRAP_ENV = "LEDGER_TEST_KAFKA_BOOTSTRAP"
KAFKA_VERSION = "4.3.1"  # 4.4.0's POMs are on Central but its kafka-tools-api jar is not (yet)
SCALA_VERSION = "2.13"
_SUPPORT = Path(__file__).resolve().parent / "kafka"
POM = _SUPPORT / "pom.xml"
LOG4J2_CONFIG = _SUPPORT / "log4j2.xml"
_JVM_OPTS = ("-Xms128m", "-Xmx512m", "-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError",
             "-Djava.awt.headless=true")
_SETTINGS = {
    "process.roles": "broker,controller",
    "node.id": "1",
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "auto.create.topics.enable": "false",
    "num.partitions": "3",
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "5",  # 50 by default: slow first consumer group
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "5",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
}


class KafkaServerError(RuntimeError):
    """Kafka could not be downloaded, started or reached (or Java/Maven are missing)."""


def _run(cmd: Sequence[str], timeout: float = 120, **kwargs: Any) -> str:
    return run_tool(cmd, KafkaServerError, timeout, **kwargs)


def find_java() -> str:
    """Path of a Java 17+ ``java`` ($JAVA_HOME first, then PATH), else raise KafkaServerError."""
    candidates = []
    if java_home := os.environ.get("JAVA_HOME"):
        candidates.append(os.path.join(java_home, "bin", "java"))
    if on_path := shutil.which("java"):
        candidates.append(on_path)
    java = next((c for c in candidates if os.access(c, os.X_OK)), None)
    if java is None:
        raise KafkaServerError(
            f"Java (17+) not found: needed to run the test Kafka broker; install a JDK/JRE "
            f"or set {BOOTSTRAP_ENV} to use an existing broker"
        )
    out = _run([java, "-version"], timeout=60)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    major = int(match.group(1)) if match else 0
    if major == 1 and match and match.group(2):  # "1.8.0_392"
        major = int(match.group(2))
    if major < 17:
        raise KafkaServerError(f"Kafka {KAFKA_VERSION} needs Java 17+, {java} is:\n{out.strip()}")
    return java


def cache_root() -> Path:
    """Directory kept between runs for downloaded test dependencies."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ledger-test"


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()[:16]


def kafka_libs(version: str = KAFKA_VERSION) -> Path:
    """Directory of Kafka's jars (plus Log4j 2), downloaded with Maven unless already cached."""
    libs = cache_root() / f"kafka-{version}" / "libs"
    stamp_name, digest = ".complete", _pom_digest()  # re-download when the pom changes
    with contextlib.suppress(OSError):
        if (libs / stamp_name).read_text().strip() == digest:
            return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaServerError(
            f"Maven (mvn) not found: needed once to download Kafka {version}'s jars into {libs}; "
            f"install Maven, or set {BOOTSTRAP_ENV} to use an existing broker"
        )
    libs.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="libs-", dir=libs.parent))
    try:
        _run([mvn, "-B", "-q", "-Dstyle.color=never", "-f", str(POM), "dependency:copy-dependencies",
              f"-Dkafka.version={version}", f"-Dkafka.libs={staging}"], timeout=1200)
        if not (staging / f"kafka_{SCALA_VERSION}-{version}.jar").is_file():
            raise KafkaServerError(f"mvn succeeded but left no kafka_{SCALA_VERSION}-{version}.jar in {staging}")
        (staging / stamp_name).write_text(digest + "\n")
        shutil.rmtree(libs, ignore_errors=True)  # a stale or partial copy
        try:
            os.rename(staging, libs)
        except OSError:  # another process got there first: fine if its copy is complete
            if (libs / stamp_name).read_text().strip() != digest:
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return libs


def new_cluster_id() -> str:
    """A KRaft cluster id: URL-safe base64 of 16 random bytes, unpadded (22 characters; may start with "-", so
    it is passed as `--cluster-id=ID`, never as a separate argument)."""
    return base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")


def _admin(bootstrap: str, timeout_ms: int = 10_000) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=bootstrap, client_id="ledger-test-harness",
                            request_timeout_ms=timeout_ms, bootstrap_timeout_ms=timeout_ms)


def wait_until_ready(bootstrap: str, timeout: float = 60, process: subprocess.Popen | None = None) -> None:
    """Wait until the broker at ``bootstrap`` lists topics (while ``process`` runs), else raise KafkaServerError."""
    deadline = time.monotonic() + timeout
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    if not host or not port.isdigit():
        raise KafkaServerError(f"Kafka bootstrap {bootstrap!r} is not host:port[,host:port...]")
    while True:
        try:
            # A plain connect first: kafka-python logs each failed bootstrap at ERROR.
            socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
            admin = _admin(bootstrap, timeout_ms=5_000)
            try:
                admin.list_topics()
                return
            finally:
                admin.close()
        except (KafkaError, OSError) as exc:
            if process is not None and process.poll() is not None:
                raise KafkaServerError(f"kafka exited with {process.returncode}") from exc
            if time.monotonic() > deadline:
                raise KafkaServerError(f"Kafka at {bootstrap} not reachable: {exc!r}") from exc
            time.sleep(0.3)


def create_topic(bootstrap: str, name: str, partitions: int = 3, *,
                 config: Mapping[str, str] | None = None, timeout: float = 30) -> None:
    """Create topic ``name`` (replication factor 1); return once its partitions all have a leader."""
    admin = _admin(bootstrap)
    try:
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1,
                                      topic_configs=dict(config or {}))],
                            timeout_ms=int(timeout * 1000))
        deadline = time.monotonic() + timeout
        while True:
            (described,) = admin.describe_topics([name])
            parts = described.get("partitions") or []
            if (described.get("error_code", 0) == 0 and len(parts) == partitions
                    and all(p.get("leader_id", -1) >= 0 for p in parts)):
                return
            if time.monotonic() > deadline:
                raise KafkaServerError(f"topic {name!r} not ready after {timeout}s: {described}")
            time.sleep(0.1)
    finally:
        admin.close()


def partition_count(bootstrap: str, name: str) -> int:
    """Number of partitions of existing topic ``name``."""
    admin = _admin(bootstrap)
    try:
        (described,) = admin.describe_topics([name])
    finally:
        admin.close()
    if described.get("error_code", 0) != 0:
        raise KafkaServerError(f"describe {name!r} failed: {described}")
    return len(described["partitions"])


class KafkaServer:
    """A throw-away single-node KRaft Kafka broker in a temp dir; ``bootstrap`` once started.

    ``stop()`` then ``start()`` restarts it on the same ports with the same data;
    ``close()`` (also at session end / interpreter exit) stops it and deletes its files.
    """

    def __init__(self, version: str = KAFKA_VERSION) -> None:
        self.version = version
        self.bootstrap = ""
        self._tmp: Path | None = None
        self._java = ""
        self._libs: Path | None = None
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> KafkaServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def create_topic(self, name: str, partitions: int = 3, **kwargs: Any) -> None:
        """Create topic ``name`` on this broker (see :func:`create_topic`)."""
        create_topic(self.bootstrap, name, partitions, **kwargs)

    def start(self) -> None:
        """Start the broker: the first time on new ports and storage, after ``stop()`` on the same ones."""
        if self.running:
            return
        if self._tmp is not None:  # restart
            try:
                self._launch()
            except BaseException:
                self.stop()
                raise
            return
        self._java, self._libs = find_java(), kafka_libs(self.version)
        self._tmp = Path(tempfile.mkdtemp(prefix="ledger-kafka-"))
        atexit.register(self.close)
        try:
            self._first_start()
        except BaseException:
            self.close()
            raise

    def _first_start(self) -> None:
        assert self._tmp is not None
        for attempt in range(3):  # a free port may be taken before the broker binds it
            port, controller_port = free_ports(2)
            self._write_config(port, controller_port)
            shutil.rmtree(self._tmp / "data", ignore_errors=True)
            _run([self._java, *_JVM_OPTS, f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
                  f"-Dkafka.logs.dir={self._tmp}", "-cp", f"{self._libs}/*", "kafka.tools.StorageTool",
                  "format", "--standalone", f"--cluster-id={new_cluster_id()}", "-c", str(self._properties)],
                 timeout=120, cwd=self._tmp)
            self.bootstrap = f"127.0.0.1:{port}"
            try:
                self._launch()
                return
            except KafkaServerError as exc:
                if attempt == 2 or "Address already in use" not in str(exc):
                    raise

    @property
    def _properties(self) -> Path:
        assert self._tmp is not None
        return self._tmp / "server.properties"

    def _write_config(self, port: int, controller_port: int) -> None:
        assert self._tmp is not None
        settings = {
            **_SETTINGS,
            "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller_port}",
            "log.dirs": str(self._tmp / "data"),
        }
        self._properties.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))

    def _launch(self) -> None:
        """Start the broker process on the written config and wait until it answers."""
        assert self._tmp is not None
        with open(self._tmp / "kafka.out", "ab") as out:  # JVM stdout/stderr; server.log has WARN+
            self._proc = subprocess.Popen(
                [self._java, *_JVM_OPTS, f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
                 f"-Dkafka.logs.dir={self._tmp}", "-cp", f"{self._libs}/*", "kafka.Kafka",
                 str(self._properties)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self._tmp, start_new_session=True,  # Ctrl-C reaches pytest, not the broker
            )
        try:
            wait_until_ready(self.bootstrap, timeout=90, process=self._proc)
        except KafkaServerError as exc:
            self._kill()
            raise KafkaServerError(f"{exc}\n{self.log_tail()}") from exc

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the broker's log files (for error messages)."""
        if self._tmp is None:
            return ""
        parts = []
        for name in ("kafka.out", "server.log"):
            with contextlib.suppress(OSError):
                if text := (self._tmp / name).read_text(errors="replace").strip():
                    parts.append(f"--- {name} ---\n{text[-chars:]}")
        return "\n".join(parts) or "(the broker logged nothing)"

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def stop(self, timeout: float = 60) -> None:
        """Stop the broker process (SIGTERM, SIGKILL after ``timeout`` s); ports and data stay for ``start()``."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """kill -9 the broker process (a crash); ports and data stay for ``start()``."""
        self._kill()

    def close(self) -> None:
        """Stop the broker and delete its files."""
        atexit.unregister(self.close)
        try:
            self.stop()
        finally:
            tmp, self._tmp, self.bootstrap = self._tmp, None, ""
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def kafka_broker() -> Iterator[tuple[str, KafkaServer | None]]:
    """Yield ``(bootstrap, server)``: ``$LEDGER_TEST_KAFKA_BOOTSTRAP`` and None if set, else a started broker."""
    if bootstrap := os.environ.get(BOOTSTRAP_ENV, "").strip():
        wait_until_ready(bootstrap, timeout=30)
        yield bootstrap, None
        return
    with KafkaServer() as server:
        yield server.bootstrap, server
