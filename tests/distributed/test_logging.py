"""One log for assume -p: workers' records reach the manager's handlers, named by process."""

import re


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
