"""MQTT runs through a broker that restarts, stays away, asks for a password or speaks TLS
(real processes and a mosquitto of our own), and the links' bookkeeping on its own."""

from __future__ import annotations

import csv
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assume.cli import main
from assume.distributed.mqtt import Arrival, Channel
from assume.distributed.settings import DistributedSettings
from assume.errors import ConfigurationError

MOSQUITTO = shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto")
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd")
OPENSSL = shutil.which("openssl")
COMMAND = [sys.executable, "-m", "assume", "--no-progress"]
LOST = "lost the connection to the MQTT broker at"
ROOT = Path(__file__).resolve().parents[2]


# --- the links' bookkeeping, without a broker -----------------------------------------


class Side:
    """One container's channel with the other, and the messages its agents received."""

    def __init__(self, session: str):
        self.session = session
        self.channel = Channel()
        self.delivered: list[int] = []

    def send(self) -> tuple:
        # as on the wire: the fields are written once, when the message is first sent
        seq = self.channel.sent + 1
        frame = (self.session, seq, self.channel.received)
        self.channel.keep(frame)
        return frame

    def receive(self, frame: tuple) -> bool:
        """Take a frame; True if this side asks the other to resend (it saw a gap)."""
        session, seq, ack = frame
        assert self.channel.meet(session)
        self.channel.acknowledge(ack)
        arrival = self.channel.accept(seq)
        if arrival is Arrival.NEXT:
            self.delivered.append(seq)
        return arrival is Arrival.EARLY and self.channel.resend_wanted()


def through_broker(frames: list, receiver: Side, data) -> bool:
    """Each frame lost, delivered once or twice, and maybe all of them out of order; True if
    the receiver asked for a resend."""
    wire = [f for f in frames for _ in range(data.draw(st.sampled_from([0, 1, 1, 2])))]
    if data.draw(st.booleans()):
        wire = data.draw(st.permutations(wire))
    asked = [receiver.receive(frame) for frame in wire]
    return any(asked)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.data())
def test_links_deliver_exactly_once_and_in_order_whatever_the_broker_does(data):
    sides = Side("a"), Side("b")
    for _ in range(data.draw(st.integers(1, 6))):
        for sender, receiver in (sides, sides[::-1]):
            frames = [sender.send() for _ in range(data.draw(st.integers(0, 4)))]
            if through_broker(frames, receiver, data):
                # a Resume: the sender resends what is not acknowledged, as lossy as before
                through_broker(sender.channel.unacknowledged(), receiver, data)
    # the broker loses nothing again: after a reconnection each side resends what it keeps
    for sender, receiver in (sides, sides[::-1]):
        for frame in sender.channel.unacknowledged():
            receiver.receive(frame)
    a, b = sides
    assert b.delivered == list(range(1, a.channel.sent + 1))
    assert a.delivered == list(range(1, b.channel.sent + 1))
    # the acknowledgements in the next messages free everything delivered
    b.receive(a.send())
    a.receive(b.send())
    assert a.channel.unacknowledged() == []
    assert b.channel.unacknowledged() == [("b", b.channel.sent, a.channel.sent)]


def test_a_restarted_peer_starts_its_link_afresh():
    channel = Channel()
    assert channel.meet("first")
    channel.keep(b"1")
    assert channel.accept(1) is Arrival.NEXT and channel.accept(3) is Arrival.EARLY
    assert channel.resend_wanted() and not channel.resend_wanted()
    assert channel.meet("second")
    assert (channel.sent, channel.received, channel.unacknowledged()) == (0, 0, [])
    assert channel.accept(1) is Arrival.NEXT and channel.accept(1) is Arrival.DUPLICATE
    assert not channel.meet("first")  # a late message of the previous session


# --- real runs through a real broker ---------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Broker:
    """A mosquitto of our own on a free port of 127.0.0.1, which a test can stop and start
    again on the same port. Persistence is off: whatever it held is gone after a restart."""

    def __init__(self, folder: Path, settings: str):
        folder.mkdir()
        self.folder = folder
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        # as root, mosquitto would drop to a user that cannot read our key and password files
        user = "user root\n" if os.geteuid() == 0 else ""
        self.config = folder / "mosquitto.conf"
        # otherwise mosquitto's defaults (no set_tcp_nodelay), as most brokers run
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\npersistence false\n{user}{settings}"
        )
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.folder / "mosquitto.log", "ab") as log:
            self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stderr=log)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                log = (self.folder / "mosquitto.log").read_text()[-500:]
                assert self.process.poll() is None, f"mosquitto did not start: {log}"
                assert time.monotonic() < deadline, f"mosquitto did not listen: {log}"
                time.sleep(0.05)  # poll: waiting for the broker's socket to accept

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def broker(tmp_path):
    """Start a mosquitto with extra configuration lines; all are stopped after the test."""
    if MOSQUITTO is None:
        pytest.skip("the mosquitto binary is not installed (apt-get install mosquitto)")
    brokers: list[Broker] = []

    def start(settings: str = "allow_anonymous true\n") -> Broker:
        mosquitto = Broker(tmp_path / f"broker_{len(brokers)}", settings)
        brokers.append(mosquitto)
        mosquitto.start()
        return mosquitto

    yield start
    for mosquitto in brokers:
        mosquitto.stop()


