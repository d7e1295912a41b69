"""One log for assume -p: workers' records reach the manager's handlers, named by process."""

import re
import shutil

import yaml


def test_workers_log_through_the_manager_and_nothing_truncates(multi_market, tmp_path, assume_cli):
    log = tmp_path / "run.log"
    log.write_text("an earlier line\n")
    args = ["-s", "multi", "-i", str(multi_market), "-p", "--workers", "2", "--port", "0"]
    run = assume_cli(*args, "-csv", str(tmp_path / "out"), "--log-file", str(log), "-l", "INFO")
    assert run.returncode == 0, run.stderr
    lines = log.read_text().splitlines()
    assert lines[0] == "an earlier line"
    processes = {m.group(1) for line in lines if (m := re.match(r"\S+ \S+ (\S+) ", line))}
    assert {"MainProcess", "worker-0", "worker-1"} <= processes
    assert any("worker 1 joined with operators" in line for line in lines)
    # the manager's last record, logged just before it exits, is not lost on its way
    assert "simulation multi_multi finished in" in lines[-1]
    assert "simulation multi_multi finished in" in run.stderr


def test_workers_do_not_repeat_the_warnings_of_loading(multi_market, tmp_path, assume_cli):
    # the workers of -p load the manager's files: what those hold is reported once
    inputs = tmp_path / "inputs"
    shutil.copytree(multi_market / "multi", inputs / "multi")
    config = inputs / "multi" / "config.yaml"
    cases = yaml.safe_load(config.read_text())
    cases["multi"]["markets_config"]["EOM"]["price_tick"] = 0.1
    config.write_text(yaml.safe_dump(cases))
    args = ["-s", "multi", "-i", str(inputs), "-p", "--workers", "2", "--port", "0"]
    run = assume_cli(*args, "-csv", str(tmp_path / "out"), "-l", "INFO")
    assert run.returncode == 0, run.stderr
    warned = [line for line in run.stderr.splitlines() if "EOM.price_tick = 0.1" in line]
    assert len(warned) == 1, run.stderr
    assert " MainProcess " in warned[0]
    assert "worker 1 joined with operators" in run.stderr  # the workers did log