@pytest.fixture(scope="module")
def single(multi_market, tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    assert main(["-s", "multi", "-i", str(multi_market), "-csv", str(out), "-l", "WARNING"]) == 0
    return out / "multi_multi"


class Run:
    """``assume`` in a new process, whose log lines are read as they come."""

    def __init__(self, *args: str, env: dict | None = None):
        self.process = subprocess.Popen(
            [*COMMAND, *args], stderr=subprocess.PIPE, text=True, env=env
        )
        self.lines: queue.Queue = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str, count: int = 1, timeout: float = 30) -> None:
        """Wait until ``count`` log lines (since the start) contain ``text``."""
        deadline = time.monotonic() + timeout
        while sum(text in line for line in self.log) < count:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no {text!r} within {timeout:g} s:\n{''.join(self.log)}")
            assert line is not None, f"the run ended before {text!r}:\n{''.join(self.log)}"
            self.log.append(line)

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        """The exit code and the whole log."""
        self.process.wait(timeout)
        while (line := self.lines.get(timeout=10)) is not None:
            self.log.append(line)
        return self.process.returncode, "".join(self.log)


def wait_for_file(path: Path, run: Run, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert run.process.poll() is None, "the run ended early"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.02)  # poll: an outside observer waiting for the first results on disk


def rows(path: Path) -> int:
    with open(path, newline="") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def parallel(multi_market, out: Path, broker: str, *extra: str, env=None, level="INFO") -> Run:
    return Run(
        "-l", level, "-s", "multi", "-i", str(multi_market), "-p", "--workers", "2",
        "--mqtt", broker, "-csv", str(out), *extra, env=env,
    )  # fmt: skip


def test_a_broker_restart_mid_run_changes_no_result(
    multi_market, single, broker, tmp_path, identical
):
    mosquitto = broker()
    run = parallel(multi_market, tmp_path, mosquitto.address, "--peer-timeout", "15")
    wait_for_file(tmp_path / "multi_multi" / "market_meta.csv", run)
    mosquitto.stop()
    # the manager and both workers noticed (the run is still under way): then back
    run.wait_for(f"{LOST} {mosquitto.address}", count=3)
    mosquitto.start()
    code, log = run.finish()
    assert code == 0, log
    back = [line for line in log.splitlines() if "reconnected to the MQTT broker" in line]
    assert len(back) == 3 and all(mosquitto.address in line for line in back), log
    # messages sent while the broker was away, or lost with it, were sent again
    assert any("resending 0 " not in line for line in back), log
    assert "lost" not in log.replace(LOST, ""), log
    identical(single, tmp_path / "multi_multi")


def test_a_broker_away_longer_than_the_peer_timeout_stops_the_run(multi_market, broker, tmp_path):
    mosquitto = broker()
    run = parallel(multi_market, tmp_path, mosquitto.address, "--peer-timeout", "3")
    meta = tmp_path / "multi_multi" / "market_meta.csv"
    wait_for_file(meta, run)
    mosquitto.stop()
    began = time.monotonic()
    code, log = run.finish()
    assert code == 1, log
    assert time.monotonic() - began < 15
    assert f"{LOST} {mosquitto.address}" in log
    errors = [line for line in log.splitlines() if line.startswith("assume: error:")]
    assert len(errors) == 3, log
    # -p names its run: assume_<run>_manager
    heard = re.compile(r"the manager at assume_[0-9a-f]{6}_manager has not been heard for 3 s")
    workers = [e for e in errors if heard.search(e)]
    assert len(workers) == 2, log
    assert "worker" in (set(errors) - set(workers)).pop()
    assert rows(meta) >= 24  # the first day, flushed before the broker went away


@pytest.fixture
def password_broker(broker, tmp_path):
    """A mosquitto that lets in user ``assume`` with password ``s3cret`` only."""
    if MOSQUITTO_PASSWD is None:
        pytest.skip("mosquitto_passwd is not installed (apt-get install mosquitto)")
    passwords = tmp_path / "passwords"
    subprocess.run(
        [MOSQUITTO_PASSWD, "-b", "-c", str(passwords), "assume", "s3cret"],
        check=True,
        capture_output=True,
    )
    return broker(f"allow_anonymous false\npassword_file {passwords}\n")


def test_the_right_broker_login_reaches_every_worker(
    multi_market, single, password_broker, tmp_path, identical
):
    # the user name from the environment; the password from the command line, which -p
    # hands to its workers through their environment
    env = {**os.environ, "MQTT_USERNAME": "assume"}
    run = parallel(
        multi_market, tmp_path, password_broker.address, "--mqtt-password", "s3cret",
        env=env, level="WARNING",
    )  # fmt: skip
    code, log = run.finish()
    assert code == 0, log
    identical(single, tmp_path / "multi_multi")


def test_a_wrong_broker_password_is_one_clear_error(multi_market, password_broker, tmp_path):
    run = parallel(
        multi_market, tmp_path, password_broker.address,
        "--mqtt-username", "assume", "--mqtt-password", "guess", level="WARNING",
    )  # fmt: skip
    began = time.monotonic()
    code, log = run.finish()
    assert time.monotonic() - began < 10
    assert code == 2
    assert log.count("\n") == 1 and log.startswith("assume: error: "), log
    assert f"the MQTT broker at {password_broker.address} refused the login" in log
    assert "not authori" in log.lower() or "bad user name or password" in log.lower()


def make_certificates(folder: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and localhost, and a client certificate."""

    def openssl(*args: str) -> None:
        subprocess.run([OPENSSL, *args], cwd=folder, check=True, capture_output=True)

    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl(
        "req", "-x509", *key, "-days", "1", "-subj", "/CN=assume test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout", "ca.key", "-out", "ca.crt",
    )  # fmt: skip
    (folder / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    (folder / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, subject in (("server", "/CN=127.0.0.1"), ("client", "/CN=assume")):
        openssl("req", *key, "-subj", subject, "-keyout", f"{name}.key", "-out", f"{name}.csr")
        openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "1", "-extfile", f"{name}.ext", "-out", f"{name}.crt",
        )  # fmt: skip


def test_tls_with_our_own_ca_and_a_client_certificate(
    multi_market, single, broker, tmp_path, identical
):
    if OPENSSL is None:
        pytest.skip("openssl is not installed (apt-get install openssl)")
    certificates = tmp_path / "certificates"
    certificates.mkdir()
    make_certificates(certificates)
    files = {"cafile": "ca.crt", "certfile": "server.crt", "keyfile": "server.key"}
    mosquitto = broker(
        "allow_anonymous true\nrequire_certificate true\n"
        + "".join(f"{option} {certificates / name}\n" for option, name in files.items())
    )
    ca = ["--mqtt-ca", str(certificates / "ca.crt")]
    client = ["--mqtt-cert", str(certificates / "client.crt")]
    client += ["--mqtt-key", str(certificates / "client.key")]
    out = tmp_path / "out"
    # without TLS, without the client certificate (refused in the TLS 1.3 handshake or right
    # after it), or verified with the system's CAs: one line naming the broker and why
    closed = "closed the connection before accepting assume_"
    for login, reasons in (
        ([], (closed,)),
        (ca, (closed, "cannot connect to the MQTT broker")),
        (["--mqtt-tls", *client], ("certificate verify failed",)),
    ):
        code, log = parallel(multi_market, out, mosquitto.address, *login, level="WARNING").finish()
        assert code == 1 and log.startswith("assume: error: ") and log.count("\n") == 1, log
        assert mosquitto.address in log and any(reason in log for reason in reasons), log
    code, log = parallel(multi_market, out, mosquitto.address, *ca, *client).finish()
    assert code == 0, log
    identical(single, out / "multi_multi")


def test_a_refused_worker_restarted_under_the_same_name_joins(broker, tmp_path):
    # the new process has the old one's client id: its link must start afresh
    mosquitto = broker()
    common = [
        "-l", "INFO", "--config", str(ROOT / "config.yaml"), "--workers", "1",
        "--mqtt", mosquitto.address, "--connect-timeout", "30",
    ]  # fmt: skip
    worker = [*common, "--role", "worker", "--worker-index", "0"]
    manager = Run(*common, "--role", "manager", "--token", "s3cret", "-csv", str(tmp_path))
    code, log = Run(*worker, "--token", "guess").finish()
    assert code == 1 and "the manager refused worker 0: wrong or missing token" in log
    code, log = Run(*worker, "--token", "s3cret").finish()
    assert code == 0, log
    code, log = manager.finish()
    assert code == 0, log
    assert "assume_worker_0 restarted: its link starts afresh" in log


def taken_over(log: str, broker: str, client_id: str) -> bool:
    """Whether the log ends with the error of a container that gave up its client id."""
    return (
        re.fullmatch(
            f"assume: error: the MQTT broker at {broker} closed the connection of {client_id} "
            r"(\d+) times in a row within 2 s of connecting: probably another process is "
            r"connected under the same client id \(a second worker with the same "
            "--worker-index, or a second run with the same --run-name on this broker; every "
            r"process of a run needs its own\), else the broker drops this client for something "
            r"it sends \(its log says why\)",
            log.splitlines()[-1],
        )
        is not None
    )


def test_a_worker_started_twice_gives_up_and_the_run_goes_on(
    multi_market, single, broker, tmp_path, identical
):
    # the broker lets one connection per client id in: the newcomer's closes the first
    # worker's, which reconnects and closes the newcomer's, and so on; the newcomer must go
    mosquitto = broker()
    common = [
        "-l", "INFO", "-s", "multi", "-i", str(multi_market), "--workers", "2",
        "--mqtt", mosquitto.address, "--run-name", "twice", "--connect-timeout", "60",
    ]  # fmt: skip
    manager = Run(*common, "--role", "manager", "-csv", str(tmp_path))
    first = Run(*common, "--role", "worker", "--worker-index", "0")
    manager.wait_for("worker 0 joined")
    code, log = Run(*common, "--role", "worker", "--worker-index", "0").finish()
    assert code == 1 and taken_over(log, mosquitto.address, "assume_twice_worker_0"), log
    second = Run(*common, "--role", "worker", "--worker-index", "1")
    for run in (first, second, manager):
        code, log = run.finish(timeout=120)
        assert code == 0, log
    assert "a worker started twice with the same --worker-index?" in log
    identical(single, tmp_path / "multi_multi")


def test_of_two_managers_under_one_run_name_one_gives_up_and_the_other_runs(broker, tmp_path):
    # the same fight between two managers (two runs given the same name on one broker).
    # Neither is in a run yet: the one whose first connection lasted longer holds out
    # longer, but started within half a second of each other either may go. One must, and
    # the other must then run to the end with its worker
    mosquitto = broker()
    common = [
        "--config", str(ROOT / "config.yaml"), "--workers", "1", "--mqtt", mosquitto.address,
        "--run-name", "twice", "--connect-timeout", "60",
    ]  # fmt: skip
    managers = [
        Run("-l", "WARNING", *common, "--role", "manager", "-csv", str(tmp_path / name))
        for name in "ab"
    ]
    try:
        deadline = time.monotonic() + 60
        while all(run.process.poll() is None for run in managers):
            assert time.monotonic() < deadline, "neither manager gave up"
            time.sleep(0.02)  # poll: an outside observer waiting for either process to end
        gone = next(run for run in managers if run.process.poll() is not None)
        code, log = gone.finish()
        assert code == 1 and taken_over(log, mosquitto.address, "assume_twice_manager"), log
        code, log = Run(
            "-l", "WARNING", *common, "--role", "worker", "--worker-index", "0"
        ).finish()
        assert code == 0, log
        (survivor,) = [run for run in managers if run is not gone]
        code, log = survivor.finish()
        assert code == 0, log
    finally:
        for run in managers:
            run.process.terminate()
            run.process.wait(30)


def test_no_broker_at_the_address_is_one_clear_error(multi_market, tmp_path):
    address = f"127.0.0.1:{free_port()}"
    code, log = parallel(multi_market, tmp_path, address, level="WARNING").finish()
    assert code == 1 and log.count("\n") == 1, log
    assert log.startswith(f"assume: error: cannot connect to the MQTT broker at {address}: ")


def test_two_runs_on_one_broker_keep_apart(multi_market, single, broker, tmp_path, identical):
    # each -p run names itself: the same client ids would have made the broker drop one
    # client for the other, over and over, and workers could take the other run's clock
    mosquitto = broker()
    runs = [
        parallel(multi_market, tmp_path / name, mosquitto.address, "--peer-timeout", "10")
        for name in ("first", "second")
    ]
    for run in runs:
        code, log = run.finish(timeout=120)
        assert code == 0, log
        assert LOST not in log, log
    for name in ("first", "second"):
        identical(single, tmp_path / name / "multi_multi")


def test_a_run_name_sets_client_ids_apart():
    named = DistributedSettings(transport="mqtt", run_name="study-7", workers=2)
    assert named.client_id("manager") == named.manager_protocol_addr == "assume_study-7_manager"
    assert named.client_id("worker_1") == "assume_study-7_worker_1"
    plain = DistributedSettings(transport="mqtt")
    assert plain.manager_protocol_addr == "assume_manager"
    with pytest.raises(ConfigurationError, match="run name 'a/b'"):
        DistributedSettings(transport="mqtt", run_name="a/b")
